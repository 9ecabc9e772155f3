"""Detector state as bytes: the engine checkpoints it and restores it after a restart.

Learned state includes fitted scikit-learn forests, which scikit-learn itself
persists with pickle; a short header names the format and version so a state
written by an incompatible release fails loudly instead of scoring differently.
States are only ever read back from the engine's own store (never from users):
pickle must not be fed untrusted bytes.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

MAGIC = b"aiops.detect\x00"
VERSION = 1


class StateError(ValueError):
    """State bytes that this version cannot restore."""


def dumps(kind: str, state: Any) -> bytes:
    # pickled after the header in one buffer: ``MAGIC + pickle.dumps(...)`` held a second
    # copy of a state that is tens of MB for hundreds of metric series (checkpoint peak RSS)
    buf = io.BytesIO()
    buf.write(MAGIC)
    pickle.dump((VERSION, kind, state), buf, protocol=pickle.HIGHEST_PROTOCOL)
    return buf.getvalue()


def loads(kind: str, data: bytes) -> Any:
    if not data.startswith(MAGIC):
        raise StateError(f"not an aiops detector state (expected {kind})")
    version, found, state = pickle.loads(memoryview(data)[len(MAGIC):])  # no copy
    if version != VERSION:
        raise StateError(f"detector state version {version}, this release reads {VERSION}")
    if found != kind:
        raise StateError(f"state is for {found!r}, not {kind!r}")
    return state

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


class StateDump:
    """A state pickled straight into a file-like sink when the checkpoint is written.

    The store streams it into its table in parts, so a state of tens of MB (hundreds of
    metric series) never exists whole in memory beside the objects it describes: that
    copy was the checkpoint's peak RSS.
    """

    __slots__ = ("kind", "state")

    def __init__(self, kind: str, state: Any) -> None:
        self.kind, self.state = kind, state

    def write_to(self, file: Any) -> None:
        file.write(MAGIC)
        pickle.dump((VERSION, self.kind, self.state), file, protocol=pickle.HIGHEST_PROTOCOL)

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()   # one buffer: MAGIC + pickle.dumps(...) held a second copy
        self.write_to(buf)
        return buf.getvalue()


def dumps(kind: str, state: Any) -> bytes:
    return StateDump(kind, state).to_bytes()


def loads(kind: str, data: bytes) -> Any:
    if not data.startswith(MAGIC):
        raise StateError(f"not an aiops detector state (expected {kind})")
    version, found, state = pickle.loads(memoryview(data)[len(MAGIC):])  # no copy
    if version != VERSION:
        raise StateError(f"detector state version {version}, this release reads {VERSION}")
    if found != kind:
        raise StateError(f"state is for {found!r}, not {kind!r}")
    return state

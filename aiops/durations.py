"""Durations in configuration: ``"90s"``, ``"30m"``, ``"7d"`` or a number of seconds.

One parser for the detectors and the store (the correlator keeps its own, which answers
in ``timedelta`` and names its section)."""

from __future__ import annotations

import re
from typing import Any

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0,
          "w": 604800.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|m|h|d|w)?\s*$")


def seconds(value: Any, name: str = "duration") -> float:
    """Parse ``"90s"``, ``"30m"``, ``"1h"``, ``"1d"`` or a number of seconds."""
    if isinstance(value, bool):
        raise TypeError(f"{name}: expected a duration like '30m', got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise TypeError(f"{name}: a duration cannot be negative ({value})")
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise TypeError(f"{name}: expected a duration like '90s', '30m', '1h', got {value!r}")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]

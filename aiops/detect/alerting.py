"""Scores -> anomaly episodes -> one alert that fires and later resolves.

An episode opens when a key's score reaches ``high``, must stay at or above
``low`` for ``min_duration`` before it fires (a one-sample blip can be required
to persist), and resolves once the score has stayed below ``low`` for
``resolve_after`` (hysteresis: nearby flags merge into one episode instead of
flapping). A key that stops reporting resolves ``stale_after`` after its last
sample. Every transition is decided from event time (sample times and the
watermark), never the wall clock, and ``ends_at`` is taken from the data, so the
same input gives the same alerts however it is chunked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiops.durations import seconds  # noqa: F401  (re-exported: the detectors' parser)
from aiops.schema import UTC


def to_seconds(ts: datetime) -> float:
    return ts.timestamp()


def to_datetime(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


@dataclass
class Transition:
    """An episode fired or resolved; the detector turns it into an :class:`Alert`."""

    key: Any
    status: str  # "firing" | "resolved"
    starts_at: float
    ends_at: float | None
    score: float  # score at firing / peak score of the episode when resolved
    info: Any  # detector-specific explanation of that score
    decided_at: float = 0.0  # event time the rule decided it (>= starts_at / ends_at)


@dataclass
class _Episode:
    phase: str = "idle"  # idle | pending | firing
    since: float = 0.0  # pending since / fired at
    below_since: float | None = None
    last_ts: float = 0.0
    peak: float = float("-inf")
    peak_info: Any = None


@dataclass
class Episodes:
    """Hysteresis + minimum duration over per-key score streams."""

    min_duration: float = 0.0
    resolve_after: float = 1800.0
    stale_after: float | None = 3600.0
    #: how far behind the caller's clock sample times run (sessions score ``gap`` late)
    lag: float = 0.0
    _keys: dict[Any, _Episode] = field(default_factory=dict)

    def active(self, key: Any) -> bool:
        """Pending or firing: the key's next sample matters even below ``high``."""
        ep = self._keys.get(key)
        return ep is not None and ep.phase != "idle"

    def firing(self, key: Any) -> bool:
        ep = self._keys.get(key)
        return ep is not None and ep.phase == "firing"

    def update(self, key: Any, t: float, score: float, high: float, low: float,
               info: Any = None, refire: bool = True) -> list[Transition]:
        """Feed one sample of ``key`` (samples of a key arrive in event-time order).

        With ``refire=False`` a sample that arrives after its episode expired only
        resolves it (a recurring "new template" does not open a second episode).
        """
        ep = self._keys.get(key)
        if ep is None:
            if score < high:
                return []
            ep = self._keys[key] = _Episode()
        out = self._expire(key, ep, t)
        if out and not refire:
            return out
        ep.last_ts = t
        if ep.phase == "idle":
            if score >= high:
                ep.phase, ep.since, ep.below_since = "pending", t, None
                ep.peak, ep.peak_info = score, info
                if self.min_duration <= 0:
                    out.append(self._fire(key, ep, t, score, info))
            return out
        if score > ep.peak:
            ep.peak, ep.peak_info = score, info
        if ep.phase == "pending":
            if score < low:
                ep.phase = "idle"
            elif t - ep.since >= self.min_duration:
                out.append(self._fire(key, ep, t, score, info))
            return out
        # firing
        if score >= low:
            ep.below_since = None
        elif ep.below_since is None:
            ep.below_since = t
            if self.resolve_after <= 0:
                out.append(self._resolve(key, ep, t, t))
        return out

    def advance(self, now: float) -> list[Transition]:
        """Resolve episodes whose quiet period (or staleness) ended by event time ``now``."""
        out: list[Transition] = []
        for key, ep in self._keys.items():
            if ep.phase != "idle":
                out.extend(self._expire(key, ep, now))
        self._gc()
        return out

    def close(self, now: float) -> list[Transition]:
        """End of input: resolve every open episode (at its last quiet/seen time)."""
        out = self.advance(now)
        for key, ep in self._keys.items():
            if ep.phase == "firing":
                out.append(self._resolve(key, ep, ep.below_since or ep.last_ts, now))
            ep.phase = "idle"
        self._gc()
        return out

    def _expire(self, key: Any, ep: _Episode, now: float) -> list[Transition]:
        if ep.phase == "firing":
            if ep.below_since is not None and now - ep.below_since >= self.resolve_after:
                return [self._resolve(key, ep, ep.below_since,
                                      ep.below_since + self.resolve_after)]
            if self.stale_after is not None and now - ep.last_ts >= self.stale_after:
                return [self._resolve(key, ep, ep.below_since or ep.last_ts,
                                      ep.last_ts + self.stale_after)]
        elif ep.phase == "pending" and self.stale_after is not None \
                and now - ep.last_ts >= self.stale_after:
            ep.phase = "idle"
        return []

    def _fire(self, key: Any, ep: _Episode, t: float, score: float, info: Any) -> Transition:
        ep.phase, ep.since, ep.below_since = "firing", t, None
        return Transition(key, "firing", t, None, score, info, t + self.lag)

    def _resolve(self, key: Any, ep: _Episode, end: float, decided: float) -> Transition:
        ep.phase = "idle"
        end = max(end, ep.since)
        return Transition(key, "resolved", ep.since, end, ep.peak, ep.peak_info,
                          max(decided + self.lag, end))

    def _gc(self) -> None:
        for key in [k for k, ep in self._keys.items() if ep.phase == "idle"]:
            del self._keys[key]

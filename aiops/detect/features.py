"""Causal features of one metric series (no look-ahead).

Every feature of point ``i`` depends only on points ``<= i`` (and on parameters
learned at warm-up), so a point can be scored the moment it arrives and a replay
scores exactly like the live stream. The look-back is bounded
(:meth:`FeatureSpec.lookback_points` points, plus the seasonal periods in event
time), so the streaming detector only keeps a short tail per series.

Deviations are scaled by the spread of the previous ``long`` points, floored at
``floor_scale`` (learned from the warm-up values) so a flat stretch followed by
a small wiggle does not divide by zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DAY = 86400.0
WEEK = 7 * DAY


@dataclass(frozen=True)
class FeatureSpec:
    """Which causal features to compute, with horizons in samples."""

    short: int = 12  #: horizon of the local mean a spike is measured against
    long: int = 288  #: horizon of the baseline (mean, spread) for levels and scales
    level: int = 6  #: points averaged into the current level (smooths noise)
    volatility: bool = True  #: log ratio of recent to baseline spread
    seasonal: tuple[float, ...] = (DAY, WEEK)  #: seasonal lags in seconds
    max_seasonal_points: int = 12096  #: skip a seasonal lag needing a longer tail
    normalize: str = "trailing"  #: divide deviations by the trailing spread, or "fixed"

    def names(self, step: float) -> list[str]:
        out = ["value", "spike", "level"]
        if self.volatility:
            out.append("volatility")
        out += [f"seasonal_{_period_name(p)}" for p in self.seasonal_periods(step)]
        return out

    def seasonal_periods(self, step: float) -> list[float]:
        """Seasonal lags usable at this sampling step (at least 4 samples, bounded tail)."""
        return [p for p in self.seasonal
                if step > 0 and 4 <= p / step <= self.max_seasonal_points]

    def lookback_points(self, step: float) -> int:
        """Points a streaming tail must keep so features equal the batch ones."""
        n = self.long + max(self.short, self.level) + 2
        for p in self.seasonal_periods(step):
            n = max(n, int(np.ceil(p / step)) + 2)
        return n


def _period_name(seconds: float) -> str:
    if seconds % WEEK == 0:
        return f"{int(seconds // WEEK)}w"
    if seconds % DAY == 0:
        return f"{int(seconds // DAY)}d"
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds)}s"


def sampling_step(ts: np.ndarray) -> float:
    """Typical spacing of a series (median positive gap, in seconds)."""
    gaps = np.diff(np.asarray(ts, dtype=float))
    gaps = gaps[gaps > 0]
    return float(np.median(gaps)) if gaps.size else 60.0


def floor_scale(values: np.ndarray, fraction: float) -> float:
    """Smallest spread features divide by: a fraction of the warm-up spread (never 0)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    spread = float(np.std(v)) if v.size else 0.0
    if spread <= 0:
        spread = float(np.max(np.abs(v))) if v.size else 0.0
    return max(fraction * spread, 1e-9)


def compute_features(ts: np.ndarray, values: np.ndarray, spec: FeatureSpec, *,
                     step: float, floor: float, start: int = 0) -> np.ndarray:
    """Feature rows for points ``start:``; earlier points are context only.

    ``ts`` are event-time seconds in arrival order; they are made monotone (running
    max) so a stray out-of-order sample cannot look into the future.
    """
    t = np.maximum.accumulate(np.asarray(ts, dtype=float))
    x = np.asarray(values, dtype=float)
    s = pd.Series(x)
    prev = s.shift(1)
    base = prev.rolling(spec.long, min_periods=2)
    spread = np.fmax(base.std().to_numpy(), floor)
    if spec.normalize == "fixed":
        spread = np.full_like(spread, floor)
    mean_long = base.mean().to_numpy()
    mean_short = prev.rolling(spec.short, min_periods=1).mean().to_numpy()
    level = s.rolling(spec.level, min_periods=1).mean().to_numpy()
    cols = [x,
            np.nan_to_num((x - mean_short) / spread),
            np.nan_to_num((level - mean_long) / spread)]
    if spec.volatility:
        recent = s.rolling(spec.short, min_periods=2).std().to_numpy()
        cols.append(np.nan_to_num(np.log((recent + floor) / (spread + floor))))
    for period in spec.seasonal_periods(step):
        lagged = _lagged(t, x, period, tolerance=step)
        cols.append(np.nan_to_num((x - lagged) / spread))
    out = np.column_stack(cols)[start:]
    return np.ascontiguousarray(out)


def _lagged(t: np.ndarray, x: np.ndarray, period: float, tolerance: float) -> np.ndarray:
    """Value at (about) ``t - period``: the last sample at or before it, within tolerance."""
    target = t - period
    j = np.searchsorted(t, target, side="right") - 1
    jj = np.maximum(j, 0)
    ok = (j >= 0) & (target - t[jj] <= tolerance)
    return np.where(ok, x[jj], np.nan)


def smooth_scores(ts: np.ndarray, raw: np.ndarray, window: float, start: int = 0) -> np.ndarray:
    """Causal mean of raw scores over the trailing ``window`` seconds (``(t-window, t]``)."""
    raw = np.asarray(raw, dtype=float)
    if window <= 0:
        return raw[start:].copy()
    t = np.maximum.accumulate(np.asarray(ts, dtype=float))
    csum = np.concatenate([[0.0], np.cumsum(raw)])
    idx = np.arange(start, len(raw))
    lo = np.searchsorted(t, t[idx] - window, side="right")
    return (csum[idx + 1] - csum[lo]) / (idx + 1 - lo)

"""Causal features of one metric series (no look-ahead).

Every feature of point ``i`` depends only on points ``<= i`` (and on the scale
floor learned at warm-up), so a point can be scored the moment it arrives and a
replay scores exactly like the live stream. The look-back is bounded
(:meth:`FeatureSpec.lookback_points` points, plus the seasonal periods in event
time), so the streaming detector keeps only a short tail per series.

Features, all deviations divided by the spread of the previous ``long`` points
(floored, so a flat stretch followed by a wiggle does not divide by zero):

* ``value``: the raw value (levels never seen before);
* ``spike``: the value against the mean of the previous ``short`` points;
* ``level``: the mean of the last ``level`` points against the previous ``long``;
* ``volatility``: log ratio of the recent spread to the baseline spread;
* ``trend``: the mean of the last ``trend[0]`` seconds against the ``trend[1]``
  seconds before it (a sustained shift, in the units of that older spread);
* ``seasonal_1d`` / ``seasonal_1w``: the value against the median of the same
  time one, two, three days/weeks earlier (several periods, so the week after a
  holiday is not flagged for differing from the holiday). NaN until a period of
  history exists; the scorer uses them only where the series repeats.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np


@functools.cache
def _kernels() -> tuple:
    """pandas' rolling kernels (what ``Series.rolling().mean()/.std()`` run), or (None,
    None) where a pandas release moved them. Imported on first use, like scikit-learn in
    ``fit_forest``: pandas costs ~45 MB and ~0.4 s in a process that never scores."""
    try:
        from pandas._libs.window.aggregations import roll_mean, roll_var
    except ImportError:  # pragma: no cover - moved in some pandas release: the public path
        return None, None
    return roll_mean, roll_var


DAY = 86400.0
WEEK = 7 * DAY


@dataclass(frozen=True)
class FeatureSpec:
    """Which causal features to compute; horizons in samples unless noted."""

    short: int = 12  #: points in the local mean a spike is measured against
    long: int = 288  #: points in the baseline (mean, spread) for levels and scales
    level: int = 3  #: points averaged into the current level
    volatility: bool = True  #: log ratio of recent to baseline spread
    trend: tuple[float, float] | None = (6 * 3600.0, WEEK)  #: (window, baseline) seconds
    seasonal: tuple[float, ...] = (DAY, WEEK)  #: seasonal periods in seconds
    periods_back: int = 3  #: seasonal baseline = median of this many past periods
    max_points: int = 12096  #: cap on any look-back, in samples (bounded memory)
    #: rolling statistics restart every ``block`` points of the series (see compute_features)
    block: int = 256

    def __post_init__(self) -> None:
        if not isinstance(self.block, int) or self.block < 1:
            raise TypeError(f"block must be a positive integer, got {self.block!r}")

    def names(self, step: float) -> list[str]:
        out = ["value", "spike", "level"]
        if self.volatility:
            out.append("volatility")
        if self.trend:
            out.append("trend")
        out += [f"seasonal_{_period_name(p)}" for p in self.seasonal_periods(step)]
        return out

    def seasonal_periods(self, step: float) -> list[float]:
        """Seasonal periods usable at this sampling step (at least 4 samples, bounded tail)."""
        return [p for p in self.seasonal if step > 0 and 4 <= p / step <= self.max_points]

    def lags(self, period: float, step: float) -> int:
        """Past periods in the seasonal baseline: up to ``periods_back``, within the cap."""
        return max(1, min(self.periods_back, int(self.max_points * step // period)))

    def trend_points(self, step: float) -> tuple[int, int]:
        window, baseline = self.trend or (0.0, 0.0)
        w = min(max(2, int(round(window / step))), self.max_points // 4)
        return w, min(max(8, int(round(baseline / step))), self.max_points - w)

    def lookback_points(self, step: float) -> int:
        """Points a streaming tail keeps for the rolling features: the windows of every row
        since the start of the oldest new row's block."""
        n = self.long + max(self.short, self.level) + 2
        if self.trend:
            n = max(n, sum(self.trend_points(step)) + 2)
        return n + self.block

    def lookback_seconds(self, step: float) -> float:
        """Event time a streaming tail keeps for the seasonal baselines."""
        return max([p * self.lags(p, step) + 2 * step for p in self.seasonal_periods(step)],
                   default=0.0)


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
                     step: float, floor: float, start: int = 0, offset: int = 0) -> np.ndarray:
    """Feature rows for points ``start:``; earlier points are context only.

    ``ts`` are event-time seconds in arrival order; they are made monotone (running
    max) so a stray out-of-order sample cannot look into the future. ``offset``: the
    position of ``ts[0]`` in the whole series. Rolling statistics restart at every
    ``spec.block``-th point of the series, so a row's features are the same whichever
    calls the stream was cut into and however much tail was kept, and a streaming call
    costs its new points plus a block and a window, not the whole tail (with the 7-day
    trend baseline a day-old 15 s series kept 12,000 points that eight kernels walked at
    every call: ~2 ms per series per batch).
    """
    t = np.maximum.accumulate(np.asarray(ts, dtype=float))
    x_all = np.asarray(values, dtype=float)
    lo = max(0, start - spec.lookback_points(step))
    x = x_all[lo:]
    k = start - lo
    rows = _Rows(k, len(x), offset + lo, spec.block)
    prev = _shift(x, 1)
    new = x[k:]
    # the deviations, NaN/inf made finite in one call (a streaming call of one point
    # spent a tenth of its features on four calls of it)
    with np.errstate(all="ignore"):
        spread = np.fmax(rows.std(prev, spec.long, 2), floor)
        deviations = [new - rows.mean(prev, spec.short, 1),
                      rows.mean(x, spec.level, 1) - rows.mean(prev, spec.long, 2)]
        deviations = [d / spread for d in deviations]
        if spec.volatility:
            recent = rows.std(x, spec.short, 2)
            deviations.append(np.log((recent + floor) / (spread + floor)))
        if spec.trend:
            deviations.append(_trend(x, *spec.trend_points(step), floor, rows))
    out = [new, *finite(np.vstack(deviations)).reshape(len(deviations), -1)]
    at = np.arange(start, len(x_all))
    for period in spec.seasonal_periods(step):
        if t[-1] - period < t[0]:  # not a period of history yet: no lag exists (NaN)
            out.append(np.full(len(at), np.nan))
            continue
        seasonal = _seasonal_baseline(t, x_all, at, period, spec.lags(period, step),
                                      tolerance=step)
        out.append((new - seasonal) / spread)  # NaN until a period exists
    return np.ascontiguousarray(np.column_stack(out)) if out else np.empty((0, 0))


class _Rows:
    """Rolling statistics of rows ``first:`` of a context array, each computed from the
    start of its block: rows whose position in the series (``origin`` + index) lies in the
    same ``block`` share one pass of pandas' kernel, which starts afresh at the block's
    first row. The kernels add and remove values as the window slides, so a row's last
    bits depend on where its pass started; here that is a fixed point of the series.

    The kernels are what ``Series.rolling().mean()/.std()`` run, called without building
    Series and Rolling objects (~0.1 ms per pandas call, several per series per batch)."""

    __slots__ = ("first", "n", "passes", "_bounds")

    def __init__(self, first: int, n: int, origin: int, block: int) -> None:
        self.first, self.n = first, n
        self.passes = []  # (first row of the pass, first row kept, end)
        row = first
        while row < n:
            begin = max(0, row - (origin + row) % block)  # 0: less context than a block
            end = min(n, row + block - (origin + row) % block)
            self.passes.append((begin, row, end))
            row = end
        self._bounds: dict[int, list] = {}  # window -> per pass (start, stop): shared by stats

    def _window_bounds(self, window: int) -> list[tuple[np.ndarray, np.ndarray]]:
        bounds = self._bounds.get(window)
        if bounds is None:
            bounds = []
            for begin, _, end in self.passes:
                stop = np.arange(begin + 1, end + 1, dtype=np.int64)
                bounds.append((np.maximum(stop - window, 0), stop))
            self._bounds[window] = bounds
        return bounds

    def _apply(self, kernel, x: np.ndarray, window: int, min_periods: int,
               **kwargs) -> np.ndarray:
        if min_periods > window:
            raise ValueError(f"min_periods {min_periods} must be <= window {window}")
        out = np.empty(self.n - self.first)
        x = np.asarray(x, dtype=np.float64)
        first = self.first
        for (begin, keep, end), (start, stop) in zip(self.passes, self._window_bounds(window)):
            got = kernel(x, start, stop, min_periods, **kwargs)
            out[keep - first:end - first] = np.asarray(got)[keep - begin:]
        return out

    def mean(self, x: np.ndarray, window: int, min_periods: int) -> np.ndarray:
        roll_mean = _kernels()[0]
        if roll_mean is None:  # pragma: no cover - a pandas without the kernel
            return self._apply(_pandas_kernel("mean"), x, window, min_periods)
        return self._apply(roll_mean, x, window, min_periods)

    def std(self, x: np.ndarray, window: int, min_periods: int) -> np.ndarray:
        roll_var = _kernels()[1]
        if roll_var is None:  # pragma: no cover - a pandas without the kernel
            var = self._apply(_pandas_kernel("var"), x, window, min_periods)
        else:
            var = self._apply(roll_var, x, window, min_periods, ddof=1)
        with np.errstate(invalid="ignore"):
            out = np.sqrt(var)
        out[var < 0] = 0.0
        return out


def _pandas_kernel(stat: str) -> Callable:  # pragma: no cover - no kernels in this pandas
    """The public path, called like the kernels: trailing windows ``[start, end)``."""
    import pandas as pd

    def kernel(x, start, end, min_periods, ddof=1):
        first = int(start[0])
        rolling = pd.Series(x[first:int(end[-1])]).rolling(int((end - start).max()),
                                                            min_periods=min_periods)
        got = (rolling.mean() if stat == "mean" else rolling.var(ddof=ddof)).to_numpy()
        return got[end - 1 - first]
    return kernel


def _trend(x: np.ndarray, w: int, b: int, floor: float, rows: _Rows) -> np.ndarray:
    """The mean of the last ``w`` points against the ``b`` before them, in their spread.

    Until a point has two values ``w`` or more points back, the baseline is NaN and the
    feature 0 (``nan_to_num``): known without the three rolling kernels, which were a
    quarter of a streaming call while a series is younger than ``w`` points (6 h)."""
    if len(x) <= w + 1:
        return np.zeros(rows.n - rows.first)
    return _trend_full(x, w, b, floor, rows)


def _trend_full(x: np.ndarray, w: int, b: int, floor: float, rows: _Rows) -> np.ndarray:
    """Not yet finite: :func:`compute_features` makes all deviations finite at once."""
    now = rows.mean(x, w, 1)
    before = _shift(x, w)
    return (now - rows.mean(before, b, 2)) / np.fmax(rows.std(before, b, 2), floor)


def _shift(x: np.ndarray, n: int) -> np.ndarray:
    """``pd.Series(x).shift(n)``: NaN for the first ``n``."""
    out = np.empty(len(x))
    out[:n] = np.nan
    out[n:] = x[:len(x) - n] if n < len(x) else x[:0]
    return out


_LARGEST = np.finfo(np.float64).max


def finite(a: np.ndarray) -> np.ndarray:
    """``np.nan_to_num(a)`` for a float64 array, as a new array: NaN -> 0, +-inf -> the
    largest finite float. The same values without ``nan_to_num``'s ~9 us of bookkeeping per
    call; a streaming call made five such calls per series per batch."""
    out = np.where(np.isnan(a), 0.0, a)
    np.minimum(out, _LARGEST, out=out)
    np.maximum(out, -_LARGEST, out=out)
    return out


def rolling_mean(x: np.ndarray, window: int, min_periods: int) -> np.ndarray:
    """``pd.Series(x).rolling(window, min_periods).mean()``, same numbers (one pass)."""
    return _Rows(0, len(x), 0, max(1, len(x))).mean(x, window, min_periods)


def rolling_std(x: np.ndarray, window: int, min_periods: int) -> np.ndarray:
    """``pd.Series(x).rolling(window, min_periods).std()`` (ddof 1), same numbers."""
    return _Rows(0, len(x), 0, max(1, len(x))).std(x, window, min_periods)


def _lagged(t: np.ndarray, x: np.ndarray, rows: np.ndarray, lag: float,
            tolerance: float) -> np.ndarray:
    """Value at (about) ``t - lag`` for each row: the last sample at or before it."""
    target = t[rows] - lag
    j = np.searchsorted(t, target, side="right") - 1
    jj = np.maximum(j, 0)
    ok = (j >= 0) & (target - t[jj] <= tolerance)
    return np.where(ok, x[jj], np.nan)


def _seasonal_baseline(t: np.ndarray, x: np.ndarray, rows: np.ndarray, period: float,
                       lags: int, tolerance: float) -> np.ndarray:
    """Median of the values one, two, ... ``lags`` periods earlier (those that exist)."""
    past = np.column_stack([_lagged(t, x, rows, k * period, tolerance)
                            for k in range(1, lags + 1)])
    out = np.full(len(rows), np.nan)
    some = np.isfinite(past).any(axis=1)
    if some.any():
        out[some] = row_nanmedian(past[some])
    return out


def row_nanmedian(a: np.ndarray) -> np.ndarray:
    """``np.nanmedian(a, axis=1)`` for rows with at least one value: the same numbers
    (a signed zero comes out +0.0, as there). numpy takes a masked-array path for rows this
    short, ~0.1 ms a call: two thirds of a streaming call's seasonal column."""
    ordered = np.sort(a, axis=1)  # NaN last, after any infinity
    count = (~np.isnan(a)).sum(axis=1)  # values, infinities included (nanmedian counts them)
    at = np.arange(len(a))
    low = ordered[at, (count - 1) // 2]
    high = ordered[at, count // 2]
    return np.where(count % 2 == 1, low, (low + high) / 2) + 0.0


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

"""Causal features: nothing a point gets depends on later points."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from detect_helpers import epoch, nab_frame

from aiops.detect.features import (DAY, FeatureSpec, _seasonal_baseline, compute_features, finite,
                                   floor_scale, row_nanmedian, sampling_step, smooth_scores)


def test_features_do_not_look_ahead():
    df = nab_frame("nyc_taxi")[:3000]
    t, x = epoch(df["timestamp"]), df["value"].to_numpy(float)
    spec = FeatureSpec(trend=(6 * 3600.0, 7 * DAY))
    step, floor = sampling_step(t), floor_scale(x[:500], 0.05)
    full = compute_features(t, x, spec, step=step, floor=floor)
    for n in (400, 1500, 2999):
        prefix = compute_features(t[:n], x[:n], spec, step=step, floor=floor)
        np.testing.assert_allclose(prefix, full[:n], rtol=1e-9, atol=1e-9, equal_nan=True)
    # a wild future value changes nothing before it
    y = x.copy()
    y[2000] = 1e9
    np.testing.assert_allclose(compute_features(t, y, spec, step=step, floor=floor)[:2000],
                               full[:2000], rtol=1e-9, atol=1e-9, equal_nan=True)


def test_tail_context_equals_full_history():
    df = nab_frame("nyc_taxi")[:4000]
    t, x = epoch(df["timestamp"]), df["value"].to_numpy(float)
    spec = FeatureSpec()
    step = sampling_step(t)
    full = compute_features(t, x, spec, step=step, floor=1.0)
    lo = 3500 - max(spec.lookback_points(step),
                    int(spec.lookback_seconds(step) / step) + 2)
    part = compute_features(t[lo:], x[lo:], spec, step=step, floor=1.0, start=3500 - lo,
                            offset=lo)
    # the same bits: every rolling statistic starts at the same point of the series
    assert np.array_equal(part, full[3500:], equal_nan=True)


def test_a_block_must_be_a_positive_number_of_points():
    for bad in (0, -3, 2.5):
        with pytest.raises(TypeError, match="block must be a positive integer"):
            FeatureSpec(block=bad)


@pytest.mark.parametrize("block", [7, 64, 256])
def test_rows_are_the_same_whatever_the_calls_and_the_tail(block):
    """Rows computed in calls of random sizes, each with only the tail a streaming scorer
    keeps, equal the rows of one call over the whole series, bit for bit; and they equal
    pandas' rolling statistics over the whole series to rounding."""
    df = nab_frame("nyc_taxi")[:3000]
    t, x = epoch(df["timestamp"]), df["value"].to_numpy(float)
    spec = FeatureSpec(trend=(3 * 3600.0, DAY / 2), seasonal=(), block=block)
    step = sampling_step(t)
    full = compute_features(t, x, spec, step=step, floor=1.0)
    rng = np.random.default_rng(block)
    done, parts = 0, []
    while done < len(t):
        n = int(rng.integers(1, 400))
        lo = max(0, done - spec.lookback_points(step))
        parts.append(compute_features(t[lo:done + n], x[lo:done + n], spec, step=step,
                                      floor=1.0, start=done - lo, offset=lo))
        done += n
    assert np.array_equal(np.concatenate(parts), full, equal_nan=True)
    prev = pd.Series(x).shift(1)
    spread = np.fmax(prev.rolling(spec.long, min_periods=2).std().to_numpy(), 1.0)
    spike = np.nan_to_num((x - prev.rolling(spec.short, min_periods=1).mean()) / spread)
    np.testing.assert_allclose(full[:, 1], spike, rtol=1e-9, atol=1e-9)


def test_seasonal_baseline_is_median_of_past_periods():
    t = np.arange(0, 5 * DAY, 3600.0)
    x = np.tile(np.arange(24.0), 5)
    x[24 + 5] = 100.0  # day 1, 05:00 was odd: day 3 still sees the usual 5 (median of 3)
    base = _seasonal_baseline(t, x, np.arange(len(x)), DAY, 3, tolerance=3600.0)
    assert np.isnan(base[:24]).all()  # no history yet
    assert base[24 + 5] == 5.0
    assert base[3 * 24 + 5] == 5.0
    assert base[2 * 24 + 5] == (5.0 + 100.0) / 2  # only two past days exist


def test_smoothing_is_a_trailing_event_time_mean():
    t = np.array([0, 60, 120, 180, 3600 + 120], dtype=float)
    raw = np.array([1, 2, 3, 4, 10], dtype=float)
    out = smooth_scores(t, raw, 3600.0)
    np.testing.assert_allclose(out, [1, 1.5, 2, 2.5, (4 + 10) / 2])
    np.testing.assert_allclose(smooth_scores(t, raw, 3600.0, start=3), out[3:])


@pytest.mark.parametrize("window, min_periods", [(1, 1), (3, 1), (12, 2), (288, 2), (5000, 2)])
def test_rolling_kernels_give_pandas_numbers_exactly(window, min_periods):
    import pandas as pd

    from aiops.detect.features import _shift, rolling_mean, rolling_std

    rng = np.random.default_rng(window)
    x = rng.normal(1e6, 3.0, 4000)
    x[rng.integers(0, len(x), 200)] = np.nan
    x[1000:1400] = 42.0                       # a flat stretch: variance must stay >= 0
    for series in (x, _shift(x, 1), _shift(x, 7), x[:1]):
        s = pd.Series(series)
        r = s.rolling(window, min_periods=min_periods)
        assert np.array_equal(rolling_mean(series, window, min_periods), r.mean().to_numpy(),
                              equal_nan=True)
        if min_periods >= 2:
            assert np.array_equal(rolling_std(series, window, min_periods),
                                  r.std().to_numpy(), equal_nan=True)
    assert np.array_equal(_shift(x, 3)[3:], x[:-3], equal_nan=True)
    assert np.isnan(_shift(x, 3)[:3]).all()


@pytest.mark.parametrize("n", [2, 9, 10, 11, 12, 13, 40])
def test_a_trend_without_history_is_zero_exactly_as_computed(n):
    """Until two values lie ``w`` points back the trend is known to be 0; computing it
    anyway must give the same."""
    from aiops.detect.features import _Rows, _trend, _trend_full, finite

    x = np.random.default_rng(n).normal(size=n).cumsum()
    w, b = 10, 25
    rows = _Rows(0, n, 0, 8)
    with np.errstate(all="ignore"):   # as compute_features calls them
        full = finite(_trend_full(x, w, b, 0.1, rows))  # made finite there, with the others
        assert np.array_equal(finite(_trend(x, w, b, 0.1, rows)), full)
    assert (n > w + 1) == bool(np.any(full))  # the shortcut's edge


@pytest.mark.parametrize("hours", [6, 23.9, 24.1, 50])
def test_seasonal_columns_before_a_period_of_history_are_nan_as_computed(hours):
    """The seasonal column is skipped while the tail spans less than a period; with history
    it is computed (and stays NaN where no lag matches), the same either way."""
    step = 300.0
    n = int(hours * 3600 / step)
    ts = np.arange(n) * step
    x = np.sin(ts / 3600.0)
    spec = FeatureSpec(trend=None)
    rows = compute_features(ts, x, spec, step=step, floor=0.1, start=n - 20)
    t = np.maximum.accumulate(ts)
    baseline = _seasonal_baseline(t, x, np.arange(n - 20, n), DAY, spec.lags(DAY, step),
                                  tolerance=step)
    seasonal = rows[:, spec.names(step).index("seasonal_1d")]
    assert np.array_equal(np.isnan(seasonal), np.isnan(baseline))
    assert np.isfinite(seasonal).any() == (hours > 24)


def test_finite_is_nan_to_num_bit_for_bit():
    rng = np.random.default_rng(7)
    with np.errstate(over="ignore"):  # some products overflow to +-inf, on purpose
        a = rng.normal(scale=1e300, size=5000) * rng.choice([1.0, 1e10], size=5000)
    a[rng.choice(5000, 300)] = np.nan
    a[:4] = [-0.0, 0.0, np.inf, -np.inf]
    out = finite(a)
    assert out is not a and np.isinf(a).sum() > 4 and np.isnan(a).any()
    assert out.tobytes() == np.nan_to_num(a).tobytes()  # same bits: -0.0 and the largest float


def test_row_nanmedian_is_numpys_bit_for_bit():
    rng = np.random.default_rng(3)
    checked = 0
    for trial in range(3000):
        a = rng.normal(size=(int(rng.integers(1, 40)), int(rng.integers(1, 7))))
        a *= 10.0 ** rng.integers(-5, 10)
        if trial % 3 == 0:  # ties and signed zeros
            a = np.round(a / 10.0 ** rng.integers(0, 12)) * rng.choice([-1, 1], size=a.shape)
        a[rng.random(size=a.shape) < 0.4] = np.nan
        a = a[np.isfinite(a).any(axis=1)]
        if len(a):
            assert row_nanmedian(a).tobytes() == np.nanmedian(a, axis=1).tobytes()
            checked += 1
    assert checked > 2500
    # infinities are values, not gaps (sorted before NaN)
    a = np.array([[1.0, np.inf, np.nan], [np.inf, np.inf, 2.0], [-np.inf, 3.0, np.nan],
                  [np.inf, np.nan, np.nan], [-np.inf, np.inf, 5.0]])
    with np.errstate(invalid="ignore"):  # inf - inf in numpy's mean of the middle pair
        assert row_nanmedian(a).tobytes() == np.nanmedian(a, axis=1).tobytes()

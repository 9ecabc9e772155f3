"""IsolationForest anomaly scores for one metric series, learned causally.

:class:`MetricScorer` is an estimator in scikit-learn style with an online
core: :meth:`partial_score` consumes points in arrival order and returns their
scores. The first ``warmup`` points only train (NAB's probation rule; their
score is NaN). After that every point is scored by a forest fitted on strictly
earlier points; the forest is refitted each time the history doubles (then at
least every ``max_refit_interval`` points) on an evenly strided sample of the
whole history, so memory stays bounded.

The score (higher = more anomalous) is the forest's ``-score_samples`` averaged
over the trailing ``smooth`` seconds of event time, because a real anomaly lasts
while noise does not; a single point still counts on its own when it exceeds
that average by ``spike_sigmas`` times the usual point-to-average wobble
(measured on the warm-up), so a one-sample spike is not averaged away.

Batch (:meth:`fit_score` on a whole file) and streaming (many small calls) run
the same code on the same points, so they give the same scores.
"""

from __future__ import annotations

import numpy as np

from aiops.detect.alerting import seconds
from aiops.detect.features import (FeatureSpec, compute_features, finite, floor_scale,
                                   sampling_step, smooth_scores)
from aiops.detect.forest import PackedForest, fit_packed_forest

_PARAMS = ("warmup", "n_estimators", "max_samples", "max_train", "max_refit_interval",
           "smooth", "spike_sigmas", "short", "long", "level", "volatility", "trend",
           "seasonal", "periods_back", "seasonal_ratio", "floor", "random_state")


class MetricScorer:
    """Causal IsolationForest scorer for one series (value + time)."""

    def __init__(self, warmup: int = 750, n_estimators: int = 100, max_samples: int = 256,
                 max_train: int = 4096, max_refit_interval: int = 8640,
                 smooth: float | str = "2h", spike_sigmas: float | None = 1.75,
                 short: int = 12, long: int = 288, level: int = 3, volatility: bool = True,
                 trend: tuple | list | None = ("6h", "7d"),
                 seasonal: tuple | list = ("1d", "1w"), periods_back: int = 3,
                 seasonal_ratio: float = 1.0, floor: float = 0.02,
                 random_state: int = 0) -> None:
        self.warmup = warmup
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_train = max_train
        self.max_refit_interval = max_refit_interval
        self.smooth = smooth
        self.spike_sigmas = spike_sigmas
        self.short = short
        self.long = long
        self.level = level
        self.volatility = volatility
        self.trend = trend
        self.seasonal = seasonal
        self.periods_back = periods_back
        self.seasonal_ratio = seasonal_ratio
        self.floor = floor
        self.random_state = random_state
        self._validate()
        self.reset()

    # -- parameters ---------------------------------------------------------
    def _validate(self) -> None:
        for name in ("warmup", "n_estimators", "max_samples", "max_train",
                     "max_refit_interval", "short", "long", "level", "periods_back"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise TypeError(f"{name} must be a positive integer, got {value!r}")
        if self.warmup < 16:
            raise TypeError(f"warmup must be at least 16 points, got {self.warmup}")
        if not 0 < float(self.floor) < 10:
            raise TypeError(f"floor must be a small positive fraction, got {self.floor!r}")
        if self.spike_sigmas is not None and not float(self.spike_sigmas) > 0:
            raise TypeError(f"spike_sigmas must be positive or None, got {self.spike_sigmas!r}")
        if self.trend is not None and len(self.trend) != 2:
            raise TypeError(f"trend must be (window, baseline), e.g. ['6h', '7d'], "
                            f"got {self.trend!r}")
        self._smooth_s = seconds(self.smooth, "smooth")
        self._spec = FeatureSpec(
            short=self.short, long=self.long, level=self.level,
            volatility=bool(self.volatility),
            trend=None if not self.trend else tuple(seconds(v, "trend") for v in self.trend),
            seasonal=tuple(seconds(p, "seasonal") for p in self.seasonal),
            periods_back=self.periods_back)

    def get_params(self) -> dict:
        return {k: getattr(self, k) for k in _PARAMS}

    def reset(self) -> "MetricScorer":
        """Forget everything learned (a fresh series)."""
        self.n_seen_ = 0
        self.forest_: PackedForest | None = None
        self.step_: float | None = None
        self.floor_: float | None = None
        self.feature_names_: list[str] = []
        self.next_refit_ = self.warmup
        self.n_fits_ = 0
        self.stride_ = 1
        self._train_idx = np.empty(0, dtype=np.int64)
        self._train_rows = np.empty((0, 0))
        self._tail_t = np.empty(0)
        self._tail_x = np.empty(0)
        self._raw_t = np.empty(0)
        self._raw = np.empty(0)
        self.center_ = np.empty(0)
        self.spread_ = np.empty(0)
        self.warmup_scores_ = np.empty(0)
        self.spike_margin_ = None
        self.active_ = np.empty(0, dtype=np.int64)
        return self

    # -- estimator API ------------------------------------------------------
    def fit(self, ts, values) -> "MetricScorer":
        """Learn from a history (all of it trains; nothing is scored)."""
        self.reset()
        ts = np.asarray(ts, dtype=float)
        saved, self.warmup = self.warmup, max(len(ts), 16)
        try:
            self.partial_score(ts, values)
        finally:
            self.warmup = saved
        self.next_refit_ = self._following_refit(self.n_seen_)
        return self

    def score(self, ts, values) -> np.ndarray:
        """Scores of points that follow what was fitted/seen (NaN while warming up)."""
        return self.partial_score(ts, values)[0]

    def fit_score(self, ts, values) -> np.ndarray:
        """The causal protocol on a whole series: warm up, then score and refit as it grows."""
        self.reset()
        return self.partial_score(ts, values)[0]

    @property
    def fitted(self) -> bool:
        return self.forest_ is not None

    # -- online core --------------------------------------------------------
    def partial_score(self, ts, values) -> tuple[np.ndarray, np.ndarray | None]:
        """Score points in arrival order; returns (scores, feature rows or None)."""
        ts = np.asarray(ts, dtype=float)
        x = np.asarray(values, dtype=float)
        n = len(ts)
        scores = np.full(n, np.nan)
        if n == 0:
            return scores, None
        done = 0
        if self.forest_ is None:
            need = self.warmup - self.n_seen_
            take = min(need, n)
            self._tail_t = np.concatenate([self._tail_t, ts[:take]])
            self._tail_x = np.concatenate([self._tail_x, x[:take]])
            self.n_seen_ += take
            done = take
            if self.n_seen_ < self.warmup:
                return scores, None
            self._start()
            if done == n:
                return scores, None
        rows = compute_features(np.concatenate([self._tail_t, ts[done:]]),
                                np.concatenate([self._tail_x, x[done:]]), self._spec,
                                step=self.step_, floor=self.floor_, start=len(self._tail_t),
                                offset=self.n_seen_ - len(self._tail_t))
        raw = np.empty(n - done)
        pos = 0
        self._segments = []
        while pos < n - done:
            # the current forest scores up to the next refit point, then it is refitted
            end = min(n - done, pos + self.next_refit_ - self.n_seen_)
            raw[pos:end] = -self._packed.score_samples(self._model_input(rows[pos:end]))
            self._segments.append((done + end, self.active_, self.center_, self.spread_))
            self._remember(rows[pos:end], self.n_seen_)
            self.n_seen_ += end - pos
            pos = end
            if self.n_seen_ >= self.next_refit_:
                self._fit_forest()
        new_t = ts[done:]
        all_t = np.concatenate([self._raw_t, new_t])
        scores[done:] = self._combine(smooth_scores(all_t, np.concatenate([self._raw, raw]),
                                                    self._smooth_s, start=len(self._raw_t)), raw)
        self._keep_tail(new_t, x[done:], all_t, raw)
        full = np.full((n, rows.shape[1]), np.nan)
        full[done:] = rows
        return scores, full

    def explain(self, row: np.ndarray, index: int | None = None) -> tuple[str, float, float]:
        """(feature that deviates most from training, its value, its robust z).

        ``index``: the row's position in the last ``partial_score`` call, so it is
        explained by the model that scored it, not one refitted later in the same call
        (else the explanation would depend on how the input was batched)."""
        active, center, spread = self.active_, self.center_, self.spread_
        if index is not None:
            for end, *model in getattr(self, "_segments", ()):
                if index < end:
                    active, center, spread = model
                    break
        x = row[active]
        z = np.abs(x - center) / spread
        z = np.where(np.isfinite(z), z, -1.0)
        i = int(np.argmax(z))
        return self.feature_names_[active[i]], float(x[i]), float(max(z[i], 0.0))

    @property
    def active_features_(self) -> list[str]:
        """Features the current forest uses (seasonal ones once the history covers them)."""
        return [self.feature_names_[i] for i in self.active_]

    def _model_input(self, rows: np.ndarray) -> np.ndarray:
        # a seasonal baseline missing for a point (a gap a period ago) counts as no deviation
        return finite(rows[:, self.active_])

    # -- internals ----------------------------------------------------------
    def _start(self) -> None:
        """Warm-up complete: learn the sampling step and scale floor, fit the first forest."""
        self.step_ = sampling_step(self._tail_t)
        self.floor_ = floor_scale(self._tail_x, self.floor)
        self.feature_names_ = self._spec.names(self.step_)
        rows = compute_features(self._tail_t, self._tail_x, self._spec,
                                step=self.step_, floor=self.floor_)
        self._train_rows = np.empty((0, rows.shape[1]))
        self._remember(rows, 0)
        self._fit_forest()
        # in-sample raw scores of the warm-up let smoothing start right after it
        self._raw_t = self._tail_t.copy()
        self._raw = -self.forest_.score_samples(self._model_input(rows))
        smoothed = smooth_scores(self._raw_t, self._raw, self._smooth_s)
        # how far one point usually sits above the sustained score: a single point must
        # beat that by ``spike_sigmas`` of it to count on its own
        self.spike_margin_ = (None if self.spike_sigmas is None
                              else self.spike_sigmas * float(np.std(self._raw - smoothed)))
        self.warmup_scores_ = self._combine(smoothed, self._raw)
        self._keep_tail(np.empty(0), np.empty(0), self._raw_t, np.empty(0))

    def _combine(self, smoothed: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """Sustained evidence, unless one point alone is ``spike_margin_`` more anomalous."""
        if self.spike_margin_ is None:
            return smoothed
        return np.maximum(smoothed, raw - self.spike_margin_)

    def _following_refit(self, n: int) -> int:
        return n + max(1, min(n, self.max_refit_interval))

    def _fit_forest(self) -> None:
        """Fit on the remembered history; a seasonal feature joins once half of it has one."""
        rows = self._train_rows
        cover = np.isfinite(rows).mean(axis=0)
        usable = cover >= 0.5
        spike = np.median(np.abs(rows[:, 1]))
        for j, name in enumerate(self.feature_names_):
            if name.startswith("seasonal_") and usable[j]:
                # only where the series repeats: the seasonal baseline must predict the
                # value better than the recent mean does
                col = np.abs(rows[:, j])
                usable[j] = bool(np.median(col[np.isfinite(col)]) < spike * self.seasonal_ratio)
        active = np.flatnonzero(usable)
        complete = np.isfinite(rows[:, active]).all(axis=1)
        if complete.sum() < 16:
            active = np.flatnonzero((cover == 1.0) & usable)
            complete = np.ones(len(rows), dtype=bool)
        self.active_ = active
        rows = rows[complete][:, active]
        # packed at once: scikit-learn's tree objects are never kept
        self.forest_ = self._packed = fit_packed_forest(
            rows, self.n_estimators, min(self.max_samples, len(rows)),
            self.random_state + self.n_fits_)
        self.n_fits_ += 1
        self.center_ = np.median(rows, axis=0)
        q75, q25 = np.percentile(rows, [75, 25], axis=0)
        self.spread_ = np.maximum.reduce([(q75 - q25) / 1.349, 0.1 * rows.std(axis=0),
                                          1e-6 * (np.abs(self.center_) + 1.0)])
        self.next_refit_ = self._following_refit(self.n_seen_)

    def _remember(self, rows: np.ndarray, first_index: int) -> None:
        """Keep every ``stride_``-th row of the history (stride doubles to stay bounded)."""
        idx = np.arange(first_index, first_index + len(rows))
        keep = idx % self.stride_ == 0
        self._train_idx = np.concatenate([self._train_idx, idx[keep]])
        self._train_rows = np.concatenate([self._train_rows, rows[keep]])
        while len(self._train_idx) > self.max_train:
            self.stride_ *= 2
            keep = self._train_idx % self.stride_ == 0
            self._train_idx = self._train_idx[keep]
            self._train_rows = self._train_rows[keep]

    def _keep_tail(self, new_t, new_x, all_t, raw) -> None:
        if len(new_t):
            tail_t = np.concatenate([self._tail_t, new_t])
            keep = len(tail_t) - self._spec.lookback_points(self.step_)
            horizon = self._spec.lookback_seconds(self.step_)
            if horizon:  # enough event time for the seasonal baselines, within a cap
                mono = np.maximum.accumulate(tail_t)
                keep = min(keep, int(np.searchsorted(mono, mono[-1] - horizon)))
                keep = max(keep, len(tail_t) - 2 * self._spec.max_points)
            keep = max(keep, 0)
            self._tail_t = tail_t[keep:]
            self._tail_x = np.concatenate([self._tail_x, new_x])[keep:]
        all_raw = np.concatenate([self._raw, raw])
        t_end = np.max(all_t) if len(all_t) else 0.0
        keep = np.searchsorted(np.maximum.accumulate(all_t), t_end - self._smooth_s, side="right")
        keep = min(keep, len(all_t) - 1)
        self._raw_t, self._raw = all_t[keep:], all_raw[keep:]

"""Metric anomaly detector for the engine: one causal IsolationForest per series.

Each series (metric name + labels) gets its own :class:`MetricScorer`. Points are
scored as they are released by the engine (features are causal, so nothing waits
for later points); all points of a series in one call are scored with a single
``score_samples`` call (micro-batching). Scores become episodes through
:class:`Episodes` (threshold learned without labels from the series' own recent
scores, hysteresis, minimum duration), and each episode is one ``MetricAnomaly``
alert that fires and later resolves, naming the feature that deviated most.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import Callable

import numpy as np

from aiops.detect import persist
from aiops.detect.alerting import Episodes, Transition, seconds, to_datetime
from aiops.detect.scorer import MetricScorer
from aiops.schema import SERVICE_LABELS, Alert, MetricSample, normalize_severity

#: ``score_sink(series, ts, values, scores, firing)`` receives every scored point (CLI output).
ScoreSink = Callable[[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]


class RecentScores:
    """The last ``maxlen`` scores in one float64 ring.

    A deque of numpy scalars cost ~40 bytes a point in memory and two memoised objects
    per point while a checkpoint pickled it (a 20 MB transient at 168 series x 686
    points, the final checkpoint's peak); here a point is 8 bytes and a series' scores
    pickle as one array.
    """

    __slots__ = ("maxlen", "buf", "pos", "count")

    def __init__(self, maxlen: int) -> None:
        self.maxlen = maxlen
        self.buf = np.empty(min(maxlen, 64))  # grows to maxlen: most series never fill it
        self.pos = 0                          # next slot to write
        self.count = 0                        # points ever appended

    def append(self, value: float) -> None:
        buf = self.buf
        if self.pos == len(buf):
            if len(buf) < self.maxlen:
                grown = np.empty(min(self.maxlen, max(64, 2 * len(buf))))
                grown[:len(buf)] = buf
                self.buf = buf = grown
            elif not self.maxlen:
                return
            else:
                self.pos = 0
        buf[self.pos] = value
        self.pos += 1
        self.count += 1

    def __len__(self) -> int:
        return min(self.count, self.maxlen)

    def values(self) -> np.ndarray:
        """Oldest first, a copy."""
        if self.count <= self.maxlen:
            return self.buf[:self.count].copy()
        return np.concatenate([self.buf[self.pos:], self.buf[:self.pos]])

    def __getstate__(self) -> tuple:
        return self.maxlen, self.count, self.values()

    def __setstate__(self, state: tuple) -> None:
        maxlen, count, values = state
        self.maxlen, self.count = maxlen, count
        self.buf = np.array(values, dtype=float)
        self.pos = len(values)

    @classmethod
    def of(cls, values, maxlen: int) -> "RecentScores":
        recent = cls(maxlen)
        for value in values:
            recent.append(value)
        return recent


class _Series:
    """Per-series state: scorer, identity labels, recent scores for the threshold."""

    __slots__ = ("scorer", "labels", "name", "service", "recent", "high", "low", "scored")

    def __init__(self, scorer: MetricScorer, name: str, labels: dict[str, str], keep: int):
        self.scorer = scorer
        self.name = name
        self.labels = labels
        self.recent = RecentScores(keep)
        self.service = next((labels[k] for k in SERVICE_LABELS if labels.get(k)), name)
        self.high = np.inf
        self.low = np.inf
        self.scored = 0


class MetricDetector:
    """Per-series IsolationForest detector producing ``MetricAnomaly`` alerts."""

    source = "detector:metrics"

    def __init__(self, budget: float = 0.002, low_fraction: float = 0.5,
                 min_duration: float | str = 0, resolve_after: float | str = "30m",
                 stale_after: float | str = "2h", calibration_points: int = 8640,
                 recalibrate_every: int = 288,
                 severity: str = "warning", alertname: str = "MetricAnomaly",
                 max_series: int = 10000, warmup: int = 750, n_estimators: int = 100,
                 max_samples: int = 256, max_train: int = 4096, max_refit_interval: int = 8640,
                 smooth: float | str = "2h", spike_sigmas: float | None = 1.75, short: int = 12,
                 long: int = 288, level: int = 3, volatility: bool = True,
                 trend: tuple | list | None = ("6h", "7d"),
                 seasonal: tuple | list = ("1d", "1w"), periods_back: int = 3,
                 seasonal_ratio: float = 1.0, floor: float = 0.02,
                 random_state: int = 0) -> None:
        if not 0 < budget < 0.5:
            raise TypeError(f"budget must be a fraction in (0, 0.5), got {budget!r}")
        if not 0 <= low_fraction <= 1:
            raise TypeError(f"low_fraction must be in [0, 1], got {low_fraction!r}")
        self.budget = budget
        self.low_fraction = low_fraction
        self.min_duration = min_duration
        self.resolve_after = resolve_after
        self.stale_after = stale_after
        self.calibration_points = int(calibration_points)
        self.recalibrate_every = int(recalibrate_every)
        for name in ("calibration_points", "recalibrate_every"):
            if getattr(self, name) < 1:  # a negative window broke the first threshold's numpy
                raise TypeError(f"{name} must be at least 1, got {getattr(self, name)}")
        self.severity = normalize_severity(severity)
        self.alertname = alertname
        self.max_series = int(max_series)
        self.scorer_params = dict(
            warmup=warmup, n_estimators=n_estimators, max_samples=max_samples,
            max_train=max_train, max_refit_interval=max_refit_interval, smooth=smooth,
            spike_sigmas=spike_sigmas, short=short, long=long, level=level,
            volatility=volatility, trend=None if trend is None else tuple(trend),
            seasonal=tuple(seasonal), periods_back=periods_back,
            seasonal_ratio=seasonal_ratio, floor=floor, random_state=random_state)
        MetricScorer(**self.scorer_params)  # validate now, not at the first sample
        self.episodes = Episodes(min_duration=seconds(min_duration, "min_duration"),
                                 resolve_after=seconds(resolve_after, "resolve_after"),
                                 stale_after=seconds(stale_after, "stale_after"))
        self.series: dict[str, _Series] = {}
        self.dropped = 0  # samples of series beyond max_series
        self.score_sink: ScoreSink | None = None

    # -- engine contract ----------------------------------------------------
    def observe(self, records: list, watermark: datetime) -> list[Alert]:
        groups: dict[str, list[MetricSample]] = {}
        # a series' key sorts and formats its labels (~1 us); a batch repeats a few hundred
        # series, so each distinct (name, labels) is formatted once per batch
        keys: dict[tuple, str] = {}
        for r in records:
            if type(r) is MetricSample:
                ident = (r.name, *r.labels.items())
                try:
                    key = keys[ident]
                except KeyError:
                    key = keys[ident] = r.series
                except TypeError:  # an unhashable label value (an embedding caller's labels)
                    key = r.series
                groups.setdefault(key, []).append(r)
        out: list[Alert] = []
        for key, samples in groups.items():
            out.extend(self._observe_series(key, samples))
        out.extend(self._to_alerts(self.episodes.advance(watermark.timestamp())))
        out.sort(key=lambda a: a.ts)
        return out

    def flush(self, watermark: datetime) -> list[Alert]:
        alerts = self._to_alerts(self.episodes.close(watermark.timestamp()))
        alerts.sort(key=lambda a: a.ts)
        return alerts

    def state_dump(self) -> persist.StateDump:
        return persist.StateDump("metrics", {"series": self.series, "episodes": self.episodes,
                                             "dropped": self.dropped})

    def get_state(self) -> bytes:
        return self.state_dump().to_bytes()

    def set_state(self, data: bytes) -> None:
        state = persist.loads("metrics", data)
        self.series, self.episodes = state["series"], state["episodes"]
        for st in self.series.values():
            if isinstance(st.recent, deque):  # states written before RecentScores
                st.recent = RecentScores.of(st.recent, st.recent.maxlen)
        self.dropped = state["dropped"]

    # -- internals ----------------------------------------------------------
    def _observe_series(self, key: str, samples: list[MetricSample]) -> list[Alert]:
        st = self.series.get(key)
        if st is None:
            if len(self.series) >= self.max_series:
                self.dropped += len(samples)
                return []
            first = samples[0]
            labels = {k: str(v) for k, v in first.labels.items()}
            st = self.series[key] = _Series(MetricScorer(**self.scorer_params), first.name,
                                            labels, self.calibration_points)
        ts = np.fromiter((s.ts.timestamp() for s in samples), float, len(samples))
        values = np.fromiter((s.value for s in samples), float, len(samples))
        scores, rows = st.scorer.partial_score(ts, values)
        firing = np.zeros(len(samples), dtype=bool)
        transitions: list[Transition] = []
        scorer = st.scorer
        episodes = self.episodes
        for i, s in enumerate(scores.tolist()):  # floats: numpy scalars cost 3x per point
            if s != s:  # NaN: still warming up
                continue
            if st.scored % self.recalibrate_every == 0:
                self._calibrate(st)
            st.scored += 1
            st.recent.append(s)
            if s >= st.high or episodes.active(key):
                info = (scorer.explain(rows[i], i), float(values[i]), st.high)
                transitions.extend(episodes.update(key, ts[i], s, st.high, st.low, info))
                firing[i] = episodes.firing(key)
        if self.score_sink is not None:
            self.score_sink(key, ts, values, scores, firing)
        return self._to_alerts(transitions)

    def _calibrate(self, st: _Series) -> None:
        """Thresholds from the series' own past scores: no labels, a flag budget.

        Recomputed every ``recalibrate_every`` scored points (counted, so the result
        does not depend on how the input was chunked); the first one uses the
        in-sample warm-up scores.
        """
        ref = st.recent.values() if len(st.recent) else st.scorer.warmup_scores_
        ref = ref[np.isfinite(ref)]
        if len(ref) < 16:
            return
        median = float(np.median(ref))
        st.high = float(np.quantile(ref, 1 - self.budget))
        st.low = median + self.low_fraction * (st.high - median)

    def _to_alerts(self, transitions: list[Transition]) -> list[Alert]:
        alerts = []
        for tr in transitions:
            st = self.series.get(tr.key)
            if st is None:
                continue
            (feature, feature_value, z), value, high = tr.info
            service = st.service
            labels = {**st.labels, "alertname": self.alertname, "service": service,
                      "metric": st.name}
            what = "peak" if tr.status == "resolved" else "at firing"
            where = "" if service == st.name else f" on {service}"
            annotations = {
                "summary": f"{st.name}{where} is anomalous: {feature} deviates",
                "description": (f"IsolationForest score {tr.score:.3f} ({what}), threshold "
                                f"{high:.3f} learned from this series; {feature} = "
                                f"{feature_value:.4g} ({z:.1f} robust sd from training), "
                                f"value {value:.6g}"),
                "feature": feature, "value": f"{feature_value:.6g}",
                "metric_value": f"{value:.6g}", "score": f"{tr.score:.4f}",
                "threshold": f"{high:.4f}", "series": str(tr.key)}
            alerts.append(Alert(
                labels=labels, annotations=annotations, starts_at=to_datetime(tr.starts_at),
                status=tr.status,
                ends_at=None if tr.ends_at is None else to_datetime(tr.ends_at),
                observed_at=to_datetime(tr.decided_at), source=self.source, severity=self.severity))
        return alerts

"""Session mode: group log lines by an id from the template parameters, score each session.

A session (e.g. every line about one HDFS block ``blk_...``) becomes a template
count vector. :class:`SessionModel` scores it two ways, both learned from
sessions without labels: an IsolationForest (rare mixtures of templates) and the
residual of a PCA subspace of the training vectors (broken linear relations such
as "every block that is allocated is also stored three times", which is what most
failed sessions violate and what IsolationForest misses: it cannot flag points
that lie *inside* the training range in every single count). A session is
anomalous when either score passes its threshold, the ``1 - fpr`` quantile of
the training sessions' own scores.

:class:`SessionDetector` does this online: sessions close when the watermark has
passed their last line by ``session_gap``; the first ``warmup_sessions`` train the
model, later ones are scored in micro-batches; anomalous sessions of a service
form episodes, one ``LogSessionAnomaly`` alert each.
"""

from __future__ import annotations

import heapq
import re
from datetime import datetime
from typing import Iterable, Sequence

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest

from aiops.detect import persist
from aiops.detect.alerting import Episodes, seconds, to_datetime
from aiops.detect.logs import source_key, template_key
from aiops.schema import Alert, LogRecord, normalize_severity


class SessionModel:
    """Count-vector session scorer: IsolationForest + PCA residual, thresholds from training."""

    def __init__(self, n_estimators: int = 100, variance: float = 0.99, fpr: float = 0.005,
                 tfidf: bool = False, use_forest: bool = True, use_residual: bool = True,
                 random_state: int = 0) -> None:
        if not 0 < variance < 1:
            raise TypeError(f"variance must be in (0, 1), got {variance!r}")
        if not 0 < fpr < 0.5:
            raise TypeError(f"fpr must be in (0, 0.5), got {fpr!r}")
        if not (use_forest or use_residual):
            raise TypeError("enable use_forest, use_residual or both")
        self.n_estimators = n_estimators
        self.variance = variance
        self.fpr = fpr
        self.tfidf = tfidf
        self.use_forest = use_forest
        self.use_residual = use_residual
        self.random_state = random_state

    def vectors(self, sessions: Iterable[Sequence[str]]) -> np.ndarray:
        """Counts per known template, plus one column for templates never seen in training."""
        k = len(self.vocab_)
        rows = []
        for seq in sessions:
            row = np.zeros(k + 1)
            for t in seq:
                row[self.vocab_.get(t, k)] += 1
            rows.append(row)
        X = np.array(rows).reshape(-1, k + 1)
        return X * self.idf_

    def fit(self, sessions: Sequence[Sequence[str]]) -> "SessionModel":
        sessions = list(sessions)
        if len(sessions) < 8:
            raise ValueError(f"need at least 8 sessions to fit, got {len(sessions)}")
        self.vocab_ = {t: i for i, t in enumerate(sorted({t for s in sessions for t in s}))}
        self.idf_ = np.ones(len(self.vocab_) + 1)
        X = self.vectors(sessions)
        if self.tfidf:
            df = (X > 0).sum(axis=0)
            self.idf_ = np.log((1 + len(X)) / (1 + df)) + 1.0
            X = X * self.idf_
        self.forest_ = None
        self.pca_ = None
        parts = []
        if self.use_forest:
            self.forest_ = IsolationForest(n_estimators=self.n_estimators,
                                           random_state=self.random_state).fit(X)
            parts.append(-self.forest_.score_samples(X))
        if self.use_residual:
            n_comp = min(X.shape[0] - 1, X.shape[1])
            pca = PCA(n_components=n_comp, svd_solver="full").fit(X)
            ratio = np.cumsum(pca.explained_variance_ratio_)
            keep = int(np.searchsorted(ratio, self.variance) + 1) if ratio[-1] > 0 else 1
            self.mean_ = pca.mean_
            self.components_ = pca.components_[:min(keep, n_comp)]
            self.pca_ = True
            parts.append(self._residual(X))
        self.thresholds_ = np.array([max(np.quantile(p, 1 - self.fpr), 1e-12) for p in parts])
        return self

    def _residual(self, X: np.ndarray) -> np.ndarray:
        Z = X - self.mean_
        R = Z - (Z @ self.components_.T) @ self.components_
        return (R * R).sum(axis=1)

    def score_parts(self, X: np.ndarray) -> np.ndarray:
        parts = []
        if self.forest_ is not None:
            parts.append(-self.forest_.score_samples(X))
        if self.pca_ is not None:
            parts.append(self._residual(X))
        return np.column_stack(parts) / self.thresholds_

    def score(self, sessions: Iterable[Sequence[str]]) -> np.ndarray:
        """Anomaly score per session; above 1 means anomalous (higher = worse)."""
        return self.score_parts(self.vectors(sessions)).max(axis=1)

    def predict(self, sessions: Iterable[Sequence[str]]) -> np.ndarray:
        return (self.score(sessions) > 1.0).astype(int)

    def explain(self, seq: Sequence[str]) -> tuple[str, float]:
        """The template whose count is furthest from what the training sessions imply."""
        x = self.vectors([seq])[0]
        names = list(self.vocab_) + ["<unseen>"]
        if self.pca_ is not None:
            z = x - self.mean_
            r = z - (z @ self.components_.T) @ self.components_
        else:
            r = x
        i = int(np.argmax(np.abs(r)))
        return names[i], float(x[i] / self.idf_[i])


class _Open:
    __slots__ = ("first", "last", "events", "service")

    def __init__(self, ts: float, service: str) -> None:
        self.first = self.last = ts
        self.events: list[str] = []
        self.service = service


class SessionDetector:
    """Online session grouping + :class:`SessionModel`, one alert per anomalous episode."""

    source = "detector:logs"

    def __init__(self, id_pattern: str = r"blk_-?\d+", session_gap: float | str = "5m",
                 warmup_sessions: int = 500, fpr: float = 0.005,
                 variance: float = 0.99, n_estimators: int = 100, tfidf: bool = False,
                 max_open: int = 200000, resolve_after: float | str = "10m",
                 severity: str = "warning", random_state: int = 0) -> None:
        try:
            self.pattern = re.compile(id_pattern)
        except re.error as exc:
            raise TypeError(f"id_pattern is not a valid regex: {exc}") from None
        self.id_pattern = id_pattern
        self.gap = seconds(session_gap, "session_gap")
        if warmup_sessions < 8:
            raise TypeError(f"warmup_sessions must be at least 8, got {warmup_sessions}")
        self.warmup_sessions = int(warmup_sessions)
        self.max_open = int(max_open)
        self.severity = normalize_severity(severity)
        self.model = SessionModel(n_estimators=n_estimators, variance=variance, fpr=fpr,
                                  tfidf=tfidf, random_state=random_state)
        self.fitted = False
        self.training: list[list[str]] = []
        self.open: dict[str, _Open] = {}
        self.heap: list[tuple[float, str]] = []  # (last line time when queued, session id)
        self.n_scored = 0
        self.n_anomalous = 0
        self.episodes = Episodes(resolve_after=seconds(resolve_after, "resolve_after"),
                                 stale_after=None)
        #: ``score_sink(session, first, last, lines, score)`` sees every scored session.
        self.score_sink = None

    def session_id(self, record: LogRecord) -> str | None:
        for p in record.params:
            m = self.pattern.search(p)
            if m:
                return m.group(0)
        m = self.pattern.search(record.message)
        return m.group(0) if m else None

    def observe(self, records: list, watermark: datetime) -> list[Alert]:
        ready: list[tuple[str, _Open]] = []
        for r in records:
            if type(r) is not LogRecord:
                continue
            sid = self.session_id(r)
            if sid is None:
                continue
            t = r.ts.timestamp()
            self._expire(t, ready)  # sessions a line at t can no longer join close first
            s = self.open.get(sid)
            if s is None:
                if len(self.open) >= self.max_open:
                    continue
                s = self.open[sid] = _Open(t, source_key(r))
                heapq.heappush(self.heap, (t, sid))
            s.last = max(s.last, t)
            s.events.append(template_key(r))
        now = watermark.timestamp()
        self._expire(now, ready)
        transitions = self._process(ready, final=False)
        transitions += self.episodes.advance(now - self.gap)
        return self._alerts(transitions)

    def flush(self, watermark: datetime) -> list[Alert]:
        ready: list[tuple[str, _Open]] = []
        self._expire(float("inf"), ready)
        transitions = self._process(ready, final=True)
        transitions += self.episodes.close(watermark.timestamp())
        return self._alerts(transitions)

    def get_state(self) -> bytes:
        return persist.dumps("sessions", {k: v for k, v in self.__dict__.items()
                                          if k != "score_sink"})

    def set_state(self, data: bytes) -> None:
        self.__dict__.update(persist.loads("sessions", data))

    def _expire(self, now: float, ready: list) -> None:
        """Close, in order of their last line, sessions idle for more than ``session_gap``."""
        heap = self.heap
        while heap and heap[0][0] + self.gap < now:
            last, sid = heapq.heappop(heap)
            s = self.open.get(sid)
            if s is None:
                continue
            if s.last != last:  # extended since it was queued: queue it at its new end
                heapq.heappush(heap, (s.last, sid))
                continue
            ready.append((sid, self.open.pop(sid)))

    def _process(self, closed: list, final: bool) -> list:
        transitions = []
        if not self.fitted:
            take = self.warmup_sessions - len(self.training)
            self.training.extend(s.events for _, s in closed[:take])
            closed = closed[take:]
            if len(self.training) >= self.warmup_sessions or (final and len(self.training) >= 8):
                self.model.fit(self.training)
                self.fitted = True
                self.training = []
        if closed and self.fitted:
            scores = self.model.score([s.events for _, s in closed])  # one batch
            for (sid, s), score in zip(closed, scores):
                if self.score_sink is not None:
                    self.score_sink(sid, s.first, s.last, len(s.events), float(score))
                self.n_scored += 1
                if score > 1.0:
                    self.n_anomalous += 1
                if score > 1.0 or self.episodes.active(s.service):
                    info = (sid, *self.model.explain(s.events), len(s.events))
                    transitions += self.episodes.update(s.service, s.last, float(score),
                                                        1.0, 1.0, info)
        return transitions

    def _alerts(self, transitions) -> list[Alert]:
        alerts = []
        for tr in transitions:
            sid, feature, value, n = tr.info
            alerts.append(Alert(
                labels={"alertname": "LogSessionAnomaly", "service": tr.key},
                starts_at=to_datetime(tr.starts_at), status=tr.status,
                ends_at=None if tr.ends_at is None else to_datetime(tr.ends_at),
                annotations={
                    "summary": f"Anomalous sessions in {tr.key} (e.g. {sid})",
                    "description": (f"session {sid} ({n} lines): template {feature} appears "
                                    f"{value:g} times, unlike the sessions learned as normal"),
                    "feature": f"template:{feature}", "value": f"{value:g}",
                    "score": f"{tr.score:.4f}", "session": sid},
                source=self.source, severity=self.severity))
        alerts.sort(key=lambda a: a.ts)
        return alerts

"""Session mode: group log lines by an id from the template parameters, score each session.

A session (e.g. every line about one HDFS block ``blk_...``) becomes a template
count vector, scored by :class:`SessionModel` (a :class:`CountModel`:
IsolationForest + PCA-subspace residual, thresholds from the training sessions'
own scores, so no labels).

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

from aiops.detect import persist
from aiops.detect.alerting import Episodes, seconds, to_datetime
from aiops.detect.counts import CountModel, sequence_counts
from aiops.detect.logs import source_key, template_key
from aiops.schema import Alert, LogRecord, normalize_severity


class SessionModel(CountModel):
    """:class:`CountModel` over sessions given as sequences of template ids."""

    def fit(self, sessions: Sequence[Sequence[str]]) -> "SessionModel":
        super().fit([sequence_counts(s) for s in sessions])
        return self

    def vectors(self, sessions: Iterable[Sequence[str]]) -> np.ndarray:
        return self.transform(sequence_counts(s) for s in sessions)

    def score(self, sessions: Iterable[Sequence[str]]) -> np.ndarray:
        """Anomaly score per session; above 1 means anomalous (higher = worse)."""
        return self.score_counts(sequence_counts(s) for s in sessions)

    def predict(self, sessions: Iterable[Sequence[str]]) -> np.ndarray:
        return (self.score(sessions) > 1.0).astype(int)

    def explain(self, seq: Sequence[str]) -> tuple[str, float]:
        return self.explain_counts(sequence_counts(seq))


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
                                 stale_after=None, lag=self.gap)
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

    def state_dump(self) -> persist.StateDump:
        return persist.StateDump("sessions", {k: v for k, v in self.__dict__.items()
                                              if k != "score_sink"})

    def get_state(self) -> bytes:
        return self.state_dump().to_bytes()

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
                observed_at=to_datetime(tr.decided_at), source=self.source, severity=self.severity))
        alerts.sort(key=lambda a: a.ts)
        return alerts

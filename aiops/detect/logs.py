"""Log anomaly detector: template-count windows scored by IsolationForest, per source.

For each source (the record's service, else its file/host), lines are counted per
template id in tumbling event-time windows. A window is scored when the
watermark passes its end. The first ``warmup_windows`` windows of a source only
train a :class:`CountModel` (template vocabulary, TF-IDF weights, IsolationForest
and PCA residual, thresholds at the ``1 - fpr`` quantile of the training
windows); then every closed window is scored (one call per source per batch)
and the model is refitted each time the history doubles. Three alerts:

* ``LogAnomaly``: the window's count vector is unusual (score above 1, i.e. past
  the learned threshold, with hysteresis); names the template that deviates most.
* ``NewLogTemplate``: a template the source never produced before, after warm-up.
* ``LogErrorBurst``: error-level lines far above the source's usual rate.
"""

from __future__ import annotations

import re
from collections import deque
from datetime import datetime
from typing import Any

import numpy as np

from aiops.detect import persist
from aiops.detect.alerting import Episodes, Transition, seconds, to_datetime
from aiops.detect.counts import CountModel
from aiops.schema import ERROR_LEVELS, Alert, LogRecord, normalize_level, normalize_severity

_NUM = re.compile(r"\d+")


def template_key(record: LogRecord) -> str:
    """The record's template id, or a crude one (digits masked) when none was mined."""
    if record.template_id is not None:
        return str(record.template_id)
    return "raw:" + _NUM.sub("#", record.message)[:120]


def source_key(record: LogRecord) -> str:
    return record.service or record.source or record.host or "unknown"


class _Source:
    """Per-source state: the open window, history of closed windows, the model."""

    def __init__(self, start: int) -> None:
        self.window = start  # index of the open window
        self.counts: dict[str, int] = {}
        self.errors = 0
        self.examples: dict[str, str] = {}
        self.example_at: dict[str, Any] = {}  # when each example was seen
        self.empty_run = 0  # empty windows closed in a row
        self.history: list[tuple[int, dict[str, int], int]] = []  # warm-up windows
        self.n_windows = 0
        self.n_closed = 0  # windows closed so far, counted when they close
        self.known: set[str] = set()
        self.model: CountModel | None = None
        self.train: list[dict[str, int]] = []  # every ``stride``-th window since the start
        self.stride = 1
        self.next_refit = 0
        self.n_fits = 0
        self.recent_errors: deque = deque(maxlen=240)
        self.new_this_window = 0
        self.dormant = False


class LogDetector:
    """Template-window IsolationForest + new-template + error-burst alerts, per source."""

    source = "detector:logs"

    def __init__(self, window: float | str = "1m", warmup_windows: int = 60,
                 tfidf: bool = True, n_estimators: int = 100, max_train: int = 4096,
                 fpr: float = 0.01, variance: float = 0.99, low: float = 0.9,
                 resolve_after: float | str = "5m", min_duration: float | str = 0,
                 new_templates: bool = True, new_template_ttl: float | str = "10m",
                 max_new_per_window: int = 5, error_burst: bool = True,
                 error_min: int = 5, error_sigmas: float = 4.0, max_gap_windows: int = 60,
                 severity: str = "warning", random_state: int = 0) -> None:
        self.window = window
        self.window_s = seconds(window, "window")
        if self.window_s <= 0:
            raise TypeError("window must be positive")
        if warmup_windows < 8:
            raise TypeError(f"warmup_windows must be at least 8, got {warmup_windows}")
        if not 0 < low <= 1:
            raise TypeError(f"low (hysteresis, in threshold units) must be in (0, 1], got {low!r}")
        self.warmup_windows = int(warmup_windows)
        self.tfidf = bool(tfidf)
        self.n_estimators = int(n_estimators)
        self.max_train = int(max_train)
        self.low = float(low)
        self.model_params = dict(n_estimators=self.n_estimators, variance=variance, fpr=fpr,
                                 tfidf=self.tfidf, log=True, random_state=random_state)
        CountModel(**self.model_params)  # validate now
        self.new_templates = bool(new_templates)
        self.max_new_per_window = int(max_new_per_window)
        self.error_burst = bool(error_burst)
        self.error_min = int(error_min)
        self.error_sigmas = float(error_sigmas)
        self.max_gap_windows = int(max_gap_windows)
        self.severity = normalize_severity(severity)
        self.random_state = int(random_state)
        resolve = seconds(resolve_after, "resolve_after")
        self.episodes = Episodes(min_duration=seconds(min_duration, "min_duration"),
                                 resolve_after=resolve, stale_after=None)
        self.bursts = Episodes(resolve_after=resolve, stale_after=None)
        self.novel = Episodes(resolve_after=float("inf"),
                              stale_after=seconds(new_template_ttl, "new_template_ttl"))
        self.sources: dict[str, _Source] = {}
        #: ``score_sink(source, window_start, window_end, lines, score, firing)`` sees every
        #: scored window (the CLI writes them out); not part of the saved state.
        self.score_sink = None

    # -- engine contract ----------------------------------------------------
    def observe(self, records: list, watermark: datetime) -> list[Alert]:
        transitions: list[tuple[str, Transition]] = []
        closed: dict[str, list] = {}  # windows closed in this call, scored together below
        window_s, sources = self.window_s, self.sources
        is_error: dict[str, bool] = {}  # level spelling -> error level (a batch has a few)
        for r in records:
            if type(r) is not LogRecord:
                continue
            key = r.service or r.source or r.host or "unknown"  # source_key, inlined
            idx = int(r.ts.timestamp() // window_s)
            src = sources.get(key)
            if src is None:
                src = sources[key] = _Source(idx)
            if src.dormant:  # back after a long silence: start afresh, no phantom windows
                src.window, src.dormant, src.empty_run = idx, False, 0
            elif idx > src.window:
                closed.setdefault(key, []).extend(self._close_until(src, idx))
                src.dormant = False
            # template_key, its case for mined lines inlined
            tid = str(r.template_id) if r.template_id is not None else template_key(r)
            src.counts[tid] = src.counts.get(tid, 0) + 1
            # the example is the earliest line, the smallest of that instant: lines of one
            # timestamp arrive in any order (concurrent clients), the example must not
            seen = src.examples.get(tid)
            if seen is None:
                src.examples[tid] = r.message[:200]
                src.example_at[tid] = r.ts
            elif r.ts == src.example_at.get(tid) and (example := r.message[:200]) < seen:
                src.examples[tid] = example
            error = is_error.get(r.level)
            if error is None:
                error = is_error[r.level] = normalize_level(r.level) in ERROR_LEVELS
            if error:
                src.errors += 1
            if self.new_templates:
                if tid not in src.known:
                    transitions += self._novel(key, src, tid, r)
                elif self.novel.active((key, tid)):  # still recurring: keep it open
                    transitions += [("novel", t) for t in self.novel.update(
                        (key, tid), r.ts.timestamp(), 1.0, 1.0, 1.0, refire=False)]
        now = watermark.timestamp()
        end = int(now // self.window_s)
        for key, src in self.sources.items():
            if not src.dormant and end > src.window:
                closed.setdefault(key, []).extend(self._close_until(src, end))
        for key, windows in closed.items():
            transitions += self._score(key, self.sources[key], windows)
        transitions += [("novel", t) for t in self.novel.advance(now)]
        transitions += [("window", t) for t in self.episodes.advance(now)]
        transitions += [("burst", t) for t in self.bursts.advance(now)]
        return self._alerts(transitions)

    def flush(self, watermark: datetime) -> list[Alert]:
        transitions: list[tuple[str, Transition]] = []
        for key, src in self.sources.items():
            if not src.dormant and (src.counts or src.errors):
                transitions += self._score(key, src, self._close_until(src, src.window + 1))
        now = watermark.timestamp()
        transitions += [("novel", t) for t in self.novel.close(now)]
        transitions += [("window", t) for t in self.episodes.close(now)]
        transitions += [("burst", t) for t in self.bursts.close(now)]
        return self._alerts(transitions)

    def state_dump(self) -> persist.StateDump:
        return persist.StateDump("logs", {"sources": self.sources, "episodes": self.episodes,
                                          "bursts": self.bursts, "novel": self.novel})

    def get_state(self) -> bytes:
        return self.state_dump().to_bytes()

    def set_state(self, data: bytes) -> None:
        st = persist.loads("logs", data)
        self.sources, self.episodes = st["sources"], st["episodes"]
        for src in self.sources.values():
            src.__dict__.setdefault("example_at", {})  # states saved before these existed
            src.__dict__.setdefault("empty_run", 0)
        self.bursts, self.novel = st["bursts"], st["novel"]

    # -- windows ------------------------------------------------------------
    def _close_until(self, src: _Source, idx: int) -> list[tuple[int, dict, int]]:
        """Close the open window and the empty ones before window ``idx``.

        A silence is scored for at most ``max_gap_windows`` empty windows in a row, counted
        across calls (``empty_run``), so where the watermark happened to stop between calls
        cannot change which windows are scored; past that the source is dormant."""
        cap = self.max_gap_windows
        closed = []
        run = src.empty_run + 1 if not src.counts else 0
        if run <= cap:
            closed.append((src.window, src.counts, src.errors))
        gap = idx - src.window - 1
        scored = max(0, min(gap, cap - run))  # empty windows still inside the cap
        for w in range(src.window + 1, src.window + 1 + scored):
            closed.append((w, {}, 0))
        run += gap
        for _, counts, _ in closed:  # warm-up windows define the known templates
            if src.n_closed >= self.warmup_windows:
                break
            src.known.update(counts)
            src.n_closed += 1
        src.empty_run = run
        src.dormant = run > cap
        src.window, src.counts, src.errors, src.new_this_window = idx, {}, 0, 0
        return closed

    def _score(self, key: str, src: _Source, closed: list) -> list[tuple[str, Transition]]:
        """Score closed windows in order: one model call per model generation."""
        out: list[tuple[str, Transition]] = []
        if src.model is None:
            take = self.warmup_windows - len(src.history)
            src.history.extend(closed[:take])
            if len(src.history) < self.warmup_windows:
                return out
            for _, counts, errors in src.history:
                self._remember(src, counts)
                src.recent_errors.append(errors)
            src.history = []
            self._fit(src)
            closed = closed[take:]
        while closed:
            cut = src.next_refit - src.n_windows
            part, closed = closed[:cut], closed[cut:]
            scores = src.model.score_counts([c for _, c, _ in part])
            for (w, counts, errors), s in zip(part, scores):
                out += self._window(key, src, w, counts, errors, float(s))
                self._remember(src, counts)
            if src.n_windows >= src.next_refit:
                self._fit(src)
        return out

    def _window(self, key, src, w, counts, errors, s) -> list[tuple[str, Transition]]:
        out = []
        t_end = (w + 1) * self.window_s
        if s >= 1.0 or self.episodes.active(key):
            out += [("window", tr) for tr in self.episodes.update(
                key, t_end, s, 1.0, self.low, self._explain(src, counts))]
        if self.score_sink is not None:
            self.score_sink(key, w * self.window_s, t_end, sum(counts.values()), s,
                            self.episodes.firing(key))
        if self.error_burst:
            out += [("burst", tr) for tr in self._burst(key, src, t_end, errors)]
        return out

    def _remember(self, src: _Source, counts: dict[str, int]) -> None:
        """Keep every ``stride``-th window of the history; the stride doubles to stay bounded."""
        if src.n_windows % src.stride == 0:
            src.train.append(counts)
        src.n_windows += 1
        if len(src.train) > self.max_train:
            src.stride *= 2
            src.train = src.train[::2]

    def _fit(self, src: _Source) -> None:
        params = dict(self.model_params, random_state=self.random_state + src.n_fits)
        src.model = CountModel(**params).fit(src.train)
        src.n_fits += 1
        src.next_refit = 2 * src.n_windows

    def _explain(self, src: _Source, counts: dict[str, int]) -> dict:
        feature, value = src.model.explain_counts(counts)
        return {"feature": f"template:{feature}", "value": f"{value:g}",
                "example": src.examples.get(feature, "")}

    # -- error bursts and new templates -------------------------------------
    def _burst(self, key: str, src: _Source, t: float, errors: int) -> list[Transition]:
        past = np.fromiter(src.recent_errors, float)
        src.recent_errors.append(errors)
        mean, std = float(past.mean()) if len(past) else 0.0, float(past.std()) if len(past) else 0.0
        level = (errors - mean) / max(std, 1.0) if errors >= self.error_min else 0.0
        if level < self.error_sigmas and not self.bursts.active(key):
            return []
        info = {"feature": "error_lines", "value": errors, "z": level,
                "example": f"{errors} error lines in {self.window} (usual {mean:.1f})"}
        return self.bursts.update(key, t, level, self.error_sigmas, self.error_sigmas / 2, info)

    def _novel(self, key: str, src: _Source, tid: str, r: LogRecord) -> list[tuple]:
        if src.n_closed < self.warmup_windows:
            return []  # the open window is still a warm-up window: its templates are known
        src.known.add(tid)
        src.new_this_window += 1
        if src.new_this_window > self.max_new_per_window:
            return []
        info = {"feature": f"template:{tid}", "value": 1, "z": 0.0, "example": r.message[:200]}
        t = r.ts.timestamp()
        return [("novel", tr) for tr in self.novel.update((key, tid), t, 1.0, 1.0, 1.0, info)]

    # -- alerts -------------------------------------------------------------
    _NAMES = {"window": "LogAnomaly", "burst": "LogErrorBurst", "novel": "NewLogTemplate"}

    def _alerts(self, transitions: list[tuple[str, Transition]]) -> list[Alert]:
        alerts = []
        for kind, tr in transitions:
            key, tid = tr.key if kind == "novel" else (tr.key, None)
            info: dict[str, Any] = tr.info or {}
            labels = {"alertname": self._NAMES[kind], "service": key}
            if tid is not None:
                labels["template_id"] = tid
            summary = {
                "window": f"Unusual log mix from {key}: {info.get('feature')}",
                "burst": f"Error burst in {key}: {info.get('value')} error lines per window",
                "novel": f"New log template from {key}: {info.get('example', '')[:80]}",
            }[kind]
            severity = "error" if kind == "burst" else self.severity
            alerts.append(Alert(
                labels=labels, starts_at=to_datetime(tr.starts_at), status=tr.status,
                ends_at=None if tr.ends_at is None else to_datetime(tr.ends_at),
                annotations={"summary": summary,
                             "description": str(info.get("example", "")),
                             "feature": str(info.get("feature", "")),
                             "value": str(info.get("value", "")),
                             "score": f"{tr.score:.4f}"},
                observed_at=to_datetime(tr.decided_at), source=self.source, severity=severity))
        alerts.sort(key=lambda a: a.ts)
        return alerts

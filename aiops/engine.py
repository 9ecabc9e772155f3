"""The engine: the one place that knows the stage order.

    records --(durable append)--> input log --(reorder by event time)-->
        templates -> detectors -> (alerts reordered by event time) -> correlator -> store

Event time drives everything. Records wait in a reorder buffer until the
watermark (max event time seen minus ``lateness``) passes them, then flow in
timestamp order, so the same data gives the same incidents whether it is
replayed from files in one go or posted over HTTP in any batching. Detector
alerts surface when their window closes, later than the records behind them;
alerts therefore wait ``alert_delay`` more before the correlator sees them, so it
too gets every alert in event-time order.

Checkpoints hold the input offset, both buffers and every component's state,
written in one store transaction with the rows they produced: a restart resumes
from the last checkpoint and re-processes the batches after it.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence

from aiops.config import Config, ConfigError, build_component
from aiops.correlate import build_correlator
from aiops.detect import build_detectors
from aiops.schema import Alert, Event, LogRecord, Record, iso
from aiops.store import Store, decode_batch, encode_batch, open_store, to_us
from aiops.templates import build_miner

_KIND_RANK = {"event": 0, "metric": 1, "log": 2, "alert": 3}


def _order(r: Record) -> tuple[datetime, int]:
    return (r.ts, _KIND_RANK[r.kind])


@dataclass
class SubmitResult:
    offset: int
    duplicate: bool
    records: int


@dataclass
class EngineParams:
    """``[engine]`` section: how long to wait for late data and how often to checkpoint."""

    lateness_s: float = 60.0
    alert_delay_s: float = 300.0
    checkpoint_records: int = 50_000
    state_version: int = 1

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> "EngineParams":
        known = set(cls.__dataclass_fields__)
        unknown = set(params) - known
        if unknown:
            raise ConfigError(f"[engine]: unknown key(s) {', '.join(sorted(unknown))}; "
                              f"expected {', '.join(sorted(known))}")
        return cls(**params)


@dataclass
class _Outputs:
    """Rows changed since the last checkpoint, keyed by id so the last version wins."""

    alerts: dict[str, dict] = field(default_factory=dict)
    incidents: dict[str, dict] = field(default_factory=dict)
    silences: dict[str, dict] = field(default_factory=dict)
    signals: Counter = field(default_factory=Counter)

    def add(self, changes: Any) -> None:
        if changes is None:
            return
        for row in changes.alerts:
            self.alerts[row["id"]] = row
        for row in changes.incidents:
            self.incidents[row["id"]] = row


class Engine:
    def __init__(self, config: Config | None = None, store: Store | None = None) -> None:
        self.config = config or Config()
        self.params = EngineParams.from_dict(self.config.engine)
        self.store = store if store is not None else open_store()
        self.miner = build_component(build_miner, "templates", self.config.templates)
        self.detectors = build_component(build_detectors, "detect", self.config.detect)
        self.correlator = build_component(build_correlator, "correlate", self.config.correlate)
        self.lateness = timedelta(seconds=self.params.lateness_s)
        self.alert_delay = timedelta(seconds=self.params.alert_delay_s)
        self._lock = threading.RLock()
        self._submit_lock = threading.Lock()
        self._inflight: dict[int, list[Record]] = {}
        self.offset = 0
        self.max_ts: datetime | None = None
        self._records: list[Record] = []
        self._alerts: list[Alert] = []
        self.stats: Counter = Counter()
        self._out = _Outputs()
        self._since_checkpoint = 0
        self._restore()

    # -- input ----------------------------------------------------------------------------
    def submit(self, records: Sequence[Record], *, idem_key: str | None = None,
               kind: str | None = None) -> SubmitResult:
        """Make a batch durable (the 2xx point); processing may happen later."""
        if not records:
            return SubmitResult(self.store.head_offset(), False, 0)
        kinds = {r.kind for r in records}
        payload = encode_batch(records)
        key = idem_key or hashlib.blake2b(payload, digest_size=16).hexdigest()
        stamps = [to_us(r.ts) for r in records]
        batch_kind = kind or (kinds.pop() if len(kinds) == 1 else "mixed")
        with self._submit_lock:
            offset, dup = self.store.append_batch(batch_kind, payload, len(records), min(stamps),
                                                  max(stamps), key)
            if not dup:
                self._inflight[offset] = list(records)  # catch_up need not decode what we hold
        return SubmitResult(offset, dup, len(records))

    def ingest(self, records: Sequence[Record], *, idem_key: str | None = None) -> SubmitResult:
        """Append durably, then process everything up to and including this batch."""
        with self._lock:
            result = self.submit(records, idem_key=idem_key)
            if result.duplicate or not records:
                self.stats["duplicate_batches"] += int(result.duplicate)
                return result
            self.catch_up()
            return result

    def catch_up(self, limit: int = 100) -> int:
        """Process batches committed by others (or before a crash) that we have not seen."""
        done = 0
        with self._lock:
            while True:
                with self._submit_lock:
                    records = self._inflight.pop(self.offset + 1, None)
                    batches = [] if records is not None else \
                        self.store.batches_after(self.offset, limit)
                if records is not None:
                    self._process(records, self.offset + 1)
                    done += 1
                    continue
                if not batches:
                    return done
                for offset, payload in batches:
                    with self._submit_lock:
                        held = self._inflight.pop(offset, None)
                    self._process(held if held is not None else decode_batch(payload), offset)
                    done += 1

    # -- processing -------------------------------------------------------------------------
    def _process(self, records: list[Record], offset: int) -> None:
        signals = self._out.signals
        watermark = self.watermark
        if watermark is not None:
            self.stats["late"] += sum(1 for r in records if r.ts < watermark)
        for r in records:
            ts = r.ts
            if self.max_ts is None or ts > self.max_ts:
                self.max_ts = ts
            signals[(ts.strftime("%Y-%m-%dT%H:00:00Z"), r.kind, r.service)] += 1
        self.stats.update(r.kind for r in records)
        self._records.extend(records)
        self.offset = offset
        self._release(self.watermark)
        self._since_checkpoint += len(records)
        if self._since_checkpoint >= self.params.checkpoint_records:
            self.checkpoint()

    @property
    def watermark(self) -> datetime | None:
        return None if self.max_ts is None else self.max_ts - self.lateness

    def _release(self, watermark: datetime | None, final: bool = False) -> None:
        if watermark is None and not final:
            return
        buf = self._records
        buf.sort(key=_order)
        cut = len(buf) if final else bisect_right(buf, watermark, key=lambda r: r.ts)
        ready, self._records = buf[:cut], buf[cut:]
        if ready:
            self._run_stages(ready, watermark if watermark is not None else ready[-1].ts)
        self._release_alerts(watermark, final)

    def _run_stages(self, records: list[Record], watermark: datetime) -> None:
        logs = [r for r in records if type(r) is LogRecord]
        if logs:
            self.miner.mine(logs)
        new_alerts = [r for r in records if type(r) is Alert]
        self.stats["external_alerts"] += len(new_alerts)
        for detector in self.detectors:
            found = detector.observe(records, watermark)
            self.stats["detector_alerts"] += len(found)
            new_alerts.extend(found)
        self._alerts.extend(new_alerts)
        self._events_pending.extend(r for r in records if type(r) is Event)

    def _release_alerts(self, watermark: datetime | None, final: bool) -> None:
        horizon = None if watermark is None else watermark - self.alert_delay
        buf = self._alerts
        buf.sort(key=lambda a: a.ts)
        events = self._events_pending
        if final:
            alerts, self._alerts = buf, []
            ev, self._events_pending = events, []
        elif horizon is None:
            return
        else:
            cut = bisect_right(buf, horizon, key=lambda a: a.ts)
            alerts, self._alerts = buf[:cut], buf[cut:]
            events.sort(key=lambda e: e.ts)
            ecut = bisect_right(events, horizon, key=lambda e: e.ts)
            ev, self._events_pending = events[:ecut], events[ecut:]
        if alerts or ev or horizon is not None:
            clock = horizon if horizon is not None else (alerts[-1].ts if alerts else None)
            if clock is None:
                return
            self._out.add(self.correlator.observe(alerts, ev, clock))

    _events_pending: list[Event]

    def flush(self) -> None:
        """End of input: release everything, close open windows, checkpoint."""
        with self._lock:
            self.catch_up()
            end = self.max_ts
            self._release(end, final=True)
            if end is not None:
                for detector in self.detectors:
                    found = detector.flush(end)
                    self.stats["detector_alerts"] += len(found)
                    self._alerts.extend(found)
                self._release_alerts(end, final=True)
                self._out.add(self.correlator.flush(end))
            self.checkpoint()

    # -- user actions -----------------------------------------------------------------------
    def ack(self, incident_id: str, by: str, at: datetime, note: str = "") -> dict:
        with self._lock:
            row = self.correlator.ack(incident_id, by, at, note)
            self._out.incidents[row["id"]] = row
            self.checkpoint()
            return row

    def resolve(self, incident_id: str, by: str, at: datetime, note: str = "") -> dict:
        with self._lock:
            row = self.correlator.resolve(incident_id, by, at, note)
            self._out.incidents[row["id"]] = row
            self.checkpoint()
            return row

    # -- durability -------------------------------------------------------------------------
    def _states(self) -> dict[str, bytes]:
        engine_state = {
            "version": self.params.state_version,
            "max_ts": self.max_ts,
            "records": self._records,
            "alerts": self._alerts,
            "events": self._events_pending,
            "stats": dict(self.stats),
        }
        states = {
            "engine": pickle.dumps(engine_state, protocol=pickle.HIGHEST_PROTOCOL),
            "templates": self.miner.get_state(),
            "correlate": self.correlator.get_state(),
        }
        for i, detector in enumerate(self.detectors):
            states[f"detect.{i}"] = detector.get_state()
        return states

    def checkpoint(self) -> None:
        with self._lock:
            out = self._out
            self.store.save_checkpoint(
                self.offset, self._states(), alerts=out.alerts.values(),
                incidents=out.incidents.values(), templates=self.miner.templates(),
                signals=out.signals, silences=out.silences.values())
            self._out = _Outputs()
            self._since_checkpoint = 0

    def _restore(self) -> None:
        self._events_pending = []
        offset, states = self.store.load_checkpoint()
        if "engine" not in states:
            return
        state = pickle.loads(states["engine"])
        if state.get("version") != self.params.state_version:
            raise ConfigError("store was written by an incompatible engine version; "
                              "replay into a new store")
        self.offset = offset
        self.max_ts = state["max_ts"]
        self._records = state["records"]
        self._alerts = state["alerts"]
        self._events_pending = state["events"]
        self.stats = Counter(state["stats"])
        self.miner.set_state(states["templates"])
        self.correlator.set_state(states["correlate"])
        for i, detector in enumerate(self.detectors):
            key = f"detect.{i}"
            if key in states:
                detector.set_state(states[key])

    # -- reporting --------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        s = self.stats
        return {
            "records": {k: s.get(k, 0) for k in ("log", "metric", "event", "alert")},
            "late_records": s.get("late", 0),
            "duplicate_batches": s.get("duplicate_batches", 0),
            "alerts_in": {"external": s.get("external_alerts", 0),
                          "detector": s.get("detector_alerts", 0)},
            "event_time": {"last": iso(self.max_ts), "watermark": iso(self.watermark)},
            "offset": self.offset,
        }

    def close(self) -> None:
        self.store.close()


def ingest_all(engine: Engine, records: Iterable[Record], batch_size: int = 5000) -> None:
    """Feed a record stream to the engine in batches (the replay path)."""
    batch: list[Record] = []
    for record in records:
        batch.append(record)
        if len(batch) >= batch_size:
            engine.ingest(batch)
            batch = []
    if batch:
        engine.ingest(batch)

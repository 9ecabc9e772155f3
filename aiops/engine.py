"""The engine: the one place that knows the stage order.

    records --(durable append)--> input log --> partition(s): reorder by event time,
        templates, detectors --> alerts + events reordered by event time --> correlator --> store

Event time drives everything. Records wait in a partition's reorder buffer until
the watermark (max event time seen minus ``lateness``) passes them, then flow in
timestamp order, so the same data gives the same incidents whether it is
replayed from files in one go or posted over HTTP in any batching. Alert
notifications are later than the rest by nature: Alertmanager sends a resolution
up to one ``group_interval`` (5 min by default) after it happened, and a detector
decides an episode ended only after a quiet period. So alerts are ordered by when
they became known (``Alert.order_ts``) and wait ``alert_delay`` more before the
correlator sees them; a resolution that lands within that delay still counts
before a hold time expires.

Checkpoints hold the input offset, the buffers and every component's state,
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
from aiops.partition import Emitted, Partition
from aiops.schema import Alert, Event, Record, iso
from aiops.store import Store, decode_batch, encode_batch, open_store, to_us


def _alert_order(a: Alert) -> tuple[datetime, datetime, str, str]:
    return (a.order_ts, a.ts, a.fingerprint, a.status)


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
        self.lateness = timedelta(seconds=self.params.lateness_s)
        self.alert_delay = timedelta(seconds=self.params.alert_delay_s)
        self.partition = Partition(self.config.templates, self.config.detect, self.lateness)
        self.correlator = build_component(build_correlator, "correlate", self.config.correlate)
        self._lock = threading.RLock()
        self._submit_lock = threading.Lock()
        self._inflight: dict[int, list[Record]] = {}
        self.offset = 0
        self._alerts: list[Alert] = []
        self._events: list[Event] = []
        self._clock: datetime | None = None  # the correlator's event-time clock
        self.stats: Counter = Counter()
        self._out = _Outputs()
        self._since_checkpoint = 0
        self._restore()

    # kept as attributes for callers that inspect components
    @property
    def miner(self) -> Any:
        return self.partition.miner

    @property
    def detectors(self) -> list:
        return self.partition.detectors

    @property
    def max_ts(self) -> datetime | None:
        return self.partition.max_ts

    @property
    def watermark(self) -> datetime | None:
        return self.partition.watermark

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
        if dup:
            self.stats["duplicate_batches"] += 1
        return SubmitResult(offset, dup, len(records))

    def ingest(self, records: Sequence[Record], *, idem_key: str | None = None) -> SubmitResult:
        """Append durably, then process everything up to and including this batch."""
        with self._lock:
            result = self.submit(records, idem_key=idem_key)
            if not result.duplicate and records:
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
        emitted = self.partition.add(records)
        self.offset = offset
        self._correlate(emitted, final=False)
        self._since_checkpoint += len(records)
        if self._since_checkpoint >= self.params.checkpoint_records:
            self.checkpoint()

    def _correlate(self, emitted: Emitted, final: bool) -> None:
        """Hand alerts and events to the correlator in the order they became known.

        Detectors stamp each notification with the event time their rule decided it
        (``Alert.observed_at``), always after the watermark of the call that released the
        records behind it; so everything known up to the watermark can go now, and later
        calls only ever add later notifications.
        """
        self._alerts.extend(emitted.alerts)
        self._events.extend(emitted.events)
        if final:
            horizon = self.partition.max_ts
        elif emitted.watermark is None:
            return
        else:
            horizon = emitted.watermark - self.alert_delay
        if horizon is None:
            return
        self._alerts.sort(key=_alert_order)
        self._events.sort(key=lambda e: e.ts)
        cut = len(self._alerts) if final else bisect_right(self._alerts, horizon,
                                                           key=_alert_order_ts)
        ecut = len(self._events) if final else bisect_right(self._events, horizon,
                                                            key=lambda e: e.ts)
        alerts, events = self._alerts[:cut], self._events[:ecut]
        del self._alerts[:cut], self._events[:ecut]
        if not alerts and not events and self._clock is not None and horizon <= self._clock:
            return
        self._clock = horizon if self._clock is None else max(self._clock, horizon)
        self._out.add(self.correlator.observe(alerts, events, self._clock))

    def flush(self) -> None:
        """End of input: release everything, close open windows, checkpoint."""
        with self._lock:
            self.catch_up()
            if self.partition.max_ts is not None:
                self._correlate(self.partition.finish(), final=True)
                self._out.add(self.correlator.flush(self._clock))
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

    def add_silence(self, matchers: Any, starts_at: datetime, ends_at: datetime,
                    created_by: str = "", comment: str = "") -> dict:
        with self._lock:
            row = self.correlator.add_silence(matchers, starts_at, ends_at, created_by, comment)
            self._out.silences[row["id"]] = row
            self.checkpoint()
            return row

    def expire_silence(self, silence_id: str, at: datetime | None = None) -> dict:
        with self._lock:
            row = self.correlator.expire_silence(silence_id, at)
            self._out.silences[row["id"]] = row
            self.checkpoint()
            return row

    def list_silences(self) -> list[dict]:
        with self._lock:
            return self.correlator.list_silences()

    # -- durability -------------------------------------------------------------------------
    def _states(self) -> dict[str, bytes]:
        own = {"version": self.params.state_version, "alerts": self._alerts,
               "events": self._events, "clock": self._clock, "stats": dict(self.stats)}
        return {"engine": pickle.dumps(own, protocol=pickle.HIGHEST_PROTOCOL),
                "correlate": self.correlator.get_state(), **self.partition.get_state()}

    def checkpoint(self) -> None:
        with self._lock:
            out = self._out
            self.store.save_checkpoint(
                self.offset, self._states(), alerts=out.alerts.values(),
                incidents=out.incidents.values(), templates=self.partition.templates(),
                signals=self.partition.drain_signals(), silences=out.silences.values())
            self._out = _Outputs()
            self._since_checkpoint = 0

    def _restore(self) -> None:
        offset, states = self.store.load_checkpoint()
        if "engine" not in states:
            for row in self.correlator.list_silences():  # silences from config, stored
                self._out.silences[row["id"]] = row
            return
        own = pickle.loads(states["engine"])
        if own.get("version") != self.params.state_version:
            raise ConfigError("store was written by an incompatible engine version; "
                              "replay into a new store")
        self.offset = offset
        self._alerts = own["alerts"]
        self._events = own["events"]
        self._clock = own["clock"]
        self.stats = Counter(own["stats"])
        self.correlator.set_state(states["correlate"])
        self.partition.set_state(states)

    # -- reporting --------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        s = self.partition.stats
        return {
            "records": {k: s.get(k, 0) for k in ("log", "metric", "event", "alert")},
            "late_records": s.get("late", 0),
            "duplicate_batches": self.stats.get("duplicate_batches", 0),
            "alerts_in": {"external": s.get("external_alerts", 0),
                          "detector": s.get("detector_alerts", 0)},
            "event_time": {"last": iso(self.max_ts), "watermark": iso(self.watermark)},
            "offset": self.offset,
        }

    def close(self) -> None:
        self.store.close()


def _alert_order_ts(a: Alert) -> datetime:
    return a.order_ts


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

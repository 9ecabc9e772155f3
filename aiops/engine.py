"""The engine: the one place that knows the stage order.

    records --(durable append)--> input log --> partition(s): reorder by event time,
        templates, detectors --> alerts + events reordered by event time --> correlator --> store

(records replayed from files skip the input log: see :meth:`Engine.process`)

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

import pickle
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence

from aiops.config import Config, ConfigError, build_component
from aiops.correlate import build_correlator
from aiops.delivery import deliver
from aiops.partition import Emitted, Partition
from aiops.replay import batches
from aiops.schema import Alert, ClockTick, Event, Record, iso
from aiops.store import Store, append_records, decode_batch, encode_batch, open_store, to_us


@dataclass
class SubmitResult:
    offset: int
    duplicate: bool
    records: int


@dataclass
class EngineParams:
    """``[engine]`` section: how long to wait for late data and how often to checkpoint.

    While records keep coming, a checkpoint is written once ``checkpoint_records`` records
    and ``checkpoint_interval_s`` seconds (wall time) have passed since the last one: a
    checkpoint of large detector states costs seconds, and when it happens changes what
    is redone after a crash, never the results. ``flush`` (end of input) and user
    actions always checkpoint; ``aiops serve`` also checkpoints whenever input pauses.

    ``aiops serve`` only: when nothing has arrived for ``idle_clock_s`` seconds (wall time;
    0 = never) and the latest event time is within ``live_within_s`` of the wall clock
    (live input, not history posted over HTTP, whose results must not depend on pauses),
    event time moves to the wall clock, in a committed clock tick (``api.worker``).
    """

    lateness_s: float = 60.0
    alert_delay_s: float = 300.0
    checkpoint_records: int = 50_000
    checkpoint_interval_s: float = 30.0
    correlate_tick_s: float = 10.0
    idle_clock_s: float = 30.0
    live_within_s: float = 3600.0
    state_version: int = 1

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> "EngineParams":
        known = set(cls.__dataclass_fields__)
        unknown = set(params) - known
        if unknown:
            raise ConfigError(f"[engine]: unknown key(s) {', '.join(sorted(unknown))}; "
                              f"expected {', '.join(sorted(known))}")
        # checked here, not where first used: ``lateness_s = "60"`` was a TypeError traceback
        # from timedelta, and a negative lateness or tick a silently odd engine
        for key, value in params.items():
            whole = key in ("checkpoint_records", "state_version")
            positive = key in ("checkpoint_records", "correlate_tick_s")
            if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)) \
                    or value < 0 or (positive and value == 0):
                what = "a whole number" if whole else "a number of seconds"
                raise ConfigError(f"[engine]: {key}: expected {what}, "
                                  f"{'above 0' if positive else '0 or more'}; got {value!r}")
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
    """``workers``: run templates and detection in that many processes, partitioned by
    source (:mod:`aiops.pool`); same results. A store remembers its partition count:
    None takes it from the store (1 for a new one), a different number is an error."""

    def __init__(self, config: Config | None = None, store: Store | None = None,
                 workers: int | None = None) -> None:
        self.config = config or Config()
        self.params = EngineParams.from_dict(self.config.engine)
        self.store = store if store is not None else open_store()
        claim = getattr(self.store, "claim", None)
        if claim is not None:
            claim()  # one processing engine per store file (until the store is closed)
        self.lateness = timedelta(seconds=self.params.lateness_s)
        self.alert_delay = timedelta(seconds=self.params.alert_delay_s)
        self.tick = timedelta(seconds=self.params.correlate_tick_s)
        self.workers = self._partitions(workers)
        self.correlator = build_component(build_correlator, "correlate", self.config.correlate)
        if self.workers > 1:
            from aiops.pool import PartitionPool

            # its local partition builds a miner and detectors here first: config errors
            # surface in this process, not in the workers
            self.partition: Any = PartitionPool(self.workers, self.config.templates,
                                                self.config.detect, self.lateness)
        else:
            self.partition = Partition(self.config.templates, self.config.detect, self.lateness)
        self._lock = threading.RLock()
        self._submit_lock = threading.Lock()
        self._inflight: dict[int, list[Record]] = {}
        self.offset = 0
        self._alerts: list[Alert] = []
        self._events: list[Event] = []
        self._clock: datetime | None = None  # the correlator's event-time clock
        self._last: datetime | None = None  # the last instant handed to the correlator
        self.stats: Counter = Counter()
        #: files replayed into this store (see aiops.cli.replayed), saved with each checkpoint
        self.replayed_inputs: dict[str, list[dict]] = {}
        #: was the input ended (``flush``) after the last records? A replay kept open for
        #: more leaves it False, and the next one that has nothing new to read ends it
        self.input_ended = True
        self._out = _Outputs()
        self._since_checkpoint = 0
        self._checkpointed_at = time.monotonic()
        self._restore()

    def _partitions(self, workers: int | None) -> int:
        if workers is not None and workers < 1:
            raise ConfigError(f"workers must be >= 1, got {workers}")
        self._loaded = self.store.load_checkpoint()  # _restore uses it: read once
        states = self._loaded[1]
        if "engine" not in states:
            return workers or 1
        stored = pickle.loads(states["pool"])["n"] if "pool" in states else 1
        if workers is not None and workers != stored:
            raise ConfigError(f"this store was written with {stored} worker(s); continue it "
                              f"with --workers {stored} (or replay into a new store)")
        return stored

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
        with self._submit_lock:
            offset, dup = append_records(self.store, records, idem_key, kind)
            if not dup:
                self._inflight[offset] = list(records)  # catch_up need not decode what we hold
        if dup:
            self.stats["duplicate_batches"] += 1
        return SubmitResult(offset, dup, len(records))

    def submit_clock(self, now: datetime) -> int:
        """Commit a clock tick (event time reaches ``now`` with no record; see
        :class:`~aiops.schema.ClockTick`): an input-log batch like any other, so a restart
        processes it again at the same place. Its offset."""
        tick = ClockTick(now)
        us = to_us(now)
        with self._submit_lock:
            offset, _ = self.store.append_batch("clock", encode_batch([tick]), 0, us, us,
                                                f"clock:{us}")
            self._inflight[offset] = [tick]  # type: ignore[list-item]
        return offset

    def ingest(self, records: Sequence[Record], *, idem_key: str | None = None) -> SubmitResult:
        """Append durably, then process everything up to and including this batch."""
        with self._lock:
            result = self.submit(records, idem_key=idem_key)
            if not result.duplicate and records:
                self.catch_up()
            return result

    def process(self, records: Iterable[Record]) -> int:
        """Run a batch through the stages without copying it into the input log; the
        number of records it had.

        For input that is durable elsewhere: the files ``aiops replay`` and ``aiops eval``
        read are their own record of the input. Copying them into the store made a 1M-line
        replay's store 126 MB instead of 48 (78 MB of deflated input nothing read again:
        a replay never resumes from the store, it reads its files) and cost a seventh of
        its time. Batches others committed to the input log go first, in order.
        ``records`` may be a lazy stream: with ``--workers`` the pool routes each record as
        it is parsed (see :meth:`PartitionPool.add`); one partition needs the list.
        """
        with self._lock:
            self.catch_up()
            if not self.partition.lazy_batches and type(records) is not list:
                records = list(records)
            if type(records) is list and not records:
                return 0
            return self._process(records, self.offset)

    def catch_up(self, limit: int = 100, max_batches: int | None = None) -> int:
        """Process batches committed by others (or before a crash) that we have not seen.

        The engine lock is taken per batch, so user actions and ``flush`` from other
        threads get in between batches of a long catch-up; ``max_batches`` bounds one
        call (a processing loop can then answer commands and checkpoint in between).
        """
        done = 0
        pending: list[tuple[int, bytes]] = []
        while max_batches is None or done < max_batches:
            with self._lock:
                offset = self.offset + 1
                with self._submit_lock:
                    records = self._inflight.pop(offset, None)
                if records is None:
                    while pending and pending[0][0] < offset:
                        pending.pop(0)
                    if not pending or pending[0][0] != offset:
                        pending = self.store.batches_after(self.offset, limit)
                        if not pending:
                            return done
                    offset, payload = pending.pop(0)
                    with self._submit_lock:
                        records = self._inflight.pop(offset, None)
                    if records is None:
                        records = decode_batch(payload)
                self._process(records, offset)
                done += 1
        return done

    # -- processing -------------------------------------------------------------------------
    def _process(self, records: Iterable[Record], offset: int) -> int:
        self.input_ended = False
        if type(records) is list and len(records) == 1 and type(records[0]) is ClockTick:
            self._advance(records[0].ts)
            self.offset = offset
            return 0
        emitted = self.partition.add(records)
        self.offset = offset
        self._correlate(emitted, final=False)
        self._since_checkpoint += emitted.records
        if self._since_checkpoint >= self.params.checkpoint_records and \
                time.monotonic() - self._checkpointed_at >= self.params.checkpoint_interval_s:
            self.checkpoint()
        return emitted.records

    def _advance(self, ts: datetime) -> None:
        """Event time reaches ``ts`` with no record: release what the new watermark passed."""
        part = self.partition
        if part.max_ts is not None and ts <= part.max_ts:
            return
        part.max_ts = ts
        self.stats["clock_ticks"] += 1
        self._correlate(part.settle(), final=False)

    def _correlate(self, emitted: Emitted, final: bool) -> None:
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
        self._clock, self._last = deliver(self.correlator, self._alerts, self._events, horizon,
                                          self._clock, self._last, self.tick, final,
                                          self._out.add)

    def flush(self) -> None:
        """End of input: release everything, close open windows, checkpoint."""
        with self._lock:
            self.catch_up()
            if self.partition.max_ts is not None:
                self._correlate(self.partition.finish(), final=True)
                self._out.add(self.correlator.flush(self._clock))
            self.input_ended = True
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
    def _states(self) -> dict[str, Any]:
        own = {"version": self.params.state_version, "alerts": self._alerts,
               "events": self._events, "clock": self._clock, "last": self._last,
               "stats": dict(self.stats), "replayed_inputs": self.replayed_inputs,
               "input_ended": self.input_ended}
        return {"engine": pickle.dumps(own, protocol=pickle.HIGHEST_PROTOCOL),
                "correlate": self.correlator.get_state(), **self.partition.get_state(deferred=True)}

    def checkpoint(self) -> None:
        with self._lock:
            out = self._out
            states = self._states()
            templates = self.partition.templates()
            # drained counts stay in ``out`` until a checkpoint holds them: a failed write
            # (disk full) is retried with everything, not without the counts drained before it
            out.signals.update(self.partition.drain_signals())
            self.store.save_checkpoint(
                self.offset, states, alerts=out.alerts.values(),
                incidents=out.incidents.values(), templates=templates,
                signals=out.signals, silences=out.silences.values())
            self._out = _Outputs()
            self._since_checkpoint = 0
            self._checkpointed_at = time.monotonic()

    def _restore(self) -> None:
        offset, states = self._loaded
        del self._loaded
        if "engine" not in states:
            for row in self.correlator.list_silences():  # silences from config, stored
                self._out.silences[row["id"]] = row
            return
        own = pickle.loads(states["engine"])
        if own.get("version") != self.params.state_version:
            raise ConfigError("store was written by an incompatible engine version; "
                              "replay into a new store")
        try:
            self.offset = offset
            self._alerts = own["alerts"]
            self._events = own["events"]
            self._clock = own["clock"]
            self._last = own.get("last", self._clock)
            self.stats = Counter(own["stats"])
            self.replayed_inputs = own.get("replayed_inputs", {})  # stores of before stop 21
            self.input_ended = own.get("input_ended", True)  # before stop 22: replays flushed
            self.correlator.set_state(states["correlate"])
            self.partition.set_state(states)
        except Exception as exc:  # a state this code cannot read: say so, never half-resume
            raise ConfigError(
                f"the store's engine state cannot be resumed by this version of aiops "
                f"({type(exc).__name__}: {exc}); replay into a new store (or omit --store)"
            ) from exc

    # -- reporting --------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        s = self.partition.stats
        return {
            "records": {k: s.get(k, 0) for k in ("log", "metric", "event", "alert")},
            "late_records": s.get("late", 0),
            "duplicate_batches": self.stats.get("duplicate_batches", 0),
            "clock_ticks": self.stats.get("clock_ticks", 0),
            "alerts_in": {"external": s.get("external_alerts", 0),
                          "detector": s.get("detector_alerts", 0)},
            # [detect.metrics] max_series bounds memory (~0.56 MB a series at its caps): the
            # samples of series past it are stored and counted but not scored, and say so here
            "metric_series": {"scored": s.get("metric_series", 0),
                              "samples_not_scored": s.get("metric_samples_unscored", 0)},
            "event_time": {"last": iso(self.max_ts), "watermark": iso(self.watermark)},
            "offset": self.offset,
        }

    def close(self) -> None:
        close = getattr(self.partition, "close", None)
        if close is not None:
            close()
        self.store.close()


def ingest_all(engine: Engine, records: Iterable[Record], batch_size: int = 5000) -> None:
    """Feed a record stream to the engine in batches through the input log (what the API
    does; ``aiops replay`` uses :meth:`Engine.process`)."""
    for batch in batches(records, batch_size):
        engine.ingest(batch)

"""How records travel to ``--workers`` processes: the route, and the batch as columns.

A worker owns routes (a log source, a metric name), so the engine's process routes every
record and sends each worker its share of a batch in one pickle. The share carries only
what templates and detectors read, as flat columns (see :func:`pack_records`); the raw
line, attributes and line number stay with the engine, which journals and shows them.
"""

from __future__ import annotations

import pickle
from datetime import datetime
from typing import Any, Callable, Iterable

from aiops.schema import EPOCH, NO_ATTRIBUTES, LogRecord, MetricSample, Record
from aiops.store.codec import MICROSECOND, from_us

_HIGHEST = pickle.HIGHEST_PROTOCOL


#: relative cost of a record by route kind ("l"og line, "m"etric sample), measured on the
#: 1M-line replay (from the two workers' CPU times and record counts: ~8.4 us per log
#: line, ~38 us per sample): a source goes to the worker with the least work so far. The
#: earlier 2:5 left the worker with more samples ~1 s of CPU behind (9.8 vs 10.7 s); 2:9
#: keeps them within 0.2 s. Results never depend on it, only the balance does
COST = {"l": 2, "m": 9}


def route_key(record: Record) -> str | None:
    """The unit a worker owns (None: handled in the engine's process)."""
    kind = type(record)
    if kind is LogRecord:
        return "l:" + (record.service or record.source or "")
    if kind is MetricSample:
        return "m:" + record.name
    return None


def pack_records(records: list[Record]) -> bytes:
    """What a worker needs of its records, as a pickle of flat columns.

    Templates and detectors read a log line's time, message, service, host, level and
    source, and a sample's time, name, value, labels and source; the rest (raw line,
    attributes, line number) is the engine's, and stays there. Log lines go as columns:
    times (integer microseconds), messages, and an index into the distinct (service,
    host, level, source) combinations, so a line costs an int and a string to pickle, not
    a tuple of six objects; samples go as tuples. Log lines and samples travel in two
    lists: a partition orders a batch by (time, kind) with ties kept in arrival order,
    which the split does not change. (:meth:`aiops.pool.PartitionPool.add` fills the same columns
    while it routes; this is the one-worker form, for tests and benchmarks.)
    """
    share = Share()
    fill_shares(records, [share], lambda key: 0, [], None)
    return share.payload()


class Share:
    """One worker's part of a batch, as the columns :func:`pack_records` describes."""

    __slots__ = ("combos", "times", "messages", "index", "samples")

    def __init__(self) -> None:
        self.combos: dict[tuple, int] = {}
        self.times: list[int] = []
        self.messages: list[str] = []
        self.index: list[int] = []
        self.samples: list[tuple] = []

    def load(self) -> int:
        return COST["l"] * len(self.times) + COST["m"] * len(self.samples)

    def payload(self) -> bytes:
        if not self.times and not self.samples:
            return b""
        return pickle.dumps((list(self.combos), self.times, self.messages, self.index,
                             self.samples), protocol=_HIGHEST)


def fill_shares(records: Iterable[Record], shares: list[Share], worker_for: Callable[[str], int],
                local: list[Record], max_ts: datetime | None) -> tuple[int, datetime | None]:
    """Route each record into its worker's columns (``worker_for(route_key)``), alerts and
    events into ``local``; the number of records and the latest time. One pass, and a
    record is dropped once routed: ``records`` may be a parser's lazy stream."""
    columns: dict[tuple, tuple] = {}  # (service, host, level, source) -> its columns
    samplers: dict[str, Any] = {}     # metric name -> its worker's samples.append
    log, metric = LogRecord, MetricSample
    epoch, unit = EPOCH, MICROSECOND
    count = 0
    for count, r in enumerate(records, 1):  # noqa: B007
        ts = r.ts
        if max_ts is None or ts > max_ts:
            max_ts = ts
        kind = type(r)
        if kind is log:
            combo = (r.service, r.host, r.level, r.source)
            slot = columns.get(combo)
            if slot is None:
                share = shares[worker_for(route_key(r))]
                slot = columns[combo] = (share.times.append, share.messages.append,
                                         share.index.append,
                                         share.combos.setdefault(combo, len(share.combos)))
            times, messages, index, i = slot
            times((ts - epoch) // unit)
            messages(r.message)
            index(i)
        elif kind is metric:
            append = samplers.get(r.name)
            if append is None:
                append = samplers[r.name] = shares[worker_for(route_key(r))].samples.append
            append(((ts - epoch) // unit, r.name, r.value, r.labels, r.source))
        else:
            local.append(r)
    return count, max_ts


def unpack_records(payload: bytes) -> list[Record]:
    """The records again; log lines share one read-only empty attributes mapping (a
    worker never reads them; a dict each was ~64 bytes per buffered line)."""
    combos, times, messages, index, samples = pickle.loads(payload)
    log, metric = LogRecord, MetricSample
    at, none = from_us, NO_ATTRIBUTES
    out: list[Record] = []
    append = out.append
    for us, message, i in zip(times, messages, index):
        service, host, level, source = combos[i]
        append(log(at(us), message, service, host, level, none, "", source))
    for us, name, value, labels, source in samples:
        append(metric(at(us), name, value, labels, source))
    return out

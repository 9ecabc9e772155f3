"""The partition's reorder buffer: the processing order is (event time, kind), stable."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from aiops.partition import merge_sorted, sort_batch
from aiops.schema import Alert, Event, LogRecord, MetricSample

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
RANK = {"event": 0, "metric": 1, "log": 2, "alert": 3}


def _record(rng: random.Random, i: int):
    ts = T0 + timedelta(milliseconds=rng.randint(0, 40))  # many ties between kinds
    kind = rng.choice(["event", "metric", "log", "log", "alert"])
    if kind == "log":
        return LogRecord(ts=ts, message=f"line {i}")
    if kind == "metric":
        return MetricSample(ts=ts, name="m", value=float(i))
    if kind == "event":
        return Event(ts=ts, type="deploy", message=str(i))
    return Alert(labels={"alertname": f"A{i}"}, starts_at=ts)


def test_merge_sorted_is_a_stable_sort_by_time_then_kind():
    """Whatever the overlap between the buffer and the batch: records of one instant go
    events, metrics, logs, alerts, and records equal in both keep their arrival order
    (the buffer's before the batch's)."""
    rng = random.Random(3)
    expected_key = lambda r: (r.ts, RANK[r.kind])  # noqa: E731 - the definition under test
    for trial in range(300):
        arrived = [_record(rng, i) for i in range(rng.randint(0, 60))]
        split = rng.randint(0, len(arrived))
        buffer = sorted(arrived[:split], key=expected_key)
        if trial % 3 == 0 and buffer:  # a batch that only appends
            later = buffer[-1].ts + timedelta(milliseconds=1)
            batch = [LogRecord(ts=later + timedelta(milliseconds=k), message=str(k))
                     for k in range(5)]
        else:
            batch = arrived[split:]
        merged = merge_sorted(list(buffer), sort_batch(batch))
        want = sorted(buffer + batch, key=expected_key)
        assert [id(r) for r in merged] == [id(r) for r in want]

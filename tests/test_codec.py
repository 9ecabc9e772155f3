"""The input log's codec: every record kind comes back exactly as it went in."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from aiops.schema import Alert, Event, LogRecord, MetricSample
from aiops.store.codec import encode_batch, decode_batch

UTC = timezone.utc


def test_a_batch_round_trips_exactly_in_order():
    t = datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=UTC)
    records = [
        LogRecord(ts=t, message="GET /a 200", service="web", host="n1", level="INFO",
                  attributes={"trace_id": "abc", "n": 3}, raw="10:00 GET /a 200",
                  source="app.log", line=7),
        LogRecord(ts=t, message="same instant, raw equals message", raw="same instant, raw "
                  "equals message"),
        LogRecord(ts=t + timedelta(seconds=1), message="whole second"),
        LogRecord(ts=datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), message="pre-1970"),
        MetricSample(ts=t, name="cpu", value=0.5, labels={"host": "n1"}, source="m.csv", line=2),
        Event(ts=t, type="deploy", service="web", message="v2", host="n1",
              attributes={"version": "2"}, source="e.json", line=1),
        Alert(labels={"alertname": "Down", "service": "web"}, starts_at=t,
              ends_at=t + timedelta(minutes=5), status="resolved",
              annotations={"summary": "down"}, source="alertmanager", line=4),
        LogRecord(ts=t + timedelta(microseconds=1), message="after the others"),
    ]
    decoded = decode_batch(encode_batch(records))
    assert decoded == records
    assert [type(r) for r in decoded] == [type(r) for r in records]
    assert all(d.ts.tzinfo is not None for d in decoded)


def test_a_batch_is_encoded_in_pieces_into_the_same_bytes_as_at_once():
    """The input log's bytes (and so the batches' content keys) do not depend on how
    many pieces the encoder made: zlib over the whole JSON array, written piecewise."""
    import zlib

    import orjson

    from aiops.store import codec

    t = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)
    kinds = [lambda i: LogRecord(ts=t + timedelta(milliseconds=i), message=f"GET /a/{i} 200",
                                 service="web", raw=f"raw {i}", line=i),
             lambda i: MetricSample(ts=t, name="cpu", value=i / 7, labels={"h": str(i % 3)}),
             lambda i: Event(ts=t, type="deploy", service="web", message=f"v{i}")]
    chunk = codec._ENCODE_CHUNK
    for n in (0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk + 5):
        records = [kinds[i % 7 % 3](i) for i in range(n)]
        rows = [codec._encode(r) for r in records]
        whole = zlib.compress(orjson.dumps(rows, default=codec._default), 1)
        assert encode_batch(records) == whole, n
        assert encode_batch(iter(records)) == whole, n
        assert decode_batch(whole) == records


def test_microseconds_convert_exactly_through_the_float_path_and_beyond_it():
    # from_us takes a float shortcut (2.5x faster) only where it provably gives the exact
    # value; compare it with exact integer arithmetic across the whole range, at the edges of
    # the shortcut, just outside them, and at every microsecond around whole seconds
    import random

    from aiops.store.codec import _FLOAT_EXACT_US, from_us

    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    rng = random.Random(20261129)
    edge = _FLOAT_EXACT_US
    values = [0, 1, -1, 999_999, 1_000_000, -1_000_001, edge - 1, -(edge - 1), edge, -edge,
              edge + 1, 2**57, -(2**55), 1_772_445_600_123_456]  # years 6537 and 829
    values += [rng.randrange(-edge, edge) for _ in range(200_000)]
    values += [rng.randrange(-2**52, 2**52) | 0xFFFFF for _ in range(20_000)]  # odd low bits
    values += [s * 1_000_000 + d for s in (1_772_445_600, 4_102_444_799, -1_000)
               for d in range(-1000, 1001)]
    for us in values:
        got = from_us(us)
        assert got == epoch + timedelta(microseconds=us), us
        assert got.tzinfo is timezone.utc
    records = [LogRecord(ts=epoch + timedelta(microseconds=us), message="m", source="s")
               for us in values[:5000]]
    assert [r.ts for r in decode_batch(encode_batch(records))] == [r.ts for r in records]

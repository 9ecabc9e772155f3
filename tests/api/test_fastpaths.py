"""The API's fast paths give exactly what the reference code gives."""

from __future__ import annotations

import hashlib
import random

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from aiops.engine import Engine
from aiops.schema import LogRecord
from aiops.store import encode_batch, open_store
from api.backend import commit_batch
from api.fastlogs import parse_log_items
from ingest.errors import ErrorPolicy, ParseError
from ingest.jsonlogs import record_from_object
from ingest.logs import make_line_parser
from ingest.timestamps import TimestampParser

KEYS = ["ts", "time", "@timestamp", "timestamp", "msg", "message", "log", "_raw", "level",
        "severity", "lvl", "service", "app", "name", "host", "hostname", "node", "trace_id",
        "extra", "log.level", "service.name"]
TIMES = st.one_of(
    st.sampled_from(["2026-11-28T17:00:00Z", "2026-11-28T17:00:00.123Z",
                     "2026-11-28T17:00:00.123456789Z", "2026-11-28 17:00:00.5Z",
                     "2026-11-28T17:00:00.12+02:00", "1969-12-31T23:59:59.5Z",
                     "2026-13-28T17:00:00.1Z", "2026-11-28T17:00:00.Z", "2026-11-28T17:00:00.1x",
                     "yesterday", "1795885200", ""]),
    st.integers(min_value=-10, max_value=2 ** 41), st.booleans(), st.none())
VALUES = st.one_of(st.text(max_size=12), st.integers(-5, 70), st.booleans(), st.none(),
                   st.floats(allow_nan=False, allow_infinity=False),
                   st.dictionaries(st.sampled_from(["level", "name", "x"]),
                                   st.text(max_size=5), max_size=2),
                   st.lists(st.integers(-9, 9), max_size=2))


@st.composite
def items(draw):
    keys = draw(st.lists(st.sampled_from(KEYS), unique=True, min_size=1, max_size=7))
    obj = {}
    for k in keys:
        obj[k] = draw(TIMES) if k in ("ts", "time", "@timestamp", "timestamp") else draw(VALUES)
    return obj


def reference(objs, service):
    policy = ErrorPolicy(strict=False, keep=1000)
    ts = TimestampParser()
    fallback = make_line_parser("json", service=service, source="api", timestamps=ts).raw_fallback
    out = []
    for i, obj in enumerate(objs):
        try:
            out.append(record_from_object(obj, location=f"[{i}]", source="api", service=service,
                                          timestamps=ts, raw_fallback=fallback))
        except ParseError as err:
            policy.report(err)
    return out, [e.to_dict() for e in policy.first]


def fast(objs, service):
    policy = ErrorPolicy(strict=False, keep=1000)
    ts = TimestampParser()
    fallback = make_line_parser("json", service=service, source="api", timestamps=ts).raw_fallback
    got = parse_log_items(objs, source="api", service=service, timestamps=ts, policy=policy,
                          raw_fallback=fallback)
    return got, [e.to_dict() for e in policy.first]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(items(), max_size=12), st.sampled_from(["", "svc"]))
def test_fast_json_logs_equal_record_from_object(objs, service):
    objs = orjson.loads(orjson.dumps(objs))  # what a body gives: JSON types only
    assert fast(objs, service) == reference(objs, service)


def test_fast_path_on_a_realistic_batch():
    rng = random.Random(5)
    objs = []
    for i in range(2000):
        frac = rng.choice(["", f".{rng.randint(0, 999):03d}", f".{rng.randint(0, 10**6):06d}"])
        obj = {"ts": f"2026-11-28T17:{i // 60 % 60:02d}:{i % 60:02d}{frac}Z",
               "level": rng.choice(["INFO", "warn", "E", "debug"]), "msg": f"request {i} ok",
               "service": rng.choice(["a", "b", 7]), "host": f"h{i % 3}"}
        if i % 7 == 0:
            obj["trace_id"] = f"{i:08x}"
        if i % 11 == 0:
            obj = {"_raw": f"2026-11-28T17:00:{i % 60:02d}Z ERROR raw line {i}",
                   "_received": "2026-11-28T17:59:00Z"}
        objs.append(obj)
    got, errors = fast(objs, "")
    want, want_errors = reference(objs, "")
    assert got == want and errors == want_errors
    assert sum(1 for r in got if isinstance(r, LogRecord)) == 2000


def test_commit_batch_matches_engine_submit(tmp_path):
    """A batch committed by the API process and the same batch through an Engine are one."""
    ts = TimestampParser()
    records = [record_from_object({"ts": "2026-11-28T17:00:0%dZ" % i, "msg": f"m {i}"},
                                  location=f"[{i}]", source="api", service="", timestamps=ts)
               for i in range(5)]
    store = open_store(tmp_path / "s.db")
    first = commit_batch(store, records)
    again = Engine(store=store).submit(records)
    assert again.duplicate and again.offset == first.offset
    key = hashlib.blake2b(encode_batch(records), digest_size=16).hexdigest()
    row = store.reader().execute("SELECT idem_key, kind, n FROM batches").fetchone()
    assert row == (key, "log", 5)

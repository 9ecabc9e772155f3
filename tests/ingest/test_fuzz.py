"""Property-based fuzzing: whatever bytes or plausible-looking lines arrive, an ingester either
returns records or raises the documented ParseError, never anything else."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.alerts import read_alerts
from ingest.errors import ErrorPolicy, ParseError
from ingest.events import read_events
from ingest.logs import LogReader
from ingest.metrics import read_metrics_csv, read_metrics_json, read_prometheus_text

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
SCRAPE = datetime(2026, 1, 1, tzinfo=timezone.utc)
LOG_FORMATS = [None, "json", "syslog", "rfc5424", "<Date> <Time> <Level> <Component>: <Content>",
               "\\[<Time>\\] \\[<Level>\\] <Content>", "regex:(?P<Timestamp>\\S+) (?P<Content>.*)"]

# pieces real lines are made of, so fuzzing reaches deep into the parsers
TOKENS = st.sampled_from([
    "2026-11-28T17:50:17Z", "2026-11-28 17:50:17,123", "081109 203615", "Jun 14 15:16:01",
    "[Sun Dec 04 04:47:44 2005]", "1795888459585", "<34>", "<165>1", "-", "[", "]", "{", "}",
    '"ts":', '"msg":', '"level":', '"value":', '"labels":', '"alerts":', '"status":',
    '"startsAt":', "firing", "resolved", "null", "true", "1e999", "NaN", "-Infinity", ",", ":",
    "INFO", "ERROR", "host", "sshd[42]:", "\\", "\t", " ", "\n", "\u00e9", "\ufeff", "0001-01-01T00:00:00Z",
    '{"ts":"2026-01-01T00:00:00Z","type":"deploy"}', 'x{a="b"} 1', "timestamp,value",
])
PLAUSIBLE = st.lists(TOKENS, min_size=0, max_size=25).map("".join)


def _drain(fn):
    try:
        for _ in fn():
            pass
    except ParseError as err:
        assert str(err)  # the message must render


def _all_ingesters(data: bytes | str, strict: bool) -> None:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    lines = text.splitlines()
    for fmt in LOG_FORMATS:
        _drain(lambda: LogReader(fmt, policy=ErrorPolicy(strict=strict), year=2026).read(lines))
    _drain(lambda: read_metrics_csv(lines, policy=ErrorPolicy(strict=strict)))
    _drain(lambda: read_prometheus_text(lines, default_ts=SCRAPE,
                                        policy=ErrorPolicy(strict=strict)))
    _drain(lambda: read_metrics_json(data, policy=ErrorPolicy(strict=strict)))
    _drain(lambda: read_events(data, policy=ErrorPolicy(strict=strict)))
    _drain(lambda: read_alerts(data, policy=ErrorPolicy(strict=strict)))


@SETTINGS
@given(st.binary(max_size=400), st.booleans())
def test_random_bytes_only_ever_raise_parse_error(data, strict):
    _all_ingesters(data, strict)


@SETTINGS
@given(st.lists(PLAUSIBLE, min_size=1, max_size=8).map("\n".join), st.booleans())
def test_plausible_lines_only_ever_raise_parse_error(text, strict):
    _all_ingesters(text, strict)
    _all_ingesters(text.encode(), strict)


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                         st.sampled_from(["2026-11-28T17:50:17Z", "0001-01-01T00:00:00Z",
                                          "firing", "resolved", "deploy"]))
KEYS = st.sampled_from(["ts", "time", "name", "value", "labels", "annotations", "status",
                        "startsAt", "endsAt", "alerts", "version", "type", "msg", "message",
                        "level", "service", "fingerprint", "metric", "values", "_raw"])
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(KEYS | st.text(max_size=5), inner, max_size=6)),
    max_leaves=20)


@SETTINGS
@given(JSON_VALUES, st.booleans())
def test_random_json_documents_only_ever_raise_parse_error(doc, strict):
    import json

    try:
        body = json.dumps(doc)
    except (ValueError, OverflowError):
        return
    _all_ingesters(body, strict)
    _all_ingesters("\n".join(json.dumps(d) for d in (doc if isinstance(doc, list) else [doc])),
                   strict)

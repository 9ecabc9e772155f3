"""Metric, event and alert ingesters on real captured payloads and on malformed input."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from ingest.alerts import read_alerts
from ingest.errors import ErrorPolicy, ParseError
from ingest.events import read_events
from ingest.files import InputSpec, read_input, sniff
from ingest.metrics import read_metrics_csv, read_metrics_json, read_prometheus_text
from tests.conftest import shared

UTC = timezone.utc
NAB_SERIES = ["ambient_temperature_system_failure", "cpu_utilization_asg_misconfiguration",
              "ec2_request_latency_system_failure", "machine_temperature_system_failure",
              "nyc_taxi", "rogue_agent_key_hold", "rogue_agent_key_updown"]


@pytest.mark.parametrize("name", NAB_SERIES)
def test_nab_csv_files_load_as_they_are(name):
    path = shared("nab", "data", "realKnownCause", f"{name}.csv")
    assert sniff(path) == ("metric", "csv")
    samples = list(read_input(InputSpec(path=path), ErrorPolicy()))
    with open(path) as fh:
        rows = [line.strip().split(",") for line in fh][1:]
    assert len(samples) == len(rows) > 1000
    assert all(s.name == name and s.labels == {} for s in samples[:10])
    assert [s.ts for s in samples] == [
        datetime.fromisoformat(t).replace(tzinfo=UTC) for t, _ in rows]
    assert [s.value for s in samples] == [float(v) for _, v in rows]


def test_csv_long_and_wide_shapes():
    long = ["timestamp,value,host,name", "2026-01-01T00:00:00Z,1.5,h1,cpu",
            "2026-01-01T00:01:00Z,2.5,h2,cpu"]
    a, b = read_metrics_csv(long)
    assert (a.name, a.value, a.labels) == ("cpu", 1.5, {"host": "h1"})
    wide = ["time,cpu,mem", "2026-01-01T00:00:00Z,0.5,100", "2026-01-01T00:01:00Z,,120"]
    got = [(s.name, s.value) for s in read_metrics_csv(wide)]
    assert got == [("cpu", 0.5), ("mem", 100.0), ("mem", 120.0)]


def test_csv_errors_name_line_and_column():
    lines = ["timestamp,value", "2026-01-01T00:00:00Z,1", "2026-01-01T00:01:00Z,abc",
             "2026-01-01T00:02:00Z,nan", "not-a-time,3", "2026-01-01T00:03:00Z,4"]
    policy = ErrorPolicy(strict=False)
    values = [s.value for s in read_metrics_csv(lines, source="m.csv", policy=policy)]
    assert values == [1.0, 4.0]
    assert [(e.line, e.field) for e in policy.first] == [(3, "value"), (4, "value"),
                                                         (5, "timestamp")]
    assert str(policy.first[0]).startswith("m.csv:3: field 'value': expected a number")
    with pytest.raises(ParseError, match="time column"):
        list(read_metrics_csv(["when,value", "x,1"]))


def test_json_samples_are_strictly_typed():
    body = json.dumps([
        {"ts": "2026-01-01T00:00:00Z", "name": "cpu", "value": 0.5, "labels": {"host": "a"}},
        {"ts": "2026-01-01T00:00:00Z", "name": "cpu", "value": True},
        {"ts": "2026-01-01T00:00:00Z", "name": "cpu", "value": "0.5"},
        {"ts": "yesterday", "name": "cpu", "value": 1},
        {"ts": 1767225600, "metric": "mem", "value": 7, "region": "eu"},
    ])
    policy = ErrorPolicy(strict=False)
    got = list(read_metrics_json(body, policy=policy))
    assert [(s.name, s.value, s.labels) for s in got] == [
        ("cpu", 0.5, {"host": "a"}), ("mem", 7.0, {"region": "eu"})]
    assert [e.field for e in policy.first] == ["[1].value", "[2].value", "[3].ts"]
    assert "boolean" in policy.first[0].expected


def test_prometheus_text_exposition():
    text = """# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000
msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9
go_goroutines 42
bad_value{a="b"} NaN
broken{a="b" 1
"""
    policy = ErrorPolicy(strict=False)
    scrape = datetime(2026, 1, 1, tzinfo=UTC)
    got = list(read_prometheus_text(text.splitlines(), default_ts=scrape, policy=policy))
    assert [(s.name, s.value) for s in got] == [
        ("http_requests_total", 1027.0), ("http_requests_total", 3.0),
        ("msdos_file_access_time_seconds", 1.458255915e9), ("go_goroutines", 42.0)]
    assert got[0].labels == {"method": "post", "code": "200"}
    assert got[0].ts == datetime(2014, 3, 17, 14, 26, 3, tzinfo=UTC)
    assert got[2].labels["path"] == "C:\\DIR\\FILE.TXT"
    assert got[2].labels["error"] == 'Cannot find file:\n"FILE.TXT"'
    assert got[3].ts == scrape
    assert [(e.line, e.field) for e in policy.first] == [(7, "value"), (8, None)]


def test_events_json_and_ndjson():
    nd = ('{"ts":"2026-01-01T00:00:00Z","type":"deployment","service":"checkout",'
          '"version":"v2","message":"rollout"}\n'
          '{"ts":"2026-01-01T00:05:00Z","type":"model_drift","service":"recommender",'
          '"psi":0.31}\n{"ts":"2026-01-01T00:06:00Z"}\n')
    policy = ErrorPolicy(strict=False)
    events = list(read_events(nd, policy=policy))
    assert [(e.type, e.service) for e in events] == [("deploy", "checkout"),
                                                      ("drift", "recommender")]
    assert events[0].attributes == {"version": "v2"} and events[1].attributes == {"psi": 0.31}
    assert policy.first[0].line == 3 and policy.first[0].field == "type"


@pytest.mark.parametrize("name, statuses", [
    ("alertmanager_webhook_sample.json", ["firing", "firing"]),
    ("alertmanager_webhook_sample_resolved.json", ["resolved", "firing"]),
    ("alertmanager_webhook_from_prometheus.json", ["firing"]),
])
def test_alertmanager_payloads_load_with_the_right_statuses(name, statuses):
    path = shared("clients", name)
    assert sniff(path) == ("alert", "alertmanager")
    body = json.loads(path.read_text())
    alerts = list(read_alerts(path.read_bytes()))
    assert [a.status for a in alerts] == statuses
    for alert, raw in zip(alerts, body["alerts"]):
        assert alert.fingerprint == raw["fingerprint"]
        assert alert.labels == raw["labels"]
        assert alert.source == "alertmanager"
        assert alert.attributes["receiver"] == "aiops"
        if alert.status == "firing":
            assert alert.ends_at is None  # 0001-01-01T00:00:00Z means "no end"
        else:
            assert alert.ends_at > alert.starts_at
    if name == "alertmanager_webhook_sample.json":
        assert alerts[1].starts_at == datetime(2026, 11, 28, 17, 50, 17, 65941, tzinfo=UTC)
        assert alerts[0].severity == "critical"


def test_generic_alerts_flat_and_labelled():
    body = json.dumps([
        {"name": "DiskFull", "service": "db", "severity": "P1", "summary": "disk 95%",
         "ts": "2026-01-01T00:00:00Z", "ticket": 42},
        {"labels": {"alertname": "X", "service": "api"}, "status": "resolved",
         "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2026-01-01T00:10:00Z"},
        {"labels": {"alertname": "Y"}, "status": "exploded", "startsAt": "2026-01-01T00:00:00Z"},
        {"labels": {"service": "api"}, "startsAt": "2026-01-01T00:00:00Z"},
        {"labels": {"alertname": "Z"}, "startsAt": "2026-01-01T00:10:00Z",
         "endsAt": "2026-01-01T00:00:00Z"},
    ])
    policy = ErrorPolicy(strict=False)
    a, b = read_alerts(body, policy=policy)
    assert a.labels == {"alertname": "DiskFull", "service": "db", "severity": "P1"}
    assert a.severity == "critical" and a.annotations == {"summary": "disk 95%"}
    assert a.attributes == {"ticket": 42} and len(a.fingerprint) == 16
    assert b.status == "resolved" and b.ts == datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
    assert [e.field for e in policy.first] == ["[2].status", "[3].labels.alertname",
                                               "[4].endsAt"]


def test_truncated_json_is_a_located_parse_error():
    with pytest.raises(ParseError) as info:
        list(read_alerts('{"alerts": [{"labels": {"alertname": "x"}', source="body"))
    assert info.value.source == "body" and info.value.line == 1
    assert "valid JSON" in str(info.value)


def test_invalid_utf8_names_the_byte_offset():
    with pytest.raises(ParseError) as info:
        list(read_events(b'{"ts": "2026-01-01T00:00:00Z", "type": "deploy\xff"}', source="b"))
    assert "offset 46" in str(info.value)


@pytest.mark.parametrize("layout", ["ndjson", "ndjson-blank-first", "array", "pretty", "one"])
def test_json_files_read_like_their_bytes_and_ndjson_streams(tmp_path, layout):
    """An NDJSON file is read line by line (no whole-file copy); every layout gives what
    the same bytes give, bad lines reported by number with the rest kept."""
    items = [{"timestamp": f"2026-03-02T10:00:{i:02d}Z", "name": "cpu", "value": i,
              "labels": {"host": "h1"}} for i in range(40)]
    if layout.startswith("ndjson"):
        lines = [json.dumps(x) for x in items]
        lines[7] = '{"timestamp": "2026-03-02T10:00:07Z", "name": '     # truncated
        text = ("\n\n" if layout == "ndjson-blank-first" else "") + "\n".join(lines) + "\n"
    elif layout == "array":
        text = json.dumps(items, indent=2)
    elif layout == "pretty":
        text = json.dumps(items[0], indent=2)
    else:
        text = json.dumps(items[0])
    path = tmp_path / "m.jsonl"
    path.write_text(text)
    from_file, from_bytes = ErrorPolicy(strict=False), ErrorPolicy(strict=False)
    got = list(read_input(InputSpec(path=path, kind="metric", format="json"), from_file))
    want = list(read_metrics_json(text.encode(), source=str(path), policy=from_bytes))
    assert got == want
    assert [str(e) for e in from_file.first] == [str(e) for e in from_bytes.first]
    if layout.startswith("ndjson"):
        assert len(got) == 39 and [s.value for s in got][:8] == [0, 1, 2, 3, 4, 5, 6, 8]
        blank = 2 if layout == "ndjson-blank-first" else 0
        assert [e.line for e in from_file.first] == [8 + blank]
    else:
        assert len(got) == (40 if layout == "array" else 1)


def test_an_ndjson_file_is_never_read_whole(tmp_path):
    import io

    class LinesOnly(io.StringIO):
        def read(self, *args):
            raise AssertionError("read the whole file")

    lines = [json.dumps({"ts": f"2026-03-02T10:{i // 60:02d}:{i % 60:02d}Z", "type": "deploy",
                         "service": "api"}) for i in range(300)]
    events = list(read_events(LinesOnly("\n".join(lines) + "\n"), source="e.jsonl"))
    assert [e.ts.minute * 60 + e.ts.second for e in events] == list(range(300))
    with pytest.raises(AssertionError, match="whole"):   # a document is read whole
        list(read_events(LinesOnly(json.dumps([json.loads(x) for x in lines[:3]]))))

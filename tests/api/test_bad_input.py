"""The bad-input catalogue: each case gets a 4xx naming the problem, and the service keeps serving."""

from __future__ import annotations

import gzip
import zlib

import orjson
import pytest

from tests.api.conftest import JSON, NDJSON, TEXT, assert_error, healthy, post

TS = "2026-11-28T17:00:00Z"
JSON_ENDPOINTS = ["/api/v1/logs", "/api/v1/metrics", "/api/v1/events", "/api/v1/alerts",
                  "/api/v1/alertmanager"]


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
def test_truncated_json(client, path):
    body = b'[{"ts":"2026-11-28T17:00:00Z","msg":"x","name":"m","value":1},{"ts":'
    resp = assert_error(post(client, path, body), 400, "valid JSON", "char")
    assert resp["error"]["line"] == 1
    healthy(client)


def test_truncated_ndjson_keeps_the_complete_lines(client):
    body = b'{"ts":"2026-11-28T17:00:00Z","msg":"complete"}\n{"ts":"2026-11-28T17:00:01Z","ms'
    body_json = post(client, "/api/v1/logs", body, NDJSON).json()
    assert (body_json["accepted"], body_json["rejected"]) == (1, 1)
    assert body_json["errors"][0]["line"] == 2


def test_invalid_utf8(client):
    bad = b'[{"ts":"2026-11-28T17:00:00Z","msg":"caf\xe9"}]'
    body = assert_error(post(client, "/api/v1/logs", bad), 400, "UTF-8", "offset")
    assert body["error"]["got"] == "e9227d5d"  # the offending bytes, hex
    # line-oriented bodies lose only the bad line
    text = b"2026-11-28 17:00:00 ERROR good line\n2026-11-28 17:00:01 ERROR bad \xff\xfe\n"
    ok = post(client, "/api/v1/logs", text, TEXT).json()
    assert (ok["accepted"], ok["rejected"]) == (1, 1)
    assert ok["errors"][0]["line"] == 2 and "UTF-8" in ok["errors"][0]["expected"]
    only_bad = assert_error(post(client, "/api/v1/logs", b"\xff\xfe\xfd\n", TEXT), 422, "UTF-8")
    assert only_bad["rejected"] == 1
    healthy(client)


def test_body_over_the_limit(client):
    line = b'{"ts":"2026-11-28T17:00:00Z","msg":"' + b"x" * 1000 + b'"}\n'
    body = line * (10 * 1024 * 1024 // len(line) + 1)  # just over 10 MB
    resp = assert_error(post(client, "/api/v1/logs", body, NDJSON), 413, "limit", "bytes")
    assert resp["error"]["expected"] == f"at most {8 * 1024 * 1024} bytes"
    healthy(client)


def test_the_limit_is_configurable():
    from tests.api.conftest import make_client

    with make_client(max_body_bytes=1000) as c:
        assert_error(post(c, "/api/v1/logs", b"[" + b" " * 2000 + b"]"), 413, "1000 bytes")
        assert post(c, "/api/v1/logs", f'[{{"ts":"{TS}","msg":"small"}}]').status_code == 202


def test_one_megabyte_log_line(client):
    big = "x" * (1024 * 1024)
    resp = post(client, "/api/v1/logs", f"2026-11-28 17:00:00 ERROR {big}\n", TEXT)
    body = assert_error(resp, 422, "characters")
    assert body["errors"][0]["line"] == 1 and body["errors"][0]["field"] == "line"
    resp = post(client, "/api/v1/logs", orjson.dumps([{"ts": TS, "msg": big},
                                                      {"ts": TS, "msg": "small"}]))
    body = resp.json()
    assert resp.status_code == 202 and (body["accepted"], body["rejected"]) == (1, 1)
    assert body["errors"][0]["field"] == "message"
    healthy(client)


@pytest.mark.parametrize("value, expected", [(True, "not a string or boolean"),
                                             ("12.5", "not a string or boolean"),
                                             (None, "a number")])
def test_booleans_and_strings_where_numbers_belong(client, value, expected):
    body = orjson.dumps([{"name": "latency_ms", "value": value, "ts": TS}])
    err = assert_error(post(client, "/api/v1/metrics", body), 422, expected)
    assert err["errors"][0]["field"] == "[0].value" and err["errors"][0]["index"] == 0
    err = assert_error(post(client, "/api/v1/logs", orjson.dumps([{"ts": True, "msg": "x"}])),
                       422, "timestamp")
    assert err["errors"][0]["field"] == "[0].ts"
    healthy(client)


@pytest.mark.parametrize("ts", ["1969-12-31T23:59:59Z", "9999-01-01T00:00:00Z", -1,
                                "2201-01-01T00:00:00Z", "0001-01-01T00:00:00Z"])
def test_timestamps_before_1970_or_far_future(client, ts):
    for path, item in (("/api/v1/logs", {"ts": ts, "msg": "x"}),
                       ("/api/v1/events", {"ts": ts, "type": "deploy"}),
                       ("/api/v1/metrics", {"ts": ts, "name": "m", "value": 1})):
        assert_error(post(client, path, orjson.dumps([item])), 422, "timestamp")
    healthy(client)


def test_a_record_stamped_far_ahead_of_the_server_clock_is_rejected_not_event_time(client):
    """One host's skewed clock (or local time sent as UTC) would move event time for every
    source: its records are rejected, naming the field, and the rest of the batch stays."""
    from datetime import datetime, timedelta, timezone

    from tests.api.conftest import make_client

    now = datetime.now(timezone.utc)
    stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    ahead = stamp(now + timedelta(hours=2))
    lines = [{"ts": stamp(now - timedelta(minutes=2)), "msg": "checkout ok"},
             {"ts": ahead, "msg": "skewed host says hi"},
             {"ts": stamp(now - timedelta(minutes=1)), "msg": "checkout ok"}]
    resp = post(client, "/api/v1/logs", b"\n".join(map(orjson.dumps, lines)), NDJSON,
                wait="true")
    body = resp.json()
    assert resp.status_code == 202 and (body["accepted"], body["rejected"]) == (2, 1)
    err = body["errors"][0]
    assert (err["line"], err["field"]) == (2, "ts") and err["got"].startswith(ahead[:19])
    assert "at most 600 s ahead of the server's clock" in err["expected"]
    assert "max_future_s" in err["expected"]
    last = client.get("/api/v1/status").json()["engine"]["event_time"]["last"]
    assert last.startswith(lines[2]["ts"][:19])  # event time never saw the skewed record
    for path, item, field in (
            ("/api/v1/metrics", {"ts": ahead, "name": "m", "value": 1}, "ts"),
            ("/api/v1/events", {"ts": ahead, "type": "deploy", "service": "api"}, "ts"),
            ("/api/v1/alerts", {"labels": {"alertname": "A"}, "startsAt": ahead}, "startsAt")):
        rejected = assert_error(post(client, path, orjson.dumps([item])), 422, "ahead of")
        assert rejected["errors"][0]["field"] == field
    with make_client(max_future_s=86400) as lenient:  # [api] max_future_s
        ok = post(lenient, "/api/v1/logs", orjson.dumps([lines[1]]))
        assert ok.status_code == 202 and ok.json()["accepted"] == 1
    healthy(client)


def test_nan_and_infinity(client):
    for literal in (b"NaN", b"Infinity", b"-Infinity", b"1e999"):
        body = b'[{"name":"m","ts":"2026-11-28T17:00:00Z","value":' + literal + b"}]"
        assert_error(post(client, "/api/v1/metrics", body), 400, "valid JSON")
    for text in ("NaN", "Inf", "+Inf"):
        body = assert_error(post(client, "/api/v1/metrics", f"up {text}\n", TEXT,
                                 timestamp=TS), 422, "finite")
        assert body["errors"][0]["line"] == 1
    otlp = {"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "m", "gauge": {
        "dataPoints": [{"timeUnixNano": "1795885200000000000", "asDouble": "NaN"},
                       {"timeUnixNano": "1795885200000000000", "asDouble": 1.5}]}}]}]}]}
    resp = post(client, "/v1/metrics", orjson.dumps(otlp))
    partial = resp.json()["partialSuccess"]
    assert resp.status_code == 200 and partial["rejectedDataPoints"] == "1"
    assert "finite" in partial["errorMessage"]
    healthy(client)


def test_a_hundred_thousand_labels(client):
    labels = {f"l{i}": "v" for i in range(100_000)}
    body = orjson.dumps([{"name": "m", "value": 1, "ts": TS, "labels": labels}])
    err = assert_error(post(client, "/api/v1/metrics", body), 422, "at most 128 labels")
    assert err["errors"][0]["got"] == "100000 labels"
    alert = {"labels": {"alertname": "A", **labels}, "startsAt": TS}
    assert_error(post(client, "/api/v1/alerts", orjson.dumps([alert])), 422, "at most 128")
    healthy(client)


@pytest.mark.parametrize("ctype", ["application/xml", "application/x-www-form-urlencoded",
                                   "image/png", "application/json; charset=latin-1"])
def test_unknown_content_types(client, ctype):
    body = assert_error(post(client, "/api/v1/logs", b"[]", {"content-type": ctype}), 415,
                        "Content-Type")
    assert body["error"]["field"] == "Content-Type"
    resp = post(client, "/v1/logs", b"{}", {"content-type": ctype})
    assert resp.status_code == 415 and "accepted" in resp.json()["message"]  # google.rpc.Status
    assert_error(post(client, "/api/v1/logs", b"[]", {**JSON, "content-encoding": "br"}), 415,
                 "Content-Encoding")
    healthy(client)


def _bomb(size: int, wbits: int = 31) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    chunk = b"\0" * (1 << 20)
    return b"".join(c.compress(chunk) for _ in range(size >> 20)) + c.flush()


@pytest.mark.parametrize("encoding, wbits", [("gzip", 31), ("deflate", 15), (None, 31)])
def test_gzip_bombs(client, encoding, wbits):
    bomb = _bomb(200 << 20, wbits)  # 200 MB of zeros in a few hundred KB
    assert len(bomb) < 1 << 20
    headers = {**NDJSON, **({"content-encoding": encoding} if encoding else {})}
    assert_error(post(client, "/api/v1/logs", bomb, headers), 413, "inflates past")
    resp = post(client, "/v1/logs", bomb, {**headers, "content-type": "application/x-protobuf"})
    assert resp.status_code == 413
    healthy(client)


def test_corrupt_gzip(client):
    data = gzip.compress(b'[{"ts":"2026-11-28T17:00:00Z","msg":"x"}]')
    assert_error(post(client, "/api/v1/logs", data[:-12], {**JSON, "content-encoding": "gzip"}),
                 400, "gzip")
    healthy(client)


def test_wrong_shapes_and_parameters(client):
    assert_error(post(client, "/api/v1/events", b'"just a string"'), 422, "JSON object")
    assert_error(post(client, "/api/v1/events", b'[{"ts":"2026-11-28T17:00:00Z"}]'), 422,
                 "event type")
    assert_error(post(client, "/api/v1/logs", b"x y z\n", TEXT, year="abc"), 422, "year")
    assert_error(client.get("/api/v1/alerts", params={"limit": 0}), 422, "limit")
    assert_error(client.get("/api/v1/alerts", params={"limit": 100_001}), 422, "limit")
    assert_error(client.get("/api/v1/incidents", params={"since": "last tuesday"}), 422, "since")
    assert_error(client.get("/api/v1/incidents", params={"cursor": "garbage"}), 422, "cursor")
    assert_error(client.get("/api/v1/incidents", params={"status": "sleeping"}), 422, "status")
    assert_error(post(client, "/api/v1/logs", b"x\n", TEXT, format="<Nope>"), 400, "format")
    assert_error(post(client, "/api/v1/logs", b"[]", JSON, format="syslog"), 400, "format")
    assert_error(client.get("/api/v1/nothing-here"), 404, "no such endpoint")
    assert_error(client.delete("/api/v1/logs"), 405)
    healthy(client)


def test_empty_batches_are_accepted_as_nothing(client):
    for body, headers in ((b"[]", JSON), (b"", NDJSON), (b"\n\n", TEXT)):
        resp = post(client, "/api/v1/logs", body, headers)
        assert resp.status_code == 202, resp.text
        assert resp.json()["accepted"] == 0 and resp.json()["offset"] is None

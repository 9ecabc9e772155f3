"""Every ingest endpoint and format, fed the payloads real clients sent, as they are."""

from __future__ import annotations

import gzip

import orjson

from tests.api.conftest import JSON, NDJSON, TEXT, client_payload, post
from tests.conftest import shared


def records(c, kind=None, **params):
    q = {"limit": 10_000, **params}
    if kind:
        q["kind"] = kind
    return c.get("/api/v1/records", params=q).json()["items"]


def test_syslog_ng_array_with_raw_only_item(client):
    resp = post(client, "/api/v1/logs", client_payload("syslogng_array_sample.json"))
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert (body["kind"], body["accepted"], body["rejected"], body["duplicate"]) == \
        ("log", 3, 0, False)
    got = records(client, "log")
    assert [r["message"] for r in got] == ["db timeout 1", "db timeout 2",
                                           "plain text line not json"]
    assert got[0]["service"] == "checkout" and got[0]["level"] == "ERROR"
    assert got[0]["ts"] == "2026-11-28T17:00:01Z"
    assert got[0]["attributes"]["trace_id"] == "abc1"
    assert got[2]["ts"] == "2026-11-28T17:52:41Z"  # the _raw line's receive time
    # syslog-ng re-sends a failed batch: the same body is a duplicate, nothing new stored
    again = post(client, "/api/v1/logs", client_payload("syslogng_array_sample.json")).json()
    assert again["duplicate"] is True and again["offset"] == body["offset"]
    assert len(records(client, "log")) == 3


def test_rsyslog_bulk_gets_an_elasticsearch_reply(client):
    resp = post(client, "/_bulk", client_payload("rsyslog_omelasticsearch_bulk_sample.txt"))
    assert resp.status_code == 200, resp.text
    reply = resp.json()
    assert reply["errors"] is False and isinstance(reply["took"], int)
    assert [list(i) for i in reply["items"]] == [["index"]] * 3
    assert all(i["index"]["status"] == 201 and i["index"]["_index"] == "aiops-logs"
               for i in reply["items"])
    got = records(client, "log")
    assert [r["message"] for r in got] == [f"card declined {i}" for i in (1, 2, 3)]
    assert {(r["service"], r["level"], r["host"]) for r in got} == {("payments", "ERROR", "vm")}
    # with an index in the path, and a bad document: ES semantics, 200 with a failed item
    bad = b'{"index":{}}\n{"message":"no time here"}\n{"create":{}}\n' \
          b'{"@timestamp":"2026-11-28T18:00:00Z","message":"ok"}\n'
    reply = post(client, "/logs-2026/_bulk", bad, NDJSON).json()
    assert reply["errors"] is True
    first, second = reply["items"]
    assert first["index"]["status"] == 400 and "timestamp" in first["index"]["error"]["reason"]
    assert second["create"]["status"] == 201 and second["create"]["_index"] == "logs-2026"


def test_alertmanager_webhooks_and_resends(client):
    for name in ("alertmanager_webhook_sample.json", "alertmanager_webhook_from_prometheus.json"):
        resp = post(client, "/api/v1/alertmanager", client_payload(name))
        assert resp.status_code == 202, resp.text
        assert resp.json()["rejected"] == 0
    # Alertmanager re-sends at every group_interval: identical body, duplicate batch
    again = post(client, "/api/v1/alertmanager",
                 client_payload("alertmanager_webhook_sample.json")).json()
    assert again["duplicate"] is True
    resolved = post(client, "/api/v1/alertmanager",
                    client_payload("alertmanager_webhook_sample_resolved.json")).json()
    assert resolved["accepted"] == 2 and resolved["duplicate"] is False
    assert client.post("/api/v1/flush").status_code == 200
    alerts = client.get("/api/v1/alerts").json()["items"]
    ids = sorted(a["id"] for a in alerts)
    assert ids == ["08acbe22db9e6c9e@2026-11-28T17:51:21.558000Z",
                   "4324684e1c3ca260@2026-11-28T17:50:17Z",
                   "fdc65feb95509fe3@2026-11-28T17:50:17.065941Z"]  # no duplicates
    by_fp = {a["fingerprint"]: a for a in alerts}
    assert by_fp["4324684e1c3ca260"]["status"] == "resolved"
    assert by_fp["4324684e1c3ca260"]["ends_at"] == "2026-11-28T17:50:27Z"
    assert by_fp["fdc65feb95509fe3"]["status"] == "firing"
    assert by_fp["08acbe22db9e6c9e"]["labels"]["job"] == "demo"
    assert all(a["source"] == "alertmanager" for a in alerts)
    # the critical checkout alerts open an incident at once; the lone warning has not yet
    # outlived the correlator's hold time (2 min of event time) when input ends, so it waits
    assert by_fp["4324684e1c3ca260"]["incident_id"] == by_fp["fdc65feb95509fe3"]["incident_id"]
    assert by_fp["4324684e1c3ca260"]["incident_id"] is not None
    assert by_fp["08acbe22db9e6c9e"]["incident_id"] is None
    incidents = client.get("/api/v1/incidents").json()["items"]
    assert [i["services"] for i in incidents] == [["checkout"]]


def test_alertmanager_endpoint_refuses_other_json(client):
    resp = post(client, "/api/v1/alertmanager", b'{"name":"x","ts":"2026-11-28T17:00:00Z"}')
    assert resp.status_code == 422
    assert "Alertmanager webhook" in resp.json()["errors"][0]["expected"]


def test_otlp_json_logs_sample(client):
    resp = post(client, "/v1/logs", client_payload("otlp_logs_json_body_sample.json"))
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    assert resp.json() == {}
    got = records(client, "log")
    assert [r["message"] for r in got] == ["db timeout after 5000 ms", "slow query"]
    assert [r["level"] for r in got] == ["ERROR", "WARN"]
    assert got[0]["service"] == "checkout"
    assert got[0]["attributes"]["resource"]["service.name"] == "checkout"
    assert got[0]["attributes"]["db.system"] == "postgresql"
    assert got[0]["attributes"]["retry"] == 2


def test_logs_ndjson_text_formats_and_gzip(client):
    nd = b'{"ts":"2026-11-28T17:00:00Z","msg":"a 1","service":"web"}\n' \
         b'{"ts":"2026-11-28T17:00:01Z","msg":"a 2","service":"web"}\n'
    assert post(client, "/api/v1/logs", nd, NDJSON).json()["accepted"] == 2
    hdfs = shared("loghub_2k", "HDFS", "HDFS_2k.log").read_bytes().splitlines(keepends=True)
    body = b"".join(hdfs[:200])
    resp = post(client, "/api/v1/logs", gzip.compress(body),
                {**TEXT, "content-encoding": "gzip"},
                format="<Date> <Time> <Pid> <Level> <Component>: <Content>", service="hdfs")
    assert resp.status_code == 202 and resp.json()["accepted"] == 200, resp.text
    syslog = b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n"
    resp = post(client, "/api/v1/logs", syslog, TEXT, format="syslog", year=2026)
    assert resp.json()["accepted"] == 1
    auto = b"2026-11-28 17:00:00,123 ERROR payment failed for order 17\n" \
           b"2026-11-28 17:00:01,456 INFO payment ok for order 18\n"
    assert post(client, "/api/v1/logs", auto, TEXT).json()["accepted"] == 2
    got = records(client, "log", service="hdfs")
    assert len(got) == 200 and got[0]["message"].startswith("PacketResponder 1 for block")


def test_node_and_container_log_layouts_over_http(client):
    """What a node ships as text: CRI container lines, logfmt, journald JSON, Docker JSON."""
    cri = (b"2026-11-28T17:00:00.000000001Z stderr F E1128 17:00:00.000001  1 main.go:42] "
           b"db down\n2026-11-28T17:00:01.000000000Z stdout P half of \n"
           b"2026-11-28T17:00:01.000000001Z stdout F a line\n")
    resp = post(client, "/api/v1/logs", cri, TEXT, service="api")
    assert resp.status_code == 202 and resp.json()["accepted"] == 2, resp.text
    logfmt = b'ts=2026-11-28T17:00:02Z level=warn msg="Scrape failed" service=prometheus\n'
    assert post(client, "/api/v1/logs", logfmt, TEXT).json()["accepted"] == 1
    journal = (b'{"__REALTIME_TIMESTAMP":"1795885203000000","PRIORITY":"3","_HOSTNAME":"n1",'
               b'"SYSLOG_IDENTIFIER":"kubelet","MESSAGE":"image pull failed"}\n')
    assert post(client, "/api/v1/logs", journal, NDJSON).json()["accepted"] == 1
    docker = [{"log": "2026-11-28 17:00:04,000 ERROR pool exhausted\n", "stream": "stderr",
               "time": "2026-11-28T17:00:04Z", "service": "payments"}]
    assert post(client, "/api/v1/logs", orjson.dumps(docker)).json()["accepted"] == 1
    got = {(r["service"], r["level"], r["message"]) for r in records(client, "log")}
    assert got == {("api", "ERROR", "db down"), ("api", "", "half of a line"),
                   ("prometheus", "WARN", "Scrape failed"),
                   ("kubelet", "ERROR", "image pull failed"),
                   ("payments", "ERROR", "pool exhausted")}


def test_kubernetes_events_posted_as_kubectl_prints_them(client):
    from tests.ingest.test_k8sevents import LIST

    resp = post(client, "/api/v1/events", orjson.dumps(LIST))
    assert resp.status_code == 202 and resp.json()["accepted"] == 5, resp.text
    got = [(e["type"], e["service"]) for e in records(client, "event")]
    assert sorted(got) == sorted([("scale", "checkout"), ("successfulcreate", "payments"),
                                  ("restart", "checkout"), ("nodenotready", ""),
                                  ("restart", "postgres-0")])


def test_metrics_json_and_prometheus_text(client):
    samples = [{"name": "latency_ms", "value": 12.5, "ts": "2026-11-28T17:00:00Z",
                "labels": {"service": "checkout"}},
               {"metric": "errors", "value": 3, "ts": 1795885200, "service": "checkout"}]
    assert post(client, "/api/v1/metrics", orjson.dumps(samples)).json()["accepted"] == 2
    series = {"metric": {"__name__": "up", "job": "api"},
              "values": [[1795885200, "1"], [1795885215, "0"]]}
    assert post(client, "/api/v1/metrics", orjson.dumps(series)).json()["accepted"] == 2
    prom = b'# HELP http_requests_total Requests\n# TYPE http_requests_total counter\n' \
           b'http_requests_total{service="checkout",code="500"} 1027 1795885200000\n' \
           b'process_open_fds 12\n'
    resp = post(client, "/api/v1/metrics", prom, {"content-type": "text/plain; version=0.0.4"},
                timestamp="2026-11-28T17:00:00Z")
    assert resp.json()["accepted"] == 2
    got = records(client, "metric")
    fds = [r for r in got if r["name"] == "process_open_fds"][0]
    assert fds["ts"] == "2026-11-28T17:00:00Z" and fds["value"] == 12.0
    http = [r for r in got if r["name"] == "http_requests_total"][0]
    assert http["labels"] == {"service": "checkout", "code": "500"}


def test_events_and_generic_alerts(client):
    events = [{"ts": "2026-11-28T16:58:00Z", "type": "deployment", "service": "checkout",
               "version": "142"},
              {"ts": "2026-11-28T16:59:00Z", "type": "model_drift", "service": "ranker"}]
    body = post(client, "/api/v1/events", orjson.dumps(events)).json()
    assert body["accepted"] == 2
    got = records(client, "event")
    assert [e["type"] for e in got] == ["deploy", "drift"]
    assert got[0]["attributes"] == {"version": "142"}
    alerts = b'{"name":"DiskFull","service":"node-3","severity":"P2",' \
             b'"ts":"2026-11-28T17:00:00Z"}\n'
    assert post(client, "/api/v1/alerts", alerts, NDJSON).json()["accepted"] == 1
    alert = records(client, "alert")[0]
    assert alert["labels"]["alertname"] == "DiskFull" and alert["severity"] == "error"
    # Alertmanager bodies are recognised on the generic endpoint too
    resp = post(client, "/api/v1/alerts", client_payload("alertmanager_webhook_sample.json"))
    assert resp.json()["accepted"] == 2


def test_partial_acceptance_lists_each_rejection(client):
    items = [{"ts": "2026-11-28T17:00:00Z", "msg": "ok 1"},
             {"ts": "yesterday", "msg": "bad time"},
             {"msg": "no time"},
             {"ts": "2026-11-28T17:00:02Z", "msg": "ok 2"}]
    resp = post(client, "/api/v1/logs", orjson.dumps(items))
    assert resp.status_code == 202
    body = resp.json()
    assert (body["accepted"], body["rejected"]) == (2, 2)
    assert [e["index"] for e in body["errors"]] == [1, 2]
    assert body["errors"][0]["field"] == "[1].ts" and body["errors"][0]["got"] == "yesterday"
    assert "timestamp" in body["errors"][1]["expected"]
    nd = b'{"ts":"2026-11-28T17:00:00Z","msg":"fine"}\n{"ts":"2026-11-28T17:00:01Z"\n'
    body = post(client, "/api/v1/logs", nd, NDJSON).json()
    assert (body["accepted"], body["rejected"]) == (1, 1) and body["errors"][0]["line"] == 2


def test_rejection_list_is_capped():
    from tests.api.conftest import make_client

    with make_client(max_errors=3) as c:
        items = [{"ts": "never", "msg": str(i)} for i in range(50)] + \
                [{"ts": "2026-11-28T17:00:00Z", "msg": "ok"}]
        body = post(c, "/api/v1/logs", orjson.dumps(items)).json()
        assert body["rejected"] == 50 and len(body["errors"]) == 3
        assert body["errors_truncated"] is True


def test_idempotency_key_and_wait(client):
    first = post(client, "/api/v1/events",
                 b'[{"ts":"2026-11-28T17:00:00Z","type":"deploy","service":"a"}]',
                 {**JSON, "Idempotency-Key": "deploy-1"}, wait="true").json()
    assert first["duplicate"] is False and first["processed"] is True
    # same key, different content: the key wins (a retry of the same request)
    second = post(client, "/api/v1/events",
                  b'[{"ts":"2026-11-28T17:05:00Z","type":"deploy","service":"a"}]',
                  {**JSON, "Idempotency-Key": "deploy-1"}).json()
    assert second["duplicate"] is True and second["offset"] == first["offset"]
    assert len(records(client, "event")) == 1


def test_status_flush_and_metrics(client):
    post(client, "/api/v1/logs", client_payload("syslogng_array_sample.json"))
    flushed = client.post("/api/v1/flush").json()
    assert flushed["processed_offset"] == flushed["head_offset"] == 1
    assert flushed["summary"]["records"]["log"] == 3
    status = client.get("/api/v1/status").json()
    assert status["lag_batches"] == 0 and status["worker_running"] is True
    assert status["batches"]["log"] == {"batches": 1, "records": 3}
    from prometheus_client.parser import text_string_to_metric_families

    text = client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    ingested = families["aiops_records_ingested"].samples
    assert any(s.labels == {"kind": "log", "endpoint": "logs"} and s.value == 3
               for s in ingested)
    assert families["aiops_processing_lag_batches"].samples[0].value == 0
    assert "aiops_http_request_duration_seconds" in families
    assert client.get("/readyz").json()["ready"] is True


def test_series_past_max_series_show_in_status_and_metrics():
    from prometheus_client.parser import text_string_to_metric_families

    from aiops.config import Config
    from tests.api.conftest import make_client

    with make_client(Config(detect={"metrics": {"max_series": 1}})) as c:
        body = orjson.dumps([{"ts": f"2026-11-28T17:{m:02d}:00Z", "name": "latency_ms",
                              "value": 40 + m, "labels": {"service": svc}}
                             for m in range(5) for svc in ("checkout", "payments")])
        assert post(c, "/api/v1/metrics", body).json()["accepted"] == 10
        c.post("/api/v1/flush")
        series = c.get("/api/v1/status").json()["engine"]["metric_series"]
        assert series == {"scored": 1, "samples_not_scored": 5}
        families = {f.name: f for f in text_string_to_metric_families(c.get("/metrics").text)}
        assert families["aiops_metric_series_scored"].samples[0].value == 1
        assert families["aiops_metric_samples_not_scored"].samples[0].value == 5


def test_backpressure_when_processing_falls_behind():
    from tests.api.conftest import make_client

    with make_client(max_lag_batches=2, max_lag_wait_s=0.2) as c:
        backend = c.app.state.backend
        backend.stop()  # processing stalls
        for i in range(3):
            body = f'[{{"ts":"2026-11-28T17:00:0{i}Z","msg":"m {i}"}}]'
            assert post(c, "/api/v1/logs", body).status_code == 202
        resp = post(c, "/api/v1/logs", '[{"ts":"2026-11-28T17:00:09Z","msg":"later"}]')
        assert resp.status_code == 503 and resp.headers["retry-after"] == "2"
        assert resp.json()["error"]["code"] == "processing_behind"
        otlp = post(c, "/v1/logs", b"{}")
        assert otlp.status_code == 503 and otlp.json()["code"] == 3
        backend.start()  # processing resumes: ingest is admitted again
        resp = post(c, "/api/v1/logs", '[{"ts":"2026-11-28T17:00:09Z","msg":"later"}]')
        assert resp.status_code == 202

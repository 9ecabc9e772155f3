"""OTLP/HTTP: protobuf (plain and gzip) and JSON, logs and metrics, partial success, errors."""

from __future__ import annotations

import gzip

import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest, ExportLogsServiceResponse)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest, ExportMetricsServiceResponse)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from ingest.otlp import encode_status
from tests.api.conftest import client_payload, post

PB = {"content-type": "application/x-protobuf"}
NS = 1795885200_000_000_000  # 2026-11-28T17:00:00Z


def kv(key, value):
    if isinstance(value, bool):
        v = AnyValue(bool_value=value)
    elif isinstance(value, int):
        v = AnyValue(int_value=value)
    elif isinstance(value, float):
        v = AnyValue(double_value=value)
    else:
        v = AnyValue(string_value=value)
    return KeyValue(key=key, value=v)


def logs_request(n=3, bad_times=()) -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.extend([kv("service.name", "checkout"), kv("host.name", "node-1")])
    sl = rl.scope_logs.add()
    sl.scope.name = "checkout.db"
    for i in range(n):
        lr = sl.log_records.add()
        lr.time_unix_nano = 0 if i in bad_times else NS + i * 1_000_000
        lr.severity_number = 17
        lr.body.string_value = f"db timeout after {5000 + i} ms"
        lr.attributes.extend([kv("retry", i), kv("db.system", "postgresql")])
        lr.trace_id = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
        lr.span_id = bytes.fromhex("b7ad6b7169203331")
    return req


def metrics_request() -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.append(kv("service.name", "checkout"))
    sm = rm.scope_metrics.add()
    gauge = sm.metrics.add(name="queue_depth")
    p = gauge.gauge.data_points.add(time_unix_nano=NS, as_int=7)
    p.attributes.append(kv("queue", "orders"))
    total = sm.metrics.add(name="requests")
    total.sum.data_points.add(time_unix_nano=NS, as_double=1027.0)
    hist = sm.metrics.add(name="latency")
    hp = hist.histogram.data_points.add(time_unix_nano=NS, count=10, sum=1.5)
    hp.bucket_counts.extend([5, 5])
    hp.explicit_bounds.append(0.1)
    summary = sm.metrics.add(name="rpc")
    sp = summary.summary.data_points.add(time_unix_nano=NS, count=4, sum=2.0)
    sp.quantile_values.add(quantile=0.99, value=0.9)
    return req


def stored(c, kind):
    return c.get("/api/v1/records", params={"kind": kind}).json()["items"]


def test_protobuf_logs_plain_and_gzip(client):
    resp = post(client, "/v1/logs", logs_request().SerializeToString(), PB)
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/x-protobuf"
    reply = ExportLogsServiceResponse.FromString(resp.content)
    assert not reply.HasField("partial_success")
    got = stored(client, "log")
    assert [r["message"] for r in got] == [f"db timeout after {5000 + i} ms" for i in range(3)]
    first = got[0]
    assert (first["service"], first["host"], first["level"]) == ("checkout", "node-1", "ERROR")
    assert first["ts"] == "2026-11-28T17:00:00Z"
    assert first["attributes"]["resource"] == {"service.name": "checkout", "host.name": "node-1"}
    assert first["attributes"]["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert first["attributes"]["scope"] == "checkout.db"
    # the exporter's gzip variant; a retry of the same request is a duplicate batch
    zipped = gzip.compress(logs_request().SerializeToString())
    resp = post(client, "/v1/logs", zipped, {**PB, "content-encoding": "gzip"})
    assert resp.status_code == 200
    assert len(stored(client, "log")) == 3


def test_protobuf_partial_success(client):
    resp = post(client, "/v1/logs", logs_request(4, bad_times={1, 3}).SerializeToString(), PB)
    assert resp.status_code == 200
    reply = ExportLogsServiceResponse.FromString(resp.content)
    assert reply.partial_success.rejected_log_records == 2
    assert "logRecords[1].timeUnixNano" in reply.partial_success.error_message
    assert len(stored(client, "log")) == 2


def test_nothing_usable_is_a_400_status(client):
    resp = post(client, "/v1/logs", logs_request(2, bad_times={0, 1}).SerializeToString(), PB)
    assert resp.status_code == 400 and resp.headers["content-type"] == "application/x-protobuf"
    assert resp.content.startswith(encode_status("protobuf", 3, "")[:2])
    assert b"no usable record" in resp.content


def test_protobuf_metrics(client):
    resp = post(client, "/v1/metrics", metrics_request().SerializeToString(), PB)
    assert resp.status_code == 200
    assert not ExportMetricsServiceResponse.FromString(resp.content).HasField("partial_success")
    got = {(r["name"], tuple(sorted(r["labels"].items()))): r["value"]
           for r in stored(client, "metric")}
    svc = ("service", "checkout")
    assert got == {("queue_depth", (("queue", "orders"), svc)): 7.0,
                   ("requests", (svc,)): 1027.0,
                   ("latency_count", (svc,)): 10.0, ("latency_sum", (svc,)): 1.5,
                   ("rpc_count", (svc,)): 4.0, ("rpc_sum", (svc,)): 2.0,
                   ("rpc", (("quantile", "0.99"), svc)): 0.9}


def test_json_logs_and_partial_success(client):
    sample = orjson.loads(client_payload("otlp_logs_json_body_sample.json"))
    records = sample["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    records.append({"body": {"stringValue": "no time at all"}})
    resp = post(client, "/v1/logs", orjson.dumps(sample))
    assert resp.status_code == 200
    partial = resp.json()["partialSuccess"]
    assert partial["rejectedLogRecords"] == "1"
    assert "logRecords[2]" in partial["errorMessage"]
    assert len(stored(client, "log")) == 2


def test_json_ids_are_hex(client):
    doc = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{
        "timeUnixNano": str(NS), "body": {"stringValue": "x"},
        "traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331"}]}]}]}
    assert post(client, "/v1/logs", orjson.dumps(doc)).status_code == 200
    attrs = stored(client, "log")[0]["attributes"]
    assert attrs["trace_id"] == "0af7651916cd43dd8448eb211c80319c"


def test_kubernetes_resources_name_the_service_and_host_without_service_name(client):
    """Container logs the Collector's filelog receiver and k8sattributes processor send carry
    the workload, not ``service.name`` (or only the SDK's ``unknown_service``)."""
    def resource(**attrs):
        return {"attributes": [{"key": k.replace("_", "."), "value": {"stringValue": v}}
                               for k, v in attrs.items()]}

    doc = {"resourceLogs": [
        {"resource": resource(k8s_deployment_name="checkout", k8s_container_name="app",
                              k8s_node_name="node-3"),
         "scopeLogs": [{"logRecords": [{"timeUnixNano": str(NS),
                                        "body": {"stringValue": "GET /cart 200"}}]}]},
        {"resource": resource(service_name="unknown_service:java", k8s_container_name="payments"),
         "scopeLogs": [{"logRecords": [{"timeUnixNano": str(NS + 1),
                                        "body": {"stringValue": "charge ok"}}]}]},
        {"resource": resource(service_name="ledger", k8s_deployment_name="ledger-v2"),
         "scopeLogs": [{"logRecords": [{"timeUnixNano": str(NS + 2),
                                        "body": {"stringValue": "posted"}}]}]}]}
    assert post(client, "/v1/logs", orjson.dumps(doc)).status_code == 200
    got = sorted((r["message"], r["service"], r["host"]) for r in stored(client, "log"))
    assert got == [("GET /cart 200", "checkout", "node-3"), ("charge ok", "payments", ""),
                   ("posted", "ledger", "")]


def test_undecodable_requests(client):
    resp = post(client, "/v1/logs", b"\xff\x00garbage", PB)
    assert resp.status_code == 400 and b"protobuf" in resp.content
    resp = post(client, "/v1/metrics", b'{"resourceMetrics": [{"scopeMetrics": "nope"}]}')
    assert resp.status_code == 400
    body = resp.json()
    assert body["code"] == 3 and "resourceMetrics" in body["message"]
    resp = post(client, "/v1/logs", b"[1, 2]")
    assert resp.status_code == 400 and "JSON object" in resp.json()["message"]
    resp = post(client, "/v1/logs", b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{'
                                    b'"timeUnixNano": true}]}]}]}')
    assert resp.status_code == 400
    assert client.get("/healthz").status_code == 200


def test_a_body_without_severity_gives_the_level_inside_it(client):
    """The Collector's filelog receiver without operators sends each line as it stands, CRI
    prefix and all: the app's record inside is read as a file's would be."""
    bodies = ["2026-03-02 10:00:00,123 ERROR [main] c.e.Pool - timeout after 5000 ms",
              '2026-03-02T10:00:01.000000001Z stderr F {"level":"warn","msg":"slow query",'
              '"ms":2300}',
              "2026-03-02T10:00:02.0Z stdout F plain text from the app",
              "just a line"]
    doc = {"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"timeUnixNano": str(NS + i), "body": {"stringValue": b}} for i, b in enumerate(bodies)]
        + [{"timeUnixNano": str(NS + 9), "severityText": "INFO",
            "body": {"stringValue": "2026-03-02 10:00:03 ERROR kept as sent"}}]}]}]}
    assert post(client, "/v1/logs", orjson.dumps(doc)).status_code == 200
    got = sorted(((r["level"], r["message"]) for r in stored(client, "log")),
                 key=lambda pair: pair[1])
    assert got == sorted([("ERROR", "[main] c.e.Pool - timeout after 5000 ms"),
                          ("WARN", "slow query"), ("", "plain text from the app"),
                          ("", "just a line"),
                          ("INFO", "2026-03-02 10:00:03 ERROR kept as sent")],
                         key=lambda pair: pair[1])
    by_message = {r["message"]: r["attributes"] for r in stored(client, "log")}
    assert by_message["slow query"]["ms"] == 2300
    assert by_message["slow query"]["stream"] == "stderr"
    raw = {r["message"]: r["raw"] for r in stored(client, "log")}
    assert raw["slow query"] == bodies[1]  # the body as sent stays the record's original

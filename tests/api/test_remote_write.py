"""``POST /api/v1/write``: Prometheus remote write over HTTP, as a sender sees it."""

from __future__ import annotations

import cramjam

from tests.api.conftest import assert_error
from tests.ingest.test_promwrite import MS, STALE, write_request

HEADERS = {"content-type": "application/x-protobuf", "content-encoding": "snappy",
           "x-prometheus-remote-write-version": "0.1.0"}


def test_samples_are_committed_and_a_resend_is_not_counted_twice(client):
    body = write_request(({"__name__": "up", "job": "api", "instance": "10.0.0.5:8080"},
                          [(1.0, MS), (STALE, MS + 15000)]),
                         ({"__name__": "queue_depth", "service": "orders"}, [(42.0, MS)]))
    r = client.post("/api/v1/write", content=body, headers=HEADERS)
    assert r.status_code == 204 and r.content == b""
    again = client.post("/api/v1/write", content=body, headers=HEADERS)  # a sender's retry
    assert again.status_code == 204
    items = client.get("/api/v1/records", params={"kind": "metric"}).json()["items"]
    assert [(i["name"], i["value"], i["labels"]) for i in items] == [
        ("up", 1.0, {"instance": "10.0.0.5:8080", "job": "api"}),
        ("queue_depth", 42.0, {"service": "orders"})]
    status = client.get("/api/v1/status").json()
    assert status["batches"]["metric"] == {"batches": 1, "records": 2}
    assert status["engine"]["duplicate_batches"] == 1


def test_refused_series_are_named_in_a_400_and_the_rest_is_kept(client):
    body = write_request(({"job": "api"}, [(1.0, MS)]),
                         ({"__name__": "up", "job": "api"}, [(1.0, MS)]))
    err = assert_error(client.post("/api/v1/write", content=body, headers=HEADERS), 400,
                       "took 1 samples, refused 1", "__name__")
    assert err["error"]["field"] == "timeseries[0].labels"
    items = client.get("/api/v1/records", params={"kind": "metric"}).json()["items"]
    assert [i["name"] for i in items] == ["up"]


def test_wrong_encodings_are_415_and_garbage_is_400(client):
    body = write_request(({"__name__": "up"}, [(1.0, MS)]))
    assert_error(client.post("/api/v1/write", content=body,
                             headers={**HEADERS, "content-type": "application/json"}),
                 415, "application/x-protobuf")
    assert_error(client.post("/api/v1/write", content=body,
                             headers={**HEADERS, "content-encoding": "gzip"}), 415, "snappy")
    assert_error(client.post("/api/v1/write", content=b"not snappy", headers=HEADERS),
                 400, "snappy-compressed")
    assert_error(client.post("/api/v1/write", content=bytes(cramjam.snappy.compress_raw(
        b"\x0a\xff\xff\xff\xff\x0f")), headers=HEADERS), 400, "prometheus.WriteRequest")
    assert client.get("/api/v1/status").json()["batches"] == {}


def test_remote_write_2_gets_the_415_its_sender_falls_back_on(client):
    """A 2.0 sender (``protobuf_message: io.prometheus.write.v2.Request``) must be answered
    415 by a 1.0 receiver, so it retries with 1.0; 1.0's own proto parameter is read."""
    body = write_request(({"__name__": "up"}, [(1.0, MS)]))
    v2 = {**HEADERS, "content-type": "application/x-protobuf;proto=io.prometheus.write.v2.Request",
          "x-prometheus-remote-write-version": "2.0.0"}
    err = assert_error(client.post("/api/v1/write", content=body, headers=v2), 415,
                       "io.prometheus.write.v2.Request is not read here")
    assert err["error"]["expected"] == "proto=prometheus.WriteRequest"
    assert client.get("/api/v1/status").json()["batches"] == {}
    v1 = {**HEADERS, "content-type": "application/x-protobuf; proto=prometheus.WriteRequest"}
    assert client.post("/api/v1/write", content=body, headers=v1).status_code == 204

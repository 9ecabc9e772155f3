"""``POST /loki/api/v1/push`` as Promtail, Alloy, Fluent Bit or Vector call it."""

from __future__ import annotations

import gzip

from tests.api.conftest import assert_error
from tests.ingest.test_loki import NS, push_json, push_protobuf


def test_json_gzip_and_protobuf_pushes_are_committed_once(client):
    body = push_json(({"service_name": "checkout"},
                      [[str(NS), '{"level":"error","msg":"db timeout"}']]))
    r = client.post("/loki/api/v1/push", content=gzip.compress(body),
                    headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert r.status_code == 204
    pb = push_protobuf(('{app="payments"}', [(NS, "card declined", {})]))
    for _ in range(2):  # the second is a sender's retry: not counted again
        r = client.post("/loki/api/v1/push", content=pb,
                        headers={"content-type": "application/x-protobuf"})
        assert r.status_code == 204
    items = client.get("/api/v1/records", params={"kind": "log"}).json()["items"]
    assert [(i["service"], i["level"], i["message"], i["source"]) for i in items] == [
        ("checkout", "ERROR", "db timeout", "loki"), ("payments", "", "card declined", "loki")]
    assert client.get("/api/v1/status").json()["engine"]["duplicate_batches"] == 1


def test_refused_entries_are_named_and_the_rest_kept(client):
    body = push_json(({"app": "a"}, [["yesterday", "x"], [str(NS), "kept"]]))
    err = assert_error(client.post("/loki/api/v1/push", content=body,
                                   headers={"content-type": "application/json"}),
                       400, "took 1 entries, refused 1")
    assert err["error"]["field"] == "streams[0].values[0]"
    items = client.get("/api/v1/records", params={"kind": "log"}).json()["items"]
    assert [i["message"] for i in items] == ["kept"]
    assert_error(client.post("/loki/api/v1/push", content=b"x",
                             headers={"content-type": "text/plain"}), 415, "application/json")
    assert_error(client.post("/loki/api/v1/push", content=b"not snappy",
                             headers={"content-type": "application/x-protobuf"}), 400, "snappy")

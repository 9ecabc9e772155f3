"""Loki's push API bodies (JSON and snappy protobuf) -> log records."""

from __future__ import annotations

import cramjam
import orjson
import pytest

from ingest import loki
from ingest.errors import ErrorPolicy, ParseError

NS = 1795888459585392896  # 2026-11-28T17:54:19.585392Z


def push_json(*streams: tuple[dict, list]) -> bytes:
    return orjson.dumps({"streams": [{"stream": s, "values": v} for s, v in streams]})


def push_protobuf(*streams: tuple[str, list[tuple[int, str, dict]]]) -> bytes:
    """Promtail's default body: a snappy-compressed logproto.PushRequest."""
    request = loki.PushRequest()
    for labels, entries in streams:
        stream = request.streams.add(labels=labels)
        for ns, line, metadata in entries:
            entry = stream.entries.add(line=line)
            entry.timestamp.seconds, entry.timestamp.nanos = divmod(ns, 10**9)
            for k, v in metadata.items():
                entry.structuredMetadata.add(name=k, value=v)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def read(streams) -> tuple[list, ErrorPolicy]:
    policy = ErrorPolicy(strict=False, keep=20)
    return list(loki.records(streams, policy=policy, max_labels=64)), policy


def test_json_streams_become_records_with_the_app_s_level():
    body = push_json(
        ({"service_name": "checkout", "host": "node-3", "namespace": "shop"},
         [[str(NS), '{"level":"error","msg":"db timeout after 5000 ms","order":"A-1"}'],
          [str(NS + 10**6), "level=warn msg=\"slow query\" took=812ms"],
          [str(NS + 2 * 10**6), "plain text without a level", {"trace_id": "abc123"}]]),
        ({"app": "payments", "level": "error"}, [[str(NS), "card declined"]]))
    got, policy = read(loki.streams_from_json(body))
    assert policy.count == 0
    assert [(r.service, r.host, r.level, r.message) for r in got] == [
        ("checkout", "node-3", "ERROR", "db timeout after 5000 ms"),
        ("checkout", "node-3", "WARN", "slow query"),
        ("checkout", "node-3", "", "plain text without a level"),
        ("payments", "", "ERROR", "card declined")]
    assert got[0].ts.isoformat() == "2026-11-28T17:54:19.585392+00:00"
    assert got[0].attributes["order"] == "A-1" and got[0].attributes["namespace"] == "shop"
    assert got[2].attributes["trace_id"] == "abc123" and got[2].raw == got[2].message
    assert got[0].raw.startswith('{"level":"error"')


def test_protobuf_streams_as_promtail_sends_them():
    body = push_protobuf(
        ('{job="shop/checkout", container="checkout", node_name="node-3", '
         'path="/var/log/x \\"quoted\\""}',
         [(NS, "2026-11-28 17:54:19,585 ERROR [pool-1] db timeout after 5000 ms", {}),
          (NS + 1, "all good", {"pod": "checkout-7d9f8b5c4d-x2x9k"})]))
    got, policy = read(loki.streams_from_protobuf(body, 10_000_000))
    assert policy.count == 0
    assert [(r.service, r.host, r.level) for r in got] == [
        ("checkout", "node-3", "ERROR"), ("checkout", "node-3", "")]
    assert got[0].attributes["path"] == '/var/log/x "quoted"'
    assert got[1].attributes["pod"] == "checkout-7d9f8b5c4d-x2x9k"
    assert got[1].ts.isoformat() == "2026-11-28T17:54:19.585392+00:00"


def test_bad_streams_and_entries_are_named_and_the_rest_kept():
    body = push_json(({"app": "a"}, [["yesterday", "x"], [str(NS), "kept"], [str(NS)]]),
                     ({"app": 5}, [[str(NS), "y"]]),
                     ({"app": "b"}, "not a list"))
    got, policy = read(loki.streams_from_json(body))
    assert [r.message for r in got] == ["kept"]
    assert [e.field for e in policy.first] == ["streams[0].values[0]", "streams[0].values[2]",
                                               "streams[1].stream", "streams[2].values"]
    assert loki.parse_labels('{a="1", b = "x,y"}') == {"a": "1", "b": "x,y"}
    assert loki.parse_labels("job=varlogs") is None


@pytest.mark.parametrize("body, says", [(b"{", "a JSON Loki push body"),
                                        (b'{"stream": []}', "a JSON Loki push body")])
def test_an_unreadable_json_body_is_one_named_error(body, says):
    with pytest.raises(ParseError) as err:
        loki.streams_from_json(body)
    assert says in str(err.value)


def test_an_unreadable_protobuf_body_is_one_named_error():
    with pytest.raises(ParseError) as err:
        loki.streams_from_protobuf(bytes(cramjam.snappy.compress_raw(b"\xff\xff\xff")), 1000)
    assert "logproto.PushRequest" in str(err.value)


def test_host_labels_read_as_the_rest_of_aiops_reads_them():
    """A ``node`` label names the host as it does on an alert or a metric, and an
    ``instance``'s port is dropped, so a stream's lines meet the alerts on that host."""
    body = push_json(({"app": "a", "node": "worker-2"}, [[str(NS), "x"]]),
                     ({"app": "b", "instance": "10.0.0.7:9100"}, [[str(NS), "y"]]),
                     ({"app": "c", "instance": "http://10.0.0.7/metrics"}, [[str(NS), "z"]]))
    got, policy = read(loki.streams_from_json(body))
    assert policy.count == 0
    assert [r.host for r in got] == ["worker-2", "10.0.0.7", ""]

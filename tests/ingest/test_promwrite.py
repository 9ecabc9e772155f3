"""Prometheus remote write 1.0 bodies: snappy block + prometheus.WriteRequest -> samples."""

from __future__ import annotations

import math
import struct
from datetime import datetime, timezone

import cramjam
import pytest

from ingest import promwrite
from ingest.errors import ErrorPolicy, ParseError

STALE = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]  # Prometheus' StaleNaN
MS = 1795888459585  # 2026-11-28T17:54:19.585Z


def write_request(*series: tuple[dict[str, str], list[tuple[float, int]]]) -> bytes:
    """A remote-write body as Prometheus sends it (snappy block over the protobuf)."""
    request = promwrite.WriteRequest()
    for labels, samples in series:
        ts = request.timeseries.add()
        for name, value in sorted(labels.items()):  # Prometheus sends labels sorted
            ts.labels.add(name=name, value=value)
        for value, ms in samples:
            ts.samples.add(value=value, timestamp=ms)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def read(body: bytes, max_labels: int = 64):
    policy = ErrorPolicy(strict=False, keep=20)
    message = promwrite.decode(promwrite.decompress(body, 10_000_000))
    found, skipped = promwrite.samples(message, policy=policy, max_labels=max_labels)
    return found, skipped, policy


def test_series_become_samples_named_by_their_name_label():
    body = write_request(
        ({"__name__": "up", "job": "node", "instance": "10.0.0.5:9100"}, [(1.0, MS), (0.0, MS + 15000)]),
        ({"__name__": "http_requests_error_ratio", "service": "checkout"}, [(0.25, MS)]))
    found, skipped, policy = read(body)
    assert skipped == 0 and policy.count == 0
    assert [(s.name, s.value, s.labels, s.line) for s in found] == [
        ("up", 1.0, {"instance": "10.0.0.5:9100", "job": "node"}, 1),
        ("up", 0.0, {"instance": "10.0.0.5:9100", "job": "node"}, 1),
        ("http_requests_error_ratio", 0.25, {"service": "checkout"}, 2)]
    assert found[0].ts == datetime(2026, 11, 28, 17, 54, 19, 585000, tzinfo=timezone.utc)
    assert found[1].ts.timestamp() * 1000 == MS + 15000  # exact milliseconds
    assert found[0].service == "node" and found[2].service == "checkout"


def test_staleness_markers_and_nan_carry_no_value():
    assert math.isnan(STALE)
    found, skipped, policy = read(write_request(
        ({"__name__": "up", "job": "api"}, [(1.0, MS), (STALE, MS + 15000), (math.nan, MS + 30000)])))
    assert [s.value for s in found] == [1.0] and skipped == 2 and policy.count == 0


def test_bad_series_are_named_and_the_rest_kept():
    found, _, policy = read(write_request(
        ({"job": "api"}, [(1.0, MS)]),                                   # no __name__
        ({"__name__": "up", "job": "api"}, [(1.0, MS), (1.0, -5)]),      # a bad time
        ({"__name__": "wide", **{f"l{i}": "v" for i in range(5)}}, [(1.0, MS)]),
        ({"__name__": "ok"}, [(2.0, MS)])), max_labels=3)
    assert [(s.name, s.value) for s in found] == [("up", 1.0), ("ok", 2.0)]
    fields = [e.field for e in policy.first]
    assert fields == ["timeseries[0].labels", "timeseries[1].samples[1].timestamp",
                      "timeseries[2].labels"]
    assert "a __name__ label" in str(policy.first[0]) and "at most 3 labels" in str(policy.first[2])


@pytest.mark.parametrize("body, says", [
    (b"\x0a\x03not snappy at all", "snappy-compressed"),
    (bytes(cramjam.snappy.compress_raw(b"\xff\xff\xff not protobuf")), "prometheus.WriteRequest"),
    (bytes(cramjam.snappy.compress(b"framed, not block")), "snappy-compressed"),
])
def test_an_undecodable_body_is_one_named_error(body, says):
    with pytest.raises(ParseError) as err:
        promwrite.decode(promwrite.decompress(body, 10_000_000))
    assert says in str(err.value) and err.value.field == "body"


def test_a_body_announcing_more_than_the_limit_is_refused_before_decompressing():
    bomb = b"\xff\xff\xff\xff\x0f" + b"\x00" * 20  # claims ~4 GiB
    with pytest.raises(ParseError) as err:
        promwrite.decompress(bomb, 32 * 1024 * 1024)
    assert "at most 33554432 bytes uncompressed" in str(err.value)

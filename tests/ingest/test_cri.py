"""Kubernetes container logs in the runtime's CRI layout, and the app's records inside them."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from aiops.cli import main
from ingest.errors import ErrorPolicy
from ingest.files import InputSpec, read_input
from ingest.logs import LogReader, describe_parser

UTC = timezone.utc
ID = "4f0c" * 16
KUBELET_FILE = f"/var/log/containers/checkout-7d9f8b-x2x9k_shop_checkout-{ID}.log"

APP_LINES = [
    '2026-03-02T10:00:00.123456789Z stdout F {"level":"info","ts":"2026-03-02T09:59:59Z",'
    '"msg":"listening on :8080","port":8080}\n',
    "2026-03-02T10:00:01.000000001Z stderr F E0302 10:00:01.000001       1 main.go:42] "
    "failed to connect to db: connection refused\n",
    "2026-03-02T10:00:02.000000000Z stdout F 2026-03-02 10:00:02,000 WARN [pool-1] c.e.Cache - "
    "evicting 120 entries\n",
    "2026-03-02T10:00:03.000000000Z stderr F panic: runtime error: index out of range\n",
]


def read(lines, fmt=None, strict=True, **kw):
    policy = ErrorPolicy(strict=strict)
    reader = LogReader(fmt, policy=policy, **kw)
    records = list(reader.read(lines))
    return records, describe_parser(reader.parser), policy


def test_the_app_s_record_inside_each_runtime_line():
    records, layout, policy = read(APP_LINES, source=KUBELET_FILE)
    assert layout == "cri" and policy.count == 0
    # the runtime's time (nanoseconds truncated), not the app's own (09:59:59 in the JSON)
    assert [r.ts for r in records] == [datetime(2026, 3, 2, 10, 0, 0, 123456, UTC),
                                       datetime(2026, 3, 2, 10, 0, 1, 0, UTC),
                                       datetime(2026, 3, 2, 10, 0, 2, tzinfo=UTC),
                                       datetime(2026, 3, 2, 10, 0, 3, tzinfo=UTC)]
    assert [(r.level, r.message) for r in records] == [
        ("INFO", "listening on :8080"),
        ("ERROR", "failed to connect to db: connection refused"),
        ("WARN", "[pool-1] c.e.Cache - evicting 120 entries"),
        ("", "panic: runtime error: index out of range")]
    assert {r.service for r in records} == {"checkout"} and {r.host for r in records} == {""}
    first = records[0].attributes
    assert (first["stream"], first["pod"], first["namespace"], first["port"]) == (
        "stdout", "checkout-7d9f8b-x2x9k", "shop", 8080)


@pytest.mark.parametrize("path, service", [
    (KUBELET_FILE, "checkout"),
    ("/var/log/pods/shop_checkout-7d9f8b-x2x9k_0b5e-11ef/checkout/0.log", "checkout"),
    ("/var/log/pods/shop_checkout-7d9f8b-x2x9k_0b5e-11ef/istio-proxy/3.log.20260302-100000",
     "istio-proxy"),
])
def test_the_container_the_file_is_named_after_is_the_service(path, service):
    records, _, _ = read(APP_LINES[:1], source=path)
    assert records[0].service == service
    given, _, _ = read(APP_LINES[:1], source=path, service="shop-api")
    assert given[0].service == "shop-api"


def test_a_line_the_runtime_split_is_joined_and_keeps_its_first_line():
    records, _, policy = read([
        "2026-03-02T10:00:00.000000000Z stdout F starting\n",
        "2026-03-02T10:00:01.000000000Z stdout P ERROR: a very long line that the runtime \n",
        "2026-03-02T10:00:01.000000500Z stdout P split in three \n",
        "2026-03-02T10:00:01.000001000Z stdout F parts\n",
        "2026-03-02T10:00:02.000000000Z stdout F done\n",
    ], "cri")
    assert policy.count == 0
    assert [(r.line, r.message) for r in records] == [
        (1, "starting"), (2, "ERROR: a very long line that the runtime split in three parts"),
        (5, "done")]
    assert records[1].ts == datetime(2026, 3, 2, 10, 0, 1, tzinfo=UTC)
    assert records[1].raw.count("\n") == 2


def test_an_input_that_ends_within_a_split_line_keeps_what_it_has():
    records, _, _ = read([
        "2026-03-02T10:00:00.000000000Z stdout F starting\n",
        "2026-03-02T10:00:01.000000000Z stderr P the rest of this is not written yet\n",
    ], "cri")
    assert [r.message for r in records] == ["starting", "the rest of this is not written yet"]
    assert records[1].attributes["stream"] == "stderr" and records[1].line == 2


STACK = [
    "2026-03-02T10:00:00.000Z stderr F 2026-03-02 10:00:00,000 ERROR [main] c.e.Api - "
    "request failed\n",
    "2026-03-02T10:00:00.001Z stderr F java.lang.IllegalStateException: pool closed\n",
    "2026-03-02T10:00:00.001Z stderr F \tat com.example.Pool.get(Pool.java:42)\n",
    "2026-03-02T10:00:00.002Z stderr F Caused by: java.net.ConnectException: refused\n",
    "2026-03-02T10:00:01.000Z stdout F 2026-03-02 10:00:01,000 INFO [main] c.e.Api - ok\n",
]


def test_a_stack_trace_s_frames_join_the_record_they_continue():
    records, _, policy = read(STACK)
    assert policy.count == 0 and [r.level for r in records] == ["ERROR", "INFO"]
    assert records[0].message.splitlines() == [
        "[main] c.e.Api - request failed", "java.lang.IllegalStateException: pool closed",
        "\tat com.example.Pool.get(Pool.java:42)",
        "Caused by: java.net.ConnectException: refused"]
    apart, _, _ = read(STACK, multiline="none")
    assert len(apart) == 5


def test_cri_is_not_taken_for_syslog_with_the_stream_as_its_host():
    records, layout, _ = read(APP_LINES[3:] * 3)
    assert layout == "cri" and {r.host for r in records} == {""}


def test_a_line_that_is_not_cri_is_named_by_its_number():
    records, _, policy = read([APP_LINES[0], "garbage in the middle\n", APP_LINES[1]], "cri",
                                strict=False)
    assert len(records) == 2 and policy.count == 1
    assert policy.first[0].line == 2 and "garbage in the middle" in str(policy.first[0])


def test_a_kubelet_directory_replays_with_a_service_per_container(tmp_path, capsys):
    logs = tmp_path / "containers"
    logs.mkdir()
    for container in ("checkout", "payments"):
        lines = [f"2026-03-02T10:{m:02d}:00.000000000Z stdout F "
                 f'{{"level":"info","msg":"served {m} requests"}}\n' for m in range(30)]
        (logs / f"{container}-5c8d_shop_{container}-{ID}.log").write_text("".join(lines))
    assert main(["replay", str(logs), "--store", str(tmp_path / "s.db"), "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [i["format"] for i in summary["inputs"]] == ["cri", "cri"]
    assert {t["source"] for t in summary["templates"]["top"]} == {"checkout", "payments"}


def test_a_file_read_as_an_input_names_its_layout(tmp_path):
    path = tmp_path / "app.log"
    path.write_text("".join(APP_LINES))
    spec = InputSpec(path=path)
    assert len(list(read_input(spec, policy=ErrorPolicy()))) == 4 and spec.format == "cri"


def test_a_run_of_split_parts_is_bounded_and_loses_nothing():
    from ingest.cri import MAX_JOINED

    part = "y" * 1000
    lines = [f"2026-03-02T10:00:00Z stdout P {part}\n"] * 600
    records, _, policy = read([*lines, "2026-03-02T10:00:01Z stdout F end\n"], "cri")
    assert policy.count == 0 and len(records) == 3
    assert all(len(r.message) <= MAX_JOINED + len(part) for r in records)  # + the last part
    assert "".join(r.message for r in records) == part * 600 + "end"

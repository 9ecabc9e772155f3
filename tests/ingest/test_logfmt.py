"""logfmt lines (Prometheus, Alertmanager, Loki, logrus): found without a format, mapped
under the JSON names, and the real daemons' own logs read without a rejected line."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime, timezone

import pytest

from aiops.cli import main
from ingest.errors import ErrorPolicy
from ingest.logfmt import logfmt_pairs
from ingest.logs import LogReader, describe_parser
from tests.api.serving import free_port
from tests.api.test_real_clients import binary

UTC = timezone.utc


def read(lines, fmt=None, strict=True):
    policy = ErrorPolicy(strict=strict)
    reader = LogReader(fmt, policy=policy)
    records = list(reader.read(lines))
    return records, describe_parser(reader.parser), policy


def test_prometheus_and_logrus_lines_map_like_json_objects():
    records, layout, policy = read([
        'ts=2026-03-02T10:00:01.456Z caller=scrape.go:1350 level=warn component="scrape '
        'manager" scrape_pool=node target=http://10.0.0.5:9100/metrics msg="Scrape failed" '
        'err="context deadline exceeded"\n',
        'time="2026-03-02T10:00:02Z" level=error msg="failed to connect: \\"db\\" refused" '
        "service=checkout host=web-1\n",
        "ts=2026-03-02T10:00:03Z at=info method=GET path=/cart status=200 duration=12ms\n",
    ])
    assert layout == "logfmt" and policy.count == 0
    assert [(r.ts, r.level, r.service, r.host, r.message) for r in records] == [
        (datetime(2026, 3, 2, 10, 0, 1, 456000, UTC), "WARN", "", "", "Scrape failed"),
        (datetime(2026, 3, 2, 10, 0, 2, tzinfo=UTC), "ERROR", "checkout", "web-1",
         'failed to connect: "db" refused'),
        # no message key (Heroku's router): the pairs but time and level are the message
        (datetime(2026, 3, 2, 10, 0, 3, tzinfo=UTC), "", "", "",
         "at=info method=GET path=/cart status=200 duration=12ms")]
    assert records[0].attributes == {
        "caller": "scrape.go:1350", "component": "scrape manager", "scrape_pool": "node",
        "target": "http://10.0.0.5:9100/metrics", "err": "context deadline exceeded"}


@pytest.mark.parametrize("text", [
    "user=bob logged in",                 # a sentence with one pair in it
    "a=1",                                # one pair
    'msg="unterminated quote level=info',  # a quote never closed
    "2026-03-02 10:00:00 INFO user=bob action=login",  # a timestamped line with pairs
])
def test_text_that_is_not_wholly_pairs_is_not_logfmt(text):
    assert logfmt_pairs(text) is None


def test_a_timestamped_line_with_pairs_in_it_stays_a_timestamped_line():
    records, layout, _ = read(["2026-03-02 10:00:00 INFO user=bob action=login\n"])
    assert layout == "auto:timestamped" and records[0].message == "user=bob action=login"


def test_a_bad_time_and_a_line_that_is_not_logfmt_are_named_by_line():
    records, _, policy = read([
        "ts=2026-03-02T10:00:00Z level=info msg=one\n",
        "ts=yesterday level=info msg=two\n",
        "this line is prose\n",
        "ts=2026-03-02T10:00:03Z level=info msg=four\n",
    ], strict=False)
    assert [r.message for r in records] == ["one", "four"]
    assert [(e.line, e.field) for e in policy.first] == [(2, "ts"), (3, None)]


def test_logfmt_inside_a_container_runtime_line():
    records, layout, _ = read([
        "2026-03-02T10:00:00.000000001Z stderr F ts=2026-03-02T10:00:00Z level=error "
        'msg="Error on ingesting samples" err="out of order sample"\n'])
    assert layout == "cri"
    assert (records[0].level, records[0].message, records[0].attributes["err"]) == (
        "ERROR", "Error on ingesting samples", "out of order sample")


def _run_until(cmd: list[str], log, ready: str, timeout: float = 60.0) -> None:
    """Run a daemon until its log says ``ready``, then stop it as an operator would."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while ready not in log.read_text() and time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise AssertionError(f"{cmd[0]} exited: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        finally:
            proc.terminate()
            proc.wait(30)


@pytest.mark.clients
def test_the_real_prometheus_and_alertmanager_logs_replay_without_a_rejected_line(tmp_path,
                                                                                  capsys):
    am, prom = binary("prometheus-alertmanager", "alertmanager"), binary("prometheus")
    (tmp_path / "am.yml").write_text("route:\n  receiver: x\nreceivers:\n  - name: x\n")
    _run_until([am, f"--config.file={tmp_path / 'am.yml'}", f"--storage.path={tmp_path / 'am'}",
                f"--web.listen-address=127.0.0.1:{free_port()}", "--cluster.listen-address="],
               tmp_path / "alertmanager.log", "Listening on")
    (tmp_path / "prom.yml").write_text("global:\n  scrape_interval: 15s\n")
    _run_until([prom, f"--config.file={tmp_path / 'prom.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{free_port()}"],
               tmp_path / "prometheus.log", "Server is ready to receive web requests.")
    logs = [tmp_path / "alertmanager.log", tmp_path / "prometheus.log"]
    assert main(["replay", *map(str, logs), "--store", str(tmp_path / "s.db"),
                 "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    lines = [sum(1 for line in path.read_text().splitlines() if line.strip()) for path in logs]
    assert [(i["format"], i["records"], i["rejected"]) for i in summary["inputs"]] == [
        ("logfmt", lines[0], 0), ("logfmt", lines[1], 0)]
    records, _, _ = read(logs[1].read_text().splitlines(keepends=True))
    assert ("INFO", "Starting Prometheus Server") in {(r.level, r.message) for r in records}
    assert ("WARN", "Received SIGTERM, exiting gracefully...") in {
        (r.level, r.message) for r in records}

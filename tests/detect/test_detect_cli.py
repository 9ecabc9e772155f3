"""``aiops detect``: scores to CSV, alerts as JSON lines."""

from __future__ import annotations

import argparse
import csv
import json

from detect_helpers import data_path

from aiops.cli import detect


def run_cli(argv, capsysbinary):
    parser = argparse.ArgumentParser(prog="aiops")
    detect.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    code = args.func(args)
    out = capsysbinary.readouterr().out.decode()
    return code, [json.loads(line) for line in out.splitlines() if line.strip()]


def test_detect_metrics_writes_every_point_and_prints_alerts(tmp_path, capsysbinary):
    src = data_path("nab", "data", "realKnownCause", "ec2_request_latency_system_failure.csv")
    out = tmp_path / "scores.csv"
    code, alerts = run_cli(["detect", "metrics", str(src), "--scores-out", str(out)],
                           capsysbinary)
    assert code == 0
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["timestamp", "value", "score", "is_anomaly"]
    assert len(rows) == 4032
    assert rows[0]["score"] == "" and rows[-1]["score"] != ""  # warm-up points only train
    flagged = sum(r["is_anomaly"] == "1" for r in rows)
    assert 0 < flagged < 0.1 * len(rows)
    assert alerts and {a["status"] for a in alerts} == {"firing", "resolved"}
    first = alerts[0]
    assert first["labels"]["alertname"] == "MetricAnomaly"
    assert first["labels"]["metric"] == "ec2_request_latency_system_failure"
    assert {"feature", "value", "score"} <= set(first["annotations"])


def test_detect_metrics_rejects_unknown_parameter(capsysbinary):
    src = data_path("nab", "data", "realKnownCause", "rogue_agent_key_hold.csv")
    try:
        run_cli(["detect", "metrics", str(src), "--set", "bugdet=0.1"], capsysbinary)
    except SystemExit as exc:
        assert "bugdet" in str(exc)
    else:
        raise AssertionError("an unknown parameter must be an error")


def test_detect_logs_sessions(tmp_path, capsysbinary):
    src = data_path("loghub_2k", "HDFS", "HDFS_2k.log")
    out = tmp_path / "sessions.csv"
    code, alerts = run_cli(
        ["detect", "logs", str(src), "--log-format",
         "<Date> <Time> <Pid> <Level> <Component>: <Content>", "--session-id", r"blk_-?\d+",
         "--set", "warmup_sessions=200", "--scores-out", str(out)], capsysbinary)
    assert code == 0
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["session", "first", "last", "lines", "score", "is_anomaly"]
    assert len(rows) > 1000 and all(r["session"].startswith("blk_") for r in rows)
    assert all(a["labels"]["alertname"] == "LogSessionAnomaly" for a in alerts)


def test_detect_logs_windows(tmp_path, capsysbinary):
    src = data_path("loghub_2k", "HDFS", "HDFS_2k.log")
    out = tmp_path / "windows.csv"
    code, _ = run_cli(["detect", "logs", str(src), "--log-format",
                       "<Date> <Time> <Pid> <Level> <Component>: <Content>",
                       "--set", "warmup_windows=30", "--set", "n_estimators=30",
                       "--scores-out", str(out)], capsysbinary)
    assert code == 0
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["source", "window_start", "window_end", "lines", "score",
                             "is_anomaly"]
    assert sum(int(r["lines"]) for r in rows) <= 2000 and len(rows) > 100

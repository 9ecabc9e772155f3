"""LogDetector on real HDFS lines (loghub template ids) replayed at a steady rate."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from detect_helpers import at, data_path

from aiops.detect import LogDetector
from aiops.schema import LogRecord


def _stream(minutes=180, per_minute=30):
    df = pd.read_csv(data_path("loghub_2k", "HDFS", "HDFS_2k.log_structured.csv"))
    rows = list(zip(df["Content"], df["EventId"], df["Level"]))
    out = []
    for i in range(minutes * per_minute):
        content, event, level = rows[i % len(rows)]
        out.append(LogRecord(ts=at(i / per_minute), message=content, service="hdfs",
                             level=level, template_id=event))
    return out


def _inject(records):
    extra = []
    rare = "E2"  # 'Verification succeeded for blk_<*>': a handful of lines in the sample
    extra += [LogRecord(ts=at(130 + i / 300), message="Verification succeeded for blk_1",
                        service="hdfs", level="INFO", template_id=rare) for i in range(300)]
    extra += [LogRecord(ts=at(150.5), message="Disk quota exceeded on /data/7",
                        service="hdfs", level="WARN", template_id="E99")]
    extra += [LogRecord(ts=at(165 + i / 40), message="Exception in receiveBlock for blk_2",
                        service="hdfs", level="ERROR", template_id="E14") for i in range(40)]
    return sorted(records + extra, key=lambda r: r.ts)


def run(records, step, scores=None):
    det, alerts = LogDetector(window="1m", warmup_windows=60), []
    if scores is not None:
        det.score_sink = lambda src, start, end, lines, score, firing: scores.append(
            (start, lines, score, firing))
    for i in range(0, len(records), step):
        chunk = records[i:i + step]
        alerts += det.observe(chunk, chunk[-1].ts - timedelta(seconds=30))
    return alerts + det.flush(records[-1].ts)


def test_window_new_template_and_error_burst_alerts():
    scores = []
    alerts = run(_inject(_stream()), 5000, scores)
    by = {}
    for a in alerts:
        by.setdefault(a.labels["alertname"], []).append(a)
    # the window with 300 lines of a rare template is by far the most anomalous one
    start, lines, top, firing = max(scores, key=lambda s: s[2])
    assert start == at(130).timestamp() and lines == 330 and firing
    assert top > 5 * sorted(s[2] for s in scores)[-2]
    episode = [a for a in by["LogAnomaly"] if a.status == "resolved"
               and a.starts_at <= at(131) <= a.ends_at]
    assert episode and episode[0].annotations["feature"] == "template:E2"
    assert episode[0].annotations["value"] == "300"
    new = by["NewLogTemplate"]
    assert [(a.status, a.labels["template_id"]) for a in new] == [
        ("firing", "E99"), ("resolved", "E99")]
    assert new[0].starts_at == at(150.5) and new[1].ends_at == at(150.5)
    burst = [a for a in by["LogErrorBurst"] if a.status == "firing"]
    assert len(burst) == 1 and at(165) <= burst[0].starts_at <= at(166)
    assert all(a.source == "detector:logs" and a.labels["service"] == "hdfs" for a in alerts)
    for name, items in by.items():  # every episode resolves
        assert sum(a.status == "firing" for a in items) == sum(
            a.status == "resolved" for a in items), name


def test_few_window_alerts_during_steady_traffic():
    scores = []
    alerts = run(_stream(150), 5000, scores)
    assert {a.labels["alertname"] for a in alerts} <= {"LogAnomaly"}
    assert len(scores) == 90  # 150 one-minute windows, the first 60 train
    assert sum(a.status == "firing" for a in alerts) <= 3


def test_chunking_and_restarts_do_not_change_alerts():
    records = _inject(_stream())
    one = run(records, 100_000)
    det, many = LogDetector(window="1m", warmup_windows=60), []
    for n, i in enumerate(range(0, len(records), 777)):
        if n % 2:
            state, det = det.get_state(), LogDetector(window="1m", warmup_windows=60)
            det.set_state(state)
        chunk = records[i:i + 777]
        many += det.observe(chunk, chunk[-1].ts - timedelta(seconds=30))
    many += det.flush(records[-1].ts)

    def key(alerts):
        return sorted((a.labels["alertname"], a.status, a.starts_at, a.ends_at) for a in alerts)
    assert key(one) == key(many)

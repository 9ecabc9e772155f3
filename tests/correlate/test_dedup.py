"""Dedup: Alertmanager-compatible fingerprints; repeats update, new instances pass on."""

from __future__ import annotations

import json

from aiops.correlate import Correlator
from aiops.schema import fingerprint
from ingest.alerts import read_alerts
from tests.conftest import shared
from tests.correlate.helpers import Feeder, alert


def test_fingerprints_match_alertmanager_payloads():
    for name in (
        "alertmanager_webhook_sample.json",
        "alertmanager_webhook_sample_resolved.json",
        "alertmanager_webhook_from_prometheus.json",
    ):
        body = json.loads(shared("clients", name).read_text())
        for a in body["alerts"]:
            assert fingerprint(a["labels"]) == a["fingerprint"], (name, a["labels"])


def test_alertmanager_repeats_update_the_same_instances():
    fire = shared("clients", "alertmanager_webhook_sample.json").read_bytes()
    again = shared("clients", "alertmanager_webhook_sample_resolved.json").read_bytes()
    first, second = list(read_alerts(fire)), list(read_alerts(again))
    corr = Correlator({})
    wm = max(a.ts for a in first + second)
    rows = {r["id"]: r for r in corr.observe(first, [], wm).alerts}
    assert len(rows) == 2
    for r in rows.values():
        assert r["fingerprint"] == fingerprint(r["labels"])
        assert r["status"] == "firing" and r["repeats"] == 0
    rows.update({r["id"]: r for r in corr.observe(second, [], wm).alerts})
    assert len(rows) == 2  # the re-sent group adds no alert
    by_fp = {r["fingerprint"]: r for r in rows.values()}
    assert by_fp["4324684e1c3ca260"]["status"] == "resolved"
    assert by_fp["4324684e1c3ca260"]["ends_at"].startswith("2026-11-28T17:50:27")
    assert by_fp["fdc65feb95509fe3"]["status"] == "firing"
    assert all(r["repeats"] == 1 for r in rows.values())
    # the nanosecond startsAt keeps its identity (microseconds kept)
    assert "17:50:17.065941" in by_fp["fdc65feb95509fe3"]["id"]


def test_repeat_counts_and_resolution():
    f = Feeder()
    f.feed([alert("HighErrorRate", 0, service="checkout", severity="critical")] * 3)
    row = f.alert_row("HighErrorRate")
    assert row["repeats"] == 2 and row["status"] == "firing"
    f.feed([alert("HighErrorRate", 0, 120, service="checkout", severity="critical")])
    row = f.alert_row("HighErrorRate")
    assert row["status"] == "resolved" and row["repeats"] == 3
    assert row["ends_at"].startswith("2026-03-02T10:02:00")


def test_new_instance_replaces_a_still_firing_one():
    f = Feeder()
    f.feed(
        [
            alert("Down", 0, service="checkout", severity="critical"),
            alert("Down", 300, service="checkout", severity="critical"),
        ]
    )
    rows = sorted((r for r in f.alerts.values()), key=lambda r: r["starts_at"])
    assert [r["status"] for r in rows] == ["resolved", "firing"]
    assert rows[0]["ends_at"] == rows[1]["starts_at"]


def test_dedup_by_narrows_identity():
    f = Feeder({"dedup_by": ["alertname", "service"], "flap_count": 2, "flap_window": "10m"})
    f.feed(
        [
            alert("PodCrash", 0, 30, service="checkout", pod="a"),
            alert("PodCrash", 60, 90, service="checkout", pod="b"),
        ],
        until=200,
    )
    # different pods, same dedup key: the second start makes it a flapping alert
    assert f.alert_row("PodCrash", pod="b")["suppressed"].startswith("flapping")


def test_zero_time_end_and_ids():
    a = alert("X", 0, service="s")
    row = Correlator({}).observe([a], [], a.ts).alerts[0]
    assert row["id"] == f"{a.fingerprint}@{row['starts_at']}"
    assert row["ends_at"] is None and row["starts_at"].endswith("Z")

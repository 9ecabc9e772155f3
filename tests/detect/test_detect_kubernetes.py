"""Kubernetes Warning Events as detector alerts: one per (namespace, workload, reason) while
it recurs, resolved a quiet period after its last occurrence, evidence in incidents."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from aiops.detect import KubernetesDetector
from aiops.schema import UTC
from ingest.events import read_events
from tests.ingest.test_k8sevents import LIST, core_event

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def events(*items: dict) -> list:
    return list(read_events(json.dumps(dict(LIST, items=list(items)))))


def brief(alerts: list) -> list[tuple]:
    return [(a.name, a.labels.get("service"), a.status, a.starts_at.strftime("%H:%M"),
             a.ends_at and a.ends_at.strftime("%H:%M")) for a in alerts]


BACKOFF = core_event("BackOff", "Pod", "checkout-7d9f8b5c4d-x2x9k", "2026-03-02T10:00:00Z",
                     type_="Warning", field_path="spec.containers{checkout}", count=5,
                     last="2026-03-02T10:04:00Z",
                     message="Back-off restarting failed container checkout")


def test_warnings_fire_while_they_recur_and_resolve_after_the_last():
    det = KubernetesDetector()
    records = events(
        BACKOFF,
        core_event("Pulled", "Pod", "checkout-7d9f8b5c4d-x2x9k", "2026-03-02T10:00:30Z"),
        core_event("NodeNotReady", "Node", "node-7", "2026-03-02T10:01:00Z", type_="Warning",
                   host=""),
        core_event("FailedGetResourceMetric", "HorizontalPodAutoscaler", "checkout",
                   "2026-03-02T10:02:00Z", type_="Warning"))  # not a default reason
    fired = det.observe(records, T0 + timedelta(minutes=3))
    assert brief(fired) == [("KubernetesBackOff", "checkout", "firing", "10:00", None),
                            ("KubernetesNodeNotReady", "node-7", "firing", "10:01", None)]
    backoff = fired[0]
    assert backoff.source == "detector:kubernetes" and backoff.severity == "warning"
    assert backoff.labels == {"alertname": "KubernetesBackOff", "service": "checkout",
                              "reason": "BackOff", "namespace": "shop"}
    assert backoff.annotations["object"] == "Pod/checkout-7d9f8b5c4d-x2x9k"
    assert backoff.annotations["node"] == "node-3"
    # the node was reported once: it resolves 10 min later; the BackOff recurred until 10:04
    # (lastTimestamp), so it stays firing until 10 min after that
    assert brief(det.observe([], T0 + timedelta(minutes=13, seconds=59))) == [
        ("KubernetesNodeNotReady", "node-7", "resolved", "10:01", "10:01")]
    resolved = det.observe([], T0 + timedelta(minutes=14))
    assert brief(resolved) == [("KubernetesBackOff", "checkout", "resolved", "10:00", "10:04")]
    assert resolved[0].observed_at == T0 + timedelta(minutes=14)
    assert det.flush(T0 + timedelta(minutes=15)) == []


def test_a_watch_resending_an_event_extends_it_and_a_later_return_is_a_new_alert():
    det = KubernetesDetector(resolve_after="5m")
    assert len(det.observe(events(BACKOFF), T0)) == 1
    again = dict(BACKOFF, count=9, lastTimestamp="2026-03-02T10:08:00Z")  # watch update
    assert det.observe(events(again), T0 + timedelta(minutes=12)) == []  # 10:08 + 5m > now
    later = core_event("BackOff", "Pod", "checkout-7d9f8b5c4d-abcde", "2026-03-02T10:20:00Z",
                       type_="Warning", field_path="spec.containers{checkout}")
    out = det.observe(events(later), T0 + timedelta(minutes=20))
    assert brief(out) == [("KubernetesBackOff", "checkout", "resolved", "10:00", "10:08"),
                          ("KubernetesBackOff", "checkout", "firing", "10:20", None)]


def test_reasons_pick_the_warnings_and_state_restores_an_open_episode():
    det = KubernetesDetector(reasons=["*"])
    hpa = core_event("FailedGetResourceMetric", "HorizontalPodAutoscaler", "checkout",
                     "2026-03-02T10:02:00Z", type_="Warning", namespace="prod")
    assert brief(det.observe(events(hpa), T0 + timedelta(minutes=2))) == [
        ("KubernetesFailedGetResourceMetric", "checkout", "firing", "10:02", None)]
    restored = KubernetesDetector(reasons=["*"])
    restored.set_state(det.get_state())
    end = T0 + timedelta(minutes=30)
    assert brief(restored.observe([], end)) == brief(det.observe([], end)) == [
        ("KubernetesFailedGetResourceMetric", "checkout", "resolved", "10:02", "10:02")]
    assert KubernetesDetector(reasons=["Unhealthy"]).observe(events(BACKOFF), end) == []


def test_the_cluster_s_warnings_join_the_incident_they_are_part_of(tmp_path, capsys):
    """The sample incident (postgres' pool exhausted at 10:21) with the cluster's Events
    beside it: checkout crash-looping and payments failing its readiness probe show up
    in that incident, by the checkout -> postgres and payments -> postgres edges."""
    from aiops.cli import main
    from tests.conftest import SAMPLES

    items = [core_event("BackOff", "Pod", "checkout-7d9f8b5c4d-x2x9k", "2026-03-02T10:21:20Z",
                        type_="Warning", field_path="spec.containers{checkout}", count=4,
                        last="2026-03-02T10:26:00Z",
                        message="Back-off restarting failed container checkout"),
             core_event("Unhealthy", "Pod", "payments-5f6b7c8d9-q2w4e", "2026-03-02T10:21:40Z",
                        type_="Warning", field_path="spec.containers{payments}",
                        message="Readiness probe failed: HTTP probe failed with "
                                "statuscode: 503")]
    path = tmp_path / "events.json"
    path.write_text(json.dumps(dict(LIST, items=items)))
    assert main(["replay", str(SAMPLES / "db-pool-exhaustion"), str(path), "--store",
                 str(tmp_path / "s.db"), "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    (incident,) = summary["incidents"]
    assert incident["root_cause"]["service"] == "postgres"  # symptoms support, never decide
    members = {a["id"].split("@")[0]: a for a in incident["alerts"]}
    from aiops.schema import fingerprint

    for name, service in (("KubernetesBackOff", "checkout"), ("KubernetesUnhealthy", "payments")):
        fp = fingerprint({"alertname": name, "service": service, "reason": name[10:],
                          "namespace": "shop"})
        assert fp in members, (name, sorted(members))
        assert members[fp]["rule"] in ("merged", "topology", "group_key")
    assert summary["alerts"]["detector"] > 0

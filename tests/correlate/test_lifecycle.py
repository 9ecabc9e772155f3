"""Lifecycle: when an incident opens, transients, auto-resolve, reopen, ack/resolve."""

from __future__ import annotations

import pytest

from tests.correlate.helpers import SHOP, Feeder, alert, event, pair, t


def test_critical_opens_at_once():
    f = Feeder(SHOP).feed([alert("HighErrorRate", 30, severity="critical", service="checkout")])
    (inc,) = f.incidents.values()
    assert inc["status"] == "open" and inc["opened_at"] == "2026-03-02T10:00:30Z"
    opened = next(e for e in inc["timeline"] if e["kind"] == "opened")
    assert "critical alert HighErrorRate" in opened["text"]


def test_lone_warning_waits_for_the_hold_then_opens():
    f = Feeder(SHOP).feed([alert("HighRequestLatency", 0, service="checkout")], until=100)
    assert f.incidents == {}
    f.advance(130)
    (inc,) = f.incidents.values()
    assert inc["opened_at"] == "2026-03-02T10:02:00Z"  # start + hold_time (2m), in event time


def test_transient_lone_warning_is_held_back_but_recorded():
    f = Feeder(SHOP).feed(pair("HighRequestLatency", 0, 50, service="checkout"), until=600)
    assert f.incidents == {}
    row = f.alert_row("HighRequestLatency")
    assert row["suppressed"] == "transient" and row["incident_id"] is None


def test_two_related_warnings_corroborate():
    f = Feeder(SHOP).feed(
        [
            alert("HighRequestLatency", 0, service="checkout"),
            alert("HighRequestLatency", 25, service="api-gateway"),
        ]
    )
    (inc,) = f.incidents.values()
    assert inc["opened_at"] == "2026-03-02T10:00:25Z"
    opened = next(e for e in inc["timeline"] if e["kind"] == "opened")
    assert "corroborates" in opened["text"]


def test_change_event_corroborates_a_warning():
    f = Feeder(SHOP).feed(
        [
            event("deploy", 0, service="checkout", message="Deployed checkout v2"),
            alert("HighRequestLatency", 40, service="checkout"),
        ]
    )
    (inc,) = f.incidents.values()
    assert inc["opened_at"] == "2026-03-02T10:00:40Z"
    assert any(e["kind"] == "event" and "Deployed checkout v2" in e["text"] for e in inc["timeline"])


def test_detector_alerts_alone_need_sustained_evidence_from_two_detectors():
    def det(name, at, source="detector:logs", **kw):
        return alert(name, at, source=source, service="checkout", **kw)

    # two log-detector alerts and an error burst, even a critical one: one signal (the logs)
    f = Feeder(SHOP).feed(
        [det("LogAnomaly", 0), det("LogErrorBurst", 5, severity="critical"), det("NewLogTemplate", 9)],
        until=900,
    )
    assert f.incidents == {}
    # metrics agree: three distinct anomalies from two detectors, each firing for detector_hold
    f = Feeder(SHOP).feed(
        [det("MetricAnomaly", 0, source="detector:metrics"), det("LogAnomaly", 10), det("LogErrorBurst", 20)],
        until=310,
    )
    assert f.incidents == {}  # not yet sustained (5m)
    f.advance(330)
    (inc,) = f.incidents.values()
    assert inc["opened_at"] == "2026-03-02T10:05:20Z"
    assert "firing together for 300s" in next(e for e in inc["timeline"] if e["kind"] == "opened")["text"]
    # a crash loop the cluster reports and its error logs: two signals as well
    f = Feeder(SHOP).feed(
        [det("KubernetesBackOff", 0, source="detector:kubernetes"), det("LogErrorBurst", 10),
         det("NewLogTemplate", 20)],
        until=330,
    )
    (inc,) = f.incidents.values()
    assert inc["opened_at"] == "2026-03-02T10:05:20Z" and inc["root_cause"]["service"] == "checkout"


def test_detector_alerts_do_not_corroborate_a_real_alert():
    f = Feeder(SHOP).feed(
        [
            alert("MetricAnomaly", 0, source="detector:metrics", service="checkout"),
            alert("HighRequestLatency", 10, service="checkout"),
        ],
        until=100,
    )
    assert f.incidents == {}  # a lone warning still waits for hold_time (2m)
    f.advance(140)
    (inc,) = f.incidents.values()
    assert inc["opened_at"] == "2026-03-02T10:02:10Z" and len(inc["alerts"]) == 2


def test_a_real_alert_takes_in_recent_anomalies_but_not_old_ones():
    f = Feeder(SHOP).feed(
        [
            alert("MetricAnomaly", 0, source="detector:metrics", service="checkout"),  # 5 min before
            alert("LogAnomaly", 200, source="detector:logs", service="checkout"),  # early sign
            alert("HighErrorRate", 300, severity="critical", service="checkout"),
        ],
        until=400,
    )
    (inc,) = f.incidents.values()
    assert f.alert_row("LogAnomaly")["incident_id"] == inc["id"]
    assert f.alert_row("MetricAnomaly")["incident_id"] is None
    assert inc["root_cause"]["service"] == "checkout"


def test_each_anomaly_brought_along_names_its_own_link():
    """A waiting group of anomalies on postgres and checkout joins a postgres alert: the
    checkout anomaly came by the checkout -> postgres edge, not by "same service=postgres"."""
    f = Feeder(SHOP).feed(
        [
            alert("NewLogTemplate", 0, source="detector:logs", service="postgres"),
            alert("LogAnomaly", 10, source="detector:logs", service="checkout"),
            alert("DatabaseConnectionsNearLimit", 60, severity="critical", service="postgres"),
        ],
        until=300,
    )
    (inc,) = f.incidents.values()
    members = f.members(inc)
    same = members[f.alert_row("NewLogTemplate")["id"]]
    assert same["rule"] == "merged" and same["score"] == 1.0
    assert same["detail"].endswith("(group_key: same service=postgres)")
    edge = members[f.alert_row("LogAnomaly")["id"]]
    assert edge["rule"] == "merged" and edge["score"] == 0.9
    assert edge["detail"] == ("anomaly waiting on checkout; DatabaseConnectionsNearLimit on "
                              "postgres links it (topology: checkout - postgres (1 hop, depends "
                              "on edge in the service graph))")


def test_detector_alerts_long_after_a_group_began_start_a_new_one():
    f = Feeder(SHOP).feed(
        [
            alert("MetricAnomaly", 0, severity="critical", source="detector:metrics", service="checkout"),
            alert("LogErrorBurst", 950, severity="warning", source="detector:logs", service="checkout"),
        ],
        until=1200,
    )
    assert f.incidents == {}  # the first group stopped taking alerts after group_window (15m)


def test_brief_anomalies_on_services_of_a_firing_incident_join_it():
    f = Feeder(SHOP).feed(
        [
            alert("HighErrorRate", 0, severity="critical", service="checkout"),
            alert("NewLogTemplate", 20, 20, source="detector:logs", service="checkout", template_id="7"),
            alert("NewLogTemplate", 30, 30, source="detector:logs", service="frontend", template_id="8"),
        ],
        until=200,
    )
    (inc,) = f.incidents.values()
    ids = {m["id"] for m in inc["alerts"]}
    assert f.alert_row("NewLogTemplate", template_id="7")["id"] in ids  # same service
    assert f.alert_row("NewLogTemplate", template_id="8")["incident_id"] is None  # two hops away


def test_flickering_detector_alerts_corroborate_nothing():
    recs = []
    for k in range(6):  # new-log-template style: instant alerts on one service
        recs.append(
            alert(
                "NewLogTemplate",
                10 * k,
                10 * k,
                source="detector:logs",
                service="checkout",
                template_id=str(k),
            )
        )
    f = Feeder(SHOP).feed(recs, until=900)
    assert f.incidents == {}
    assert all(r["incident_id"] is None for r in f.alerts.values())


def test_transient_joiner_leaves_the_incident():
    f = Feeder(SHOP).feed(
        [alert("HighErrorRate", 0, severity="critical", service="checkout")]
        + pair("HighRequestLatency", 60, 75, service="api-gateway"),
        until=200,
    )
    (inc,) = f.incidents.values()
    row = f.alert_row("HighRequestLatency")
    assert row["suppressed"] == "transient" and row["incident_id"] is None
    assert row["id"] not in f.members(inc)
    assert any(e["kind"] == "transient" for e in inc["timeline"])


def test_auto_resolve_after_quiet_period_and_reopen():
    recs = pair("HighErrorRate", 0, 300, severity="critical", service="checkout")
    f = Feeder(SHOP).feed(recs, until=500)
    (inc,) = f.incidents.values()
    assert inc["status"] == "open"  # resolved at 300, quiet period (5m) not over
    f.advance(601)
    inc = f.incidents[inc["id"]]
    assert inc["status"] == "resolved" and inc["resolved_at"] == "2026-03-02T10:05:00Z"
    f.feed([alert("HighErrorRate", 900, severity="critical", service="checkout")])
    inc = f.incidents[inc["id"]]
    assert inc["status"] == "open" and inc["resolved_at"] is None
    assert any(e["kind"] == "reopened" for e in inc["timeline"])
    assert len(f.incidents) == 1


def test_resolved_incident_never_absorbs_unrelated_alerts():
    recs = pair("HighErrorRate", 0, 60, severity="critical", service="checkout")
    f = Feeder(SHOP).feed(recs, until=500)
    f.feed(
        [
            alert("DatabaseDown", 600, severity="critical", service="postgres"),  # related, but new
            alert("HighRequestLatency", 610, severity="critical", service="checkout"),
        ]
    )  # same service, new alert
    assert len(f.incidents) == 2
    old = min(f.incidents.values(), key=lambda i: i["opened_at"])
    assert old["status"] == "resolved" and len(old["alerts"]) == 1


def test_ack_and_manual_resolve():
    f = Feeder(SHOP).feed([alert("HighErrorRate", 0, severity="critical", service="checkout")], until=60)
    iid = next(iter(f.incidents))
    row = f.corr.ack(iid, by="alice", at=t(90), note="looking")
    assert row["status"] == "acknowledged" and row["acknowledged_at"] == "2026-03-02T10:01:30Z"
    again = f.corr.ack(iid, by="bob")
    assert again["acknowledged_at"] == row["acknowledged_at"]  # idempotent
    row = f.corr.resolve(iid, by="alice", note="fixed")
    assert row["status"] == "resolved" and row["resolved_at"]
    assert [e["kind"] for e in row["timeline"]][-2:] == ["acknowledged", "resolved"]
    with pytest.raises(ValueError):
        f.corr.ack(iid, by="x")
    with pytest.raises(KeyError):
        f.corr.ack("inc-000000000000", by="x")

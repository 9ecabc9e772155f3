"""KPIs over stored rows: MTTD/MTTA/MTTR, noise reduction, dedup ratio, breakdowns."""

from __future__ import annotations

from aiops.kpis import dedup_ratio, kpis, noise_reduction, stats, suppressed


def inc(iid, opened, severity="critical", service="checkout", ack=None, resolved=None):
    return {
        "id": iid,
        "status": "resolved" if resolved else ("acknowledged" if ack else "open"),
        "opened_at": opened,
        "acknowledged_at": ack,
        "resolved_at": resolved,
        "severity": severity,
        "services": [service],
        "root_cause": {"service": service},
    }


def al(aid, start, incident=None, repeats=0, service="checkout", severity="critical", suppressed=None):
    return {
        "id": aid,
        "starts_at": start,
        "incident_id": incident,
        "repeats": repeats,
        "service": service,
        "severity": severity,
        "suppressed": suppressed,
    }


INCIDENTS = [
    inc("i1", "2026-03-02T10:00:30Z", ack="2026-03-02T10:02:30Z", resolved="2026-03-02T10:10:30Z"),
    inc("i2", "2026-03-03T09:00:10.5Z", severity="warning", service="postgres"),
]
ALERTS = [
    al("a1", "2026-03-02T10:00:00Z", "i1", repeats=3),
    al("a2", "2026-03-02T10:00:20Z", "i1", repeats=1, service="frontend"),
    al("a3", "2026-03-03T09:00:00.5Z", "i2", service="postgres", severity="warning"),
    al("a4", "2026-03-03T09:30:00Z", None, service="status-page", suppressed="flapping (3 starts in 15m)"),
    al("a5", "2026-03-03T09:31:00Z", None, service="reporting", suppressed="silenced by sil-1"),
]


def test_overall():
    k = kpis(INCIDENTS, ALERTS, raw_signals=10_000)["overall"]
    assert k["mttd"]["count"] == 2 and k["mttd"]["median_s"] == 20.0  # 30 s and 10 s
    assert k["mtta"] == {"count": 1, "mean_s": 120.0, "median_s": 120.0, "p90_s": 120.0, "max_s": 120.0}
    assert k["mttr"]["count"] == 1 and k["mttr"]["max_s"] == 600.0
    assert k["noise_reduction"] == {"alerts_to_incidents": 0.6, "signals_to_alerts": 0.9995}
    assert k["dedup_ratio"] == round(1 - 5 / 9, 4)
    assert k["suppressed"] == {"flapping": 1, "silenced": 1}
    assert (
        k["counts"]["open"] == 1 and k["counts"]["resolved"] == 1 and k["counts"]["alert_notifications"] == 9
    )


def test_breakdowns():
    k = kpis(INCIDENTS, ALERTS)
    assert set(k["by_service"]) == {"checkout", "postgres", "status-page", "reporting"}
    assert k["by_service"]["checkout"]["counts"]["alerts"] == 2  # a2 (frontend) goes with its incident
    assert k["by_service"]["postgres"]["mttd"]["median_s"] == 10.0
    assert set(k["by_severity"]) == {"critical", "warning"}
    assert set(k["by_day"]) == {"2026-03-02", "2026-03-03"}
    assert k["by_day"]["2026-03-03"]["counts"]["incidents"] == 1


def test_edge_cases():
    assert stats([]) == {"count": 0, "mean_s": None, "median_s": None, "p90_s": None, "max_s": None}
    assert noise_reduction(None, 0, 0) == {"alerts_to_incidents": None, "signals_to_alerts": None}
    assert dedup_ratio([]) is None
    assert suppressed([{"suppressed": "inhibited by x"}, {"suppressed": "weird"}]) == {
        "inhibited": 1,
        "other": 1,
    }
    assert kpis([], [])["overall"]["mttd"]["count"] == 0

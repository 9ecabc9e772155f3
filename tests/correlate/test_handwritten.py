"""A scenario written by hand the way an operator would (generic alert JSON, ``app`` and
``host`` labels, P1/high/low severities, its own names): the rules must not depend on how
the simulator names things."""

from __future__ import annotations

from aiops.correlate import Correlator
from aiops.evaluate import score
from aiops.schema import Alert, Event, fingerprint, normalize_severity
from tests.correlate.helpers import t

CONFIG = {
    "graph": {"web": ["orders"], "orders": ["inventory-db", "cache"], "reports": ["inventory-db"]},
    "hosts": {"node-a": ["web", "orders"], "node-b": ["inventory-db", "cache"], "node-c": ["reports"]},
}


def a(name, start, end=None, sev="high", **labels):
    lab = {"alertname": name, "severity": sev, **labels}
    return Alert(
        labels=lab,
        starts_at=t(start),
        status="resolved" if end is not None else "firing",
        ends_at=t(end) if end is not None else None,
        severity=normalize_severity(sev),
    )


def build():
    alerts, truth_f1, truth_f2, noise = [], [], [], []

    def fault(lst, name, start, end, **labels):
        x = [a(name, start, **labels), a(name, start, end, **labels)]
        lst.append({"fingerprint": fingerprint(x[0].labels), "startsAt": t(start).isoformat()})
        alerts.extend(x)

    # F1: inventory-db disk on node-b fills -> db errors -> orders -> web
    fault(truth_f1, "DiskAlmostFull", 600, 1500, host="node-b", sev="page")
    fault(truth_f1, "InventoryDBWriteErrors", 660, 1500, app="inventory-db")
    fault(truth_f1, "OrdersCheckoutFailing", 690, 1480, app="orders", pod="orders-1")
    fault(truth_f1, "OrdersCheckoutFailing", 695, 1480, app="orders", pod="orders-2")
    fault(truth_f1, "WebErrorsHigh", 720, 1450, app="web", sev="medium")
    fault(truth_f1, "ReportsJobSlow", 800, 1400, app="reports", sev="medium")
    # F2 later: a bad deploy of cache
    fault(truth_f2, "CacheEvictionsHigh", 3000, 3600, app="cache")
    fault(truth_f2, "OrdersLatencyHigh", 3040, 3550, app="orders", sev="medium")
    # noise: flapping, low severity, repeats, unrelated
    for k in range(6):
        x = a("NetworkFlap", 100 + 200 * k, 100 + 200 * k + 40, sev="medium", host="node-c")
        alerts += [a("NetworkFlap", 100 + 200 * k, sev="medium", host="node-c"), x]
        noise.append(x)
    for _ in range(3):  # the same reminder posted three times
        alerts.append(a("BackupCompleted", 50, sev="low", app="backup"))
    alerts.append(a("CertExpiresSoon", 900, sev="low", app="mail"))
    alerts.append(a("QueueDepthWarning", 2000, 2060, sev="medium", app="mail"))
    events = [Event(ts=t(2990), type="deploy", service="cache", message="cache 7.2 rollout")]
    truth = {
        "scenario": "handwritten",
        "faults": [
            {
                "id": "F1",
                "start": t(590).isoformat(),
                "end": t(1500).isoformat(),
                "root_cause": "node-b",
                "layer": "infrastructure",
                "services": ["node-b", "inventory-db", "orders", "web", "reports"],
                "alerts": truth_f1,
            },
            {
                "id": "F2",
                "start": t(2985).isoformat(),
                "end": t(3600).isoformat(),
                "root_cause": "cache",
                "layer": "application",
                "services": ["cache", "orders"],
                "alerts": truth_f2,
            },
        ],
    }
    return alerts, events, truth


def test_handwritten_scenario_meets_the_floors():
    alerts, events, truth = build()
    corr = Correlator(CONFIG)
    rows_a, rows_i = {}, {}
    items = sorted(
        [(x.ts, 1, x.fingerprint, x) for x in alerts] + [(e.ts, 0, "", e) for e in events],
        key=lambda x: x[:3],
    )
    for ts, kind, _, rec in items:
        ch = corr.observe([rec] if kind else [], [] if kind else [rec], ts)
        rows_a.update({r["id"]: r for r in ch.alerts})
        rows_i.update({r["id"]: r for r in ch.incidents})
    ch = corr.flush(t(5000))
    rows_a.update({r["id"]: r for r in ch.alerts})
    rows_i.update({r["id"]: r for r in ch.incidents})
    r = score(list(rows_a.values()), list(rows_i.values()), truth)
    assert r["pairs"]["f1"] >= 0.9, r["pairs"]
    assert r["root_cause_accuracy"] == 1.0 and r["layer_accuracy"] == 1.0, r["incidents_mapped"]
    assert r["noise_reduction"]["alerts"] == 17 and r["noise_reduction"]["incidents"] == 2  # the two faults
    assert r["mttd_s"]["median"] <= 60
    by_name = {x["labels"]["alertname"]: x for x in rows_a.values()}
    assert by_name["BackupCompleted"]["repeats"] == 2 and by_name["BackupCompleted"]["incident_id"] is None
    assert by_name["NetworkFlap"]["suppressed"].startswith("flapping")
    assert by_name["QueueDepthWarning"]["suppressed"] == "transient"
    inc = next(i for i in rows_i.values() if i["root_cause"]["service"] == "cache")
    assert "deploy" in inc["root_cause"]["reason"] and inc["owner"]["team"] == "application team"

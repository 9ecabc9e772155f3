"""Flapping: repeated fire/resolve in a window is one flapping alert, held back from incidents."""

from __future__ import annotations

from tests.correlate.helpers import SHOP, Feeder, alert, pair


def probe(start: float, end: float) -> list:
    return pair("BlackboxProbeFailed", start, end, service="status-page", instance="https://status")


def test_flapping_alert_never_opens_an_incident():
    recs = []
    for k in range(8):  # fires every ~2.5 minutes, each time for 20-100 s
        s = k * 150
        recs += probe(s, s + 20 + (k * 37) % 80)
    f = Feeder(SHOP).feed(recs, until=3000)
    assert f.incidents == {}
    rows = sorted(f.alerts.values(), key=lambda r: r["starts_at"])
    assert len(rows) == 8
    # the first two looked transient; once the third start made it flapping, all of them are
    assert all(r["suppressed"].startswith("flapping") for r in rows)
    assert all(r["incident_id"] is None for r in rows)


def test_a_flapping_alert_that_once_outlived_the_hold_is_one_incident():
    recs = probe(0, 300)  # the first time it stays down 5 minutes: an incident, rightly
    for k in range(1, 8):
        recs += probe(300 + k * 90, 300 + k * 90 + 30)
    f = Feeder(SHOP).feed(recs, until=3000)
    assert len(f.incidents) == 1
    (inc,) = f.incidents.values()
    rows = [r for r in f.alerts.values() if r["incident_id"] == inc["id"]]
    assert len(rows) >= 6  # later flaps collapse into it instead of paging again


def test_flaps_of_an_incident_alert_stay_in_that_incident():
    recs = [alert("DatabaseDown", 0, severity="critical", service="postgres")]
    for k in range(4):
        recs += pair("HighRequestLatency", 30 + k * 120, 90 + k * 120, service="checkout")
    f = Feeder(SHOP).feed(recs, until=700)
    (inc,) = f.incidents.values()
    rows = [r for r in f.alerts.values() if r["labels"]["alertname"] == "HighRequestLatency"]
    assert len(rows) == 4 and all(r["incident_id"] == inc["id"] for r in rows)
    assert sum(1 for r in rows if (r["suppressed"] or "").startswith("flapping")) == 2
    assert "flapping" in {m["rule"] for m in inc["alerts"]}


def test_below_threshold_is_not_flapping():
    f = Feeder(SHOP).feed(probe(0, 30) + probe(1200, 1230), until=2000)
    assert all(not (r["suppressed"] or "").startswith("flapping") for r in f.alerts.values())

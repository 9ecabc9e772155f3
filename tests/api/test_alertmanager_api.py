"""``POST /api/v2/alerts``: what Prometheus' notifier (and vmalert, the Loki/Mimir/Thanos
rulers, Grafana) posts to an Alertmanager, read with Alertmanager's meaning of endsAt."""

from __future__ import annotations

import orjson

from aiops.config import Config
from tests.api.conftest import assert_error, make_client

FAST = Config(engine={"lateness_s": 1, "alert_delay_s": 1})


def prom_alert(starts: str, ends: str, **labels: str) -> dict:
    return {"labels": {"alertname": "HighErrorRate", "service": "checkout",
                       "severity": "critical", **labels},
            "annotations": {"summary": "5xx above 5%"}, "startsAt": starts, "endsAt": ends,
            "generatorURL": "http://prometheus:9090/graph?g0.expr=x"}


def post(c, alerts: list) -> object:
    return c.post("/api/v2/alerts", content=orjson.dumps(alerts),
                  headers={"content-type": "application/json"})


def at_event_time(c, ts: str) -> tuple[dict, dict]:
    """Other input moves event time to ``ts``; the one alert and incident then."""
    c.post("/api/v1/logs", content=orjson.dumps({"ts": ts, "msg": "tick"}) + b"\n",
           headers={"content-type": "application/x-ndjson"})
    c.post("/api/v1/flush")
    (alert,) = c.get("/api/v1/alerts").json()["items"]
    (incident,) = c.get("/api/v1/incidents").json()["items"]
    return alert, incident


def test_a_firing_alert_stays_firing_until_its_validity_ends_and_re_sends_extend_it():
    with make_client(FAST) as c:
        first = post(c, [prom_alert("2026-11-28T17:50:00Z", "2026-11-28T17:54:00Z")])
        assert first.status_code == 202 and first.json()["accepted"] == 1
        # Prometheus re-sends a minute later, valid for four more minutes
        post(c, [prom_alert("2026-11-28T17:50:00Z", "2026-11-28T17:55:00Z")])
        # other input moves event time to 17:54:30: before the extended validity
        alert, incident = at_event_time(c, "2026-11-28T17:54:30Z")
        assert alert["status"] == "firing" and alert["source"] == "prometheus"
        assert alert["repeats"] == 1 and alert["ends_at"] == "2026-11-28T17:55:00Z"
        assert alert["generator_url"] == "http://prometheus:9090/graph?g0.expr=x"  # one click
        assert incident["status"] == "open" and incident["root_cause"]["service"] == "checkout"
        # the rule stopped: Prometheus sends the alert with endsAt at its end
        post(c, [prom_alert("2026-11-28T17:50:00Z", "2026-11-28T17:56:10Z")])
        alert, incident = at_event_time(c, "2026-11-28T18:10:00Z")
        assert alert["status"] == "resolved" and alert["ends_at"] == "2026-11-28T17:56:10Z"
        assert incident["status"] == "resolved"
        assert incident["resolved_at"] == "2026-11-28T17:56:10Z"


def test_bodies_that_are_not_an_alert_array_are_named():
    with make_client(FAST) as c:
        webhook = {"version": "4", "receiver": "aiops", "groupKey": "{}", "status": "firing",
                   "alerts": [prom_alert("2026-11-28T17:50:00Z", "2026-11-28T17:54:00Z")]}
        assert_error(post(c, webhook), 422, "/api/v1/alertmanager")
        ours = prom_alert("2026-11-28T17:50:00Z", "2026-11-28T17:54:00Z",
                          aiops_incident="inc-0123456789ab")
        bad = {"labels": {"service": "x"}, "startsAt": "2026-11-28T17:50:00Z"}
        good = prom_alert("2026-11-28T17:51:00Z", "2026-11-28T17:55:00Z", service="payments")
        r = post(c, [ours, bad, good])  # the refused item named, the rest committed
        assert r.status_code == 202 and (r.json()["accepted"], r.json()["rejected"]) == (1, 1)
        assert r.json()["errors"][0]["field"] == "[1].labels.alertname"
        c.post("/api/v1/flush")
        assert [a["labels"]["service"] for a in c.get("/api/v1/alerts").json()["items"]] == [
            "payments"]  # aiops' own incident (its alertmanager webhook aimed at itself) is not

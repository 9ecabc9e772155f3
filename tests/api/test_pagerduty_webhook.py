"""PagerDuty v3 webhooks back in: an ack or resolution in PagerDuty's app reaches the aiops
incident it paged for (``incident_key`` = the incident id), so MTTA and MTTR count it."""

from __future__ import annotations

import hashlib
import hmac

import orjson
import pytest

from aiops.config import Config
from tests.api.conftest import assert_error, make_client

ALERT = [{"labels": {"alertname": "PostgresDown", "service": "postgres", "severity": "critical"},
          "startsAt": "2026-11-28T17:00:00Z"}]


def v3(event_type: str, incident_key: str | None, occurred_at: str, who: str = "Alice") -> bytes:
    """A v3 webhook as PagerDuty sends it (the developer docs' example, trimmed)."""
    data = {"id": "PGR0VU2", "type": "incident", "number": 2, "status": "acknowledged",
            "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2",
            "title": "PostgresDown on postgres", "service": {"summary": "API Service"}}
    if incident_key is not None:
        data["incident_key"] = incident_key
    return orjson.dumps({"event": {
        "id": "5ac64822-4adc-4fda-ade0-410becf0de4f", "event_type": event_type,
        "resource_type": "incident", "occurred_at": occurred_at,
        "agent": {"summary": who, "type": "user_reference"}, "client": {"name": "PagerDuty"},
        "data": data}})


@pytest.fixture
def paged():
    with make_client(Config()) as c:
        assert c.post("/api/v1/alerts", json=ALERT).status_code == 202
        c.post("/api/v1/flush")
        (incident,) = c.get("/api/v1/incidents").json()["items"]
        yield c, incident["id"]


def pd(c, body: bytes, **headers):
    return c.post("/api/v1/pagerduty", content=body,
                  headers={"content-type": "application/json", **headers})


def test_an_ack_and_a_resolution_in_pagerduty_reach_the_incident(paged):
    c, incident_id = paged
    r = pd(c, v3("incident.acknowledged", incident_id, "2026-11-28T17:04:00.000Z"))
    assert r.status_code == 200 and r.json() == {"applied": True, "incident": incident_id,
                                                 "action": "ack", "by": "Alice"}
    again = pd(c, v3("incident.acknowledged", incident_id, "2026-11-28T17:05:00Z", "Bob"))
    assert again.json()["applied"] is True  # a re-delivery: the first ack stays the one
    pd(c, v3("incident.resolved", incident_id, "2026-11-28T17:20:00Z", "Alice"))
    doc = c.get(f"/api/v1/incidents/{incident_id}").json()
    assert doc["status"] == "resolved"
    assert doc["acknowledged_at"].startswith("2026-11-28T17:04:00")
    assert doc["resolved_at"].startswith("2026-11-28T17:20:00")
    acks = [t["text"] for t in doc["timeline"] if t["kind"] == "acknowledged"]
    assert acks == ["acknowledged by Alice: via PagerDuty "
                    "(https://acme.pagerduty.com/incidents/PGR0VU2)"]
    kpis = c.get("/api/v1/dashboards/incidents").json()
    assert kpis["mtta"]["median_s"] == 240.0 and kpis["mttr"]["median_s"] == 1200.0


def test_events_that_are_not_aiops_acks_are_answered_and_ignored(paged):
    c, incident_id = paged
    for body, says in (
            (v3("incident.acknowledged", "some-other-tools-key", "2026-11-28T17:04:00Z"),
             "not an aiops incident"),
            (v3("incident.acknowledged", None, "2026-11-28T17:04:00Z"), "no incident_key"),
            (v3("incident.annotated", incident_id, "2026-11-28T17:04:00Z"),
             "not an acknowledgement")):
        r = pd(c, body)
        assert r.status_code == 200 and r.json()["applied"] is False
        assert says in r.json()["reason"]
    assert c.get(f"/api/v1/incidents/{incident_id}").json()["status"] == "open"
    assert_error(pd(c, b'{"messages": []}'), 400, "PagerDuty v3 webhook")
    assert_error(pd(c, v3("incident.acknowledged", incident_id, "yesterday")), 422, "occurred_at")


def test_a_correlator_without_acks_answers_instead_of_failing(paged, monkeypatch):
    """A plugged-in correlator may lack ack/resolve: PagerDuty is told so (200, not a 500
    it would retry for hours)."""
    c, incident_id = paged
    backend = c.app.state.backend
    monkeypatch.setattr(backend, "supports", lambda name: name not in ("ack", "resolve"))
    r = pd(c, v3("incident.acknowledged", incident_id, "2026-11-28T17:04:00Z"))
    assert r.status_code == 200
    assert r.json() == {"applied": False, "reason": "this correlator does not support ack"}
    assert c.get(f"/api/v1/incidents/{incident_id}").json()["status"] == "open"

def test_a_signing_secret_is_checked():
    secret = "whsec-8a7b6c"
    with make_client(Config(notify={"pagerduty_webhook_secret": secret})) as c:
        c.post("/api/v1/alerts", json=ALERT)
        c.post("/api/v1/flush")
        (incident,) = c.get("/api/v1/incidents").json()["items"]
        body = v3("incident.acknowledged", incident["id"], "2026-11-28T17:04:00Z")
        good = "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert_error(pd(c, body, **{"x-pagerduty-signature": "v1=00ff"}), 401, "signature")
        assert_error(pd(c, body), 401, "signature")
        # PagerDuty sends one signature per secret while a secret is being rotated
        r = pd(c, body, **{"x-pagerduty-signature": f"v1=deadbeef, {good}"})
        assert r.status_code == 200 and r.json()["applied"] is True

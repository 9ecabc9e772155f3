"""Grafana Alerting's webhook contact point: Alertmanager's body as version "1" with orgId,
title, state and message. It was refused whole ("expected Alertmanager webhook version '4'")."""

from __future__ import annotations

import orjson

from ingest.alerts import read_alerts
from ingest.errors import ErrorPolicy
from tests.api.conftest import make_client


def grafana_body(status: str = "firing", ends: str = "0001-01-01T00:00:00Z") -> dict:
    """The shape Grafana 9-11 documents and sends (its test notification, one alert)."""
    return {
        "receiver": "aiops", "status": status, "orgId": 1,
        "alerts": [{
            "status": status,
            "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1",
                       "service": "checkout", "severity": "critical",
                       "grafana_folder": "Production"},
            "annotations": {"description": "The system has high memory usage",
                            "runbook_url": "https://myrunbook.com/runbook/1234",
                            "summary": "This alert was triggered for zone us-1"},
            "startsAt": "2026-11-28T18:51:03.157076+02:00", "endsAt": ends,
            "generatorURL": "https://grafana.example/alerting/grafana/1afz29v7z/view",
            "fingerprint": "c6eadffa33fcdf37",
            "silenceURL": "https://grafana.example/alerting/silence/new?alertmanager=grafana",
            "dashboardURL": "https://grafana.example/d/abc", "panelURL": "",
            "values": {"B": 44.23943737541908, "C": 1},
            "valueString": "[ var='B' labels={zone=us-1} value=44.23943737541908 ]"}],
        "groupLabels": {"alertname": "High memory usage"},
        "commonLabels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
        "commonAnnotations": {}, "externalURL": "https://grafana.example/", "version": "1",
        "groupKey": "{}/{alertname=\"High memory usage\"}:{alertname=\"High memory usage\"}",
        "truncatedAlerts": 0, "title": "[FIRING:1] High memory usage (blue us-1)",
        "state": "alerting", "message": "**Firing**\n\nValue: B=44.239, C=1\n"}


def test_a_grafana_webhook_is_read_like_alertmanager_s():
    policy = ErrorPolicy(strict=False, keep=10)
    (alert,) = read_alerts(orjson.dumps(grafana_body()), source="grafana", policy=policy)
    assert policy.count == 0
    assert alert.source == "grafana" and alert.status == "firing" and alert.ends_at is None
    assert alert.labels["alertname"] == "High memory usage" and alert.service == "checkout"
    assert alert.starts_at.isoformat() == "2026-11-28T16:51:03.157076+00:00"
    assert alert.fingerprint == "c6eadffa33fcdf37"
    assert alert.annotations["runbook_url"] == "https://myrunbook.com/runbook/1234"
    assert alert.attributes["orgId"] == 1 and alert.attributes["values"] == {
        "B": 44.23943737541908, "C": 1}
    (resolved,) = read_alerts(orjson.dumps(grafana_body("resolved", "2026-11-28T17:10:00Z")),
                              source="grafana", policy=policy)
    assert resolved.status == "resolved" and resolved.ends_at.isoformat().startswith(
        "2026-11-28T17:10:00")


def test_other_versions_are_still_refused_by_name():
    body = {**grafana_body(), "version": "3"}
    body.pop("orgId")
    policy = ErrorPolicy(strict=False, keep=10)
    assert list(read_alerts(orjson.dumps(body), source="x", policy=policy)) == []
    assert "version '4' (or Grafana's '1' with orgId)" in str(policy.first[0])


def test_grafana_posts_to_the_alertmanager_endpoint_and_makes_an_incident():
    with make_client() as c:
        r = c.post("/api/v1/alertmanager", content=orjson.dumps(grafana_body()),
                   headers={"content-type": "application/json"})
        assert r.status_code == 202 and r.json()["accepted"] == 1
        c.post("/api/v1/flush")
        (incident,) = c.get("/api/v1/incidents").json()["items"]
        assert incident["title"].startswith("High memory usage on checkout")
        (alert,) = c.get("/api/v1/alerts").json()["items"]
        assert alert["source"] == "grafana" and alert["incident_id"] == incident["id"]

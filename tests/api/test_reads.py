"""Incidents, alerts, templates and dashboards over a store with known contents."""

from __future__ import annotations

import json
import statistics

import pytest
from fastapi.testclient import TestClient

from aiops.config import Config
from aiops.store import open_store
from api import create_app
from benchmarks.api_load import synthetic_store
from tests.api.conftest import assert_error


@pytest.fixture(scope="module")
def world():
    store = open_store(":memory:")
    truth = synthetic_store(store, n_incidents=120, alerts_per_incident=10)
    store.save_checkpoint(0, {}, templates=[
        {"source": "web", "id": f"web:{i}", "template": f"GET /item/<*> took <*> ms v{i}",
         "count": 100 - i, "first_seen": "2026-11-28T00:00:00Z",
         "last_seen": "2026-11-28T01:00:00Z"} for i in range(30)])
    with TestClient(create_app(Config(), store)) as c:
        yield c, truth


def pages(c, path, **params):
    items, cursor, calls = [], None, 0
    while True:
        q = dict(params, **({"cursor": cursor} if cursor else {}))
        body = c.get(path, params=q).json()
        items.extend(body["items"])
        calls += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, calls


def test_incident_pages_cover_everything_once(world):
    c, truth = world
    items, calls = pages(c, "/api/v1/incidents", limit=25)
    assert calls == 5 and len(items) == 120
    assert [i["id"] for i in items] == [i["id"] for i in reversed(truth["incidents"])]
    assert all("alerts" not in i and i["alert_count"] == 8 for i in items)
    asc, _ = pages(c, "/api/v1/incidents", limit=50, order="asc")
    assert [i["id"] for i in asc] == [i["id"] for i in truth["incidents"]]


@pytest.mark.parametrize("params, keep", [
    ({"status": "open"}, lambda i: i["status"] == "open"),
    ({"status": ["acknowledged", "resolved"]}, lambda i: i["status"] != "open"),
    ({"service": "svc-3"}, lambda i: "svc-3" in i["services"]),
    ({"severity": "critical", "owner": "model"},
     lambda i: i["severity"] == "critical" and i["owner"]["layer"] == "model"),
    ({"since": "2026-11-28T03:00:00Z", "until": "2026-11-28T05:00:00Z"},
     lambda i: "2026-11-28T03" <= i["opened_at"] < "2026-11-28T05"),
])
def test_incident_filters(world, params, keep):
    c, truth = world
    items, _ = pages(c, "/api/v1/incidents", limit=7, **params)
    expected = [i["id"] for i in reversed(truth["incidents"]) if keep(i)]
    assert expected and [i["id"] for i in items] == expected


def test_incident_detail_has_evidence_and_alerts(world):
    c, truth = world
    doc = c.get("/api/v1/incidents/INC-00007").json()
    source = truth["incidents"][6]
    assert doc["root_cause"] == source["root_cause"] and doc["owner"] == source["owner"]
    assert doc["timeline"] == source["timeline"]
    assert [a["id"] for a in doc["alerts"]] == [a["id"] for a in source["alerts"]]
    first = doc["alerts"][0]
    assert first["rule"] == "first" and first["alert"]["incident_id"] == "INC-00007"
    assert first["alert"]["labels"]["service"] == source["services"][0]
    assert_error(c.get("/api/v1/incidents/INC-99999"), 404, "INC-99999")


def test_alert_pages_and_filters(world):
    c, truth = world
    items, calls = pages(c, "/api/v1/alerts", limit=300)
    assert calls == 4 and len(items) == len(truth["alerts"]) == 1200
    assert len({a["id"] for a in items}) == 1200
    assert [a["starts_at"] for a in items] == sorted(a["starts_at"] for a in items)
    one = c.get("/api/v1/alerts", params={"limit": 100_000}).json()
    assert one["count"] == 1200 and one["next_cursor"] is None
    checks = [({"suppressed": "silenced"}, lambda a: a["suppressed"] == "silenced"),
              ({"suppressed": "none", "service": "svc-2"},
               lambda a: a["suppressed"] is None and a["service"] == "svc-2"),
              ({"incident_id": "INC-00003"}, lambda a: a["incident_id"] == "INC-00003"),
              ({"alertname": "Alert3", "status": "resolved"},
               lambda a: a["labels"]["alertname"] == "Alert3" and a["status"] == "resolved"),
              ({"owner": "infrastructure"},
               lambda a: a["incident_id"] and int(a["incident_id"][4:]) % 3 == 1)]
    for params, keep in checks:
        got, _ = pages(c, "/api/v1/alerts", limit=500, **params)
        want = sorted(a["id"] for a in truth["alerts"] if keep(a))
        assert want and sorted(a["id"] for a in got) == want, params
    some = truth["alerts"][5]
    assert c.get(f"/api/v1/alerts/{some['id']}").json() == some
    assert_error(c.get("/api/v1/alerts/nope@never"), 404)


def test_templates(world):
    c, _ = world
    items, calls = pages(c, "/api/v1/templates", limit=8)
    assert calls == 4 and [t["count"] for t in items] == list(range(100, 70, -1))
    hit = c.get("/api/v1/templates", params={"contains": "v17"}).json()["items"]
    assert [t["id"] for t in hit] == ["web:17"]
    assert c.get("/api/v1/templates", params={"min_count": 99}).json()["count"] == 2


def test_incident_dashboard(world):
    c, truth = world
    d = c.get("/api/v1/dashboards/incidents").json()
    incidents = truth["incidents"]
    assert d["incidents"] == {"total": 120, "open": 30, "acknowledged": 30, "resolved": 60}
    assert d["mttd"] == {"count": 120, "mean_s": 30.0, "median_s": 30.0, "p90_s": 30.0,
                         "max_s": 30.0}
    assert d["mtta"]["count"] == 90 and d["mtta"]["median_s"] == 120.0
    assert d["mttr"]["count"] == 60 and d["mttr"]["mean_s"] == 900.0
    assert d["open_by_severity"] == {"info": 30, "error": 30} or \
        sum(d["open_by_severity"].values()) == 60
    assert sum(d["open_by_owner"].values()) == 60
    owners = {o["owner"]: o for o in d["per_owner"]}
    for layer, row in owners.items():
        mine = [i for i in incidents if i["owner"]["layer"] == layer]
        assert row["incidents"] == len(mine) and row["mttr"]["count"] == sum(
            1 for i in mine if i["status"] == "resolved")
        assert row["open"] == sum(1 for i in mine if i["status"] != "resolved")
    assert sum(o["incidents"] for o in d["per_owner"]) == 120 and len(owners) >= 2
    svc0 = next(s for s in d["per_service"] if s["service"] == "svc-0")
    assert svc0["incidents"] == sum(1 for i in incidents if i["services"] == ["svc-0"])
    assert sum(h["opened"] for h in d["per_hour"]) == 120
    assert sum(day["resolved"] for day in d["per_day"]) == 60
    window = c.get("/api/v1/dashboards/incidents",
                   params={"since": "2026-11-28T02:00:00Z", "until": "2026-11-28T04:00:00Z"})
    assert window.json()["incidents"]["total"] == sum(
        1 for i in incidents if "2026-11-28T02" <= i["opened_at"] < "2026-11-28T04")


def test_alert_reduction_dashboard(world):
    c, truth = world
    d = c.get("/api/v1/dashboards/alert-reduction").json()
    alerts = truth["alerts"]
    notes = sum(1 + a["repeats"] for a in alerts)
    raw = sum(truth["signals"].values())
    assert (d["alerts"], d["notifications"], d["incidents"], d["raw_signals"]) == \
        (1200, notes, 120, raw)
    assert d["reduction"]["alerts_to_incidents"] == round(1 - 120 / 1200, 4)
    assert d["reduction"]["signals_to_alerts"] == round(1 - 1200 / raw, 4)
    assert d["dedup_ratio"] == round(1 - 1200 / notes, 4)
    reasons = {r: sum(1 for a in alerts if a["suppressed"] == r)
               for r in ("silenced", "inhibited", "flapping", "transient")}
    assert reasons["silenced"] == reasons["inhibited"] == 120
    assert d["suppressed"] == {**reasons, "total": 240}
    top = d["noisiest_alerts"][0]
    by_key = {}
    for a in alerts:
        key = (a["labels"]["alertname"], a["service"])
        by_key[key] = by_key.get(key, 0) + 1 + a["repeats"]
    assert top["notifications"] == max(by_key.values())
    assert sum(s["alerts"] for s in d["per_service"]) == 1200
    assert sum(b["incidents"] for b in d["over_time"]) == 120
    daily = c.get("/api/v1/dashboards/alert-reduction", params={"bucket": "day"}).json()
    assert [b["bucket"] for b in daily["over_time"]] == sorted(
        {a["starts_at"][:10] for a in alerts} | {i["opened_at"][:10] for i in truth["incidents"]})


def test_rollups_follow_updates_and_resolutions():
    """The roll-up triggers stay exact when the engine rewrites alert rows."""
    store = open_store(":memory:")
    base = {"fingerprint": "f", "labels": {"alertname": "A"}, "annotations": {}, "source": "x",
            "severity": "warning", "service": "s", "ends_at": None, "suppressed": None}
    rows = [dict(base, id=f"f@{i}", starts_at=f"2026-11-28T1{i}:00:00Z", status="firing",
                 incident_id="I1", repeats=0) for i in range(3)]
    store.save_checkpoint(1, {}, alerts=rows)
    rows[0].update(status="resolved", repeats=4)
    rows[1].update(suppressed="flapping", incident_id=None)
    store.save_checkpoint(2, {}, alerts=rows[:2])
    with TestClient(create_app(Config(), store)) as c:
        d = c.get("/api/v1/dashboards/alert-reduction").json()
    assert (d["alerts"], d["notifications"]) == (3, 7)
    assert d["suppressed"]["flapping"] == 1 and d["suppressed"]["total"] == 1
    assert statistics.fmean([1]) == 1


def test_health_docs_and_openapi(world):
    c, _ = world
    assert c.get("/healthz").json() == {"status": "ok"}
    spec = c.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/v1/logs", "/api/v1/alertmanager", "/v1/logs", "/_bulk",
                 "/api/v1/incidents/{incident_id}/ack", "/api/v1/dashboards/alert-reduction",
                 "/api/v1/silences", "/metrics", "/api/v1/flush"):
        assert path in paths, path
    logs = paths["/api/v1/logs"]["post"]
    assert set(logs["requestBody"]["content"]) == {"application/json", "application/x-ndjson",
                                                   "text/plain"}
    assert logs["requestBody"]["content"]["application/json"]["example"]
    assert {"202", "400", "413", "415", "422"} <= set(logs["responses"])
    assert "text/html" in c.get("/docs").headers["content-type"]


def _webhook(status: str, starts: str, ends: str = "0001-01-01T00:00:00Z") -> dict:
    return {"version": "4", "status": status, "receiver": "aiops", "groupKey": "g", "alerts": [
        {"status": status, "labels": {"alertname": "HighErrorRate", "service": "checkout",
                                      "severity": "critical", "instance": f"10.0.0.{i}:80"},
         "annotations": {"summary": "5xx above 5%"}, "startsAt": starts, "endsAt": ends}
        for i in (5, 6)]}


def test_incident_actions_ack_and_resolve_persist():
    from aiops.engine import Engine

    engine = Engine(Config(), open_store(":memory:"))
    with TestClient(create_app(Config(), engine)) as c:
        assert c.post("/api/v1/alertmanager",
                      json=_webhook("firing", "2026-11-28T17:50:00Z")).status_code == 202
        assert c.post("/api/v1/flush").status_code == 200
        (inc,) = c.get("/api/v1/incidents").json()["items"]
        assert inc["status"] == "open" and inc["services"] == ["checkout"]
        resp = c.post(f"/api/v1/incidents/{inc['id']}/ack",
                      json={"by": "alice", "at": "2026-11-28T17:55:00Z", "note": "on it"})
        assert resp.status_code == 200 and resp.json()["status"] == "acknowledged"
        got = c.get(f"/api/v1/incidents/{inc['id']}").json()
        assert got["status"] == "acknowledged"
        assert got["acknowledged_at"] == "2026-11-28T17:55:00Z"
        resp = c.post(f"/api/v1/incidents/{inc['id']}/resolve",
                      json={"by": "bob", "at": "2026-11-28T18:10:00Z"})
        assert resp.status_code == 200 and resp.json()["status"] == "resolved"
        dash = c.get("/api/v1/dashboards/incidents").json()
        assert dash["mtta"]["median_s"] == 300 and dash["mttr"]["median_s"] == 1200
        assert_error(c.post(f"/api/v1/incidents/{inc['id']}/ack", json={"by": "carol"}), 409)
        assert_error(c.post("/api/v1/incidents/INC-99999/resolve", json={"by": "bob"}), 404)
        assert_error(c.post(f"/api/v1/incidents/{inc['id']}/ack", json={"note": "who?"}), 422,
                     "by")
        assert_error(c.post(f"/api/v1/incidents/{inc['id']}/ack",
                            json={"by": "a", "at": "soon"}), 422, "at")


def test_notes_are_kept_with_the_incident_resolved_or_not_and_survive_a_restart(tmp_path,
                                                                               capsys):
    from aiops.cli import main

    path = tmp_path / "notes.db"
    store = open_store(str(path))
    with TestClient(create_app(Config(), store)) as c:
        c.post("/api/v1/alertmanager", json=_webhook("firing", "2026-11-28T17:50:00Z"))
        c.post("/api/v1/alertmanager",
               json=_webhook("resolved", "2026-11-28T17:50:00Z", "2026-11-28T17:58:00Z"))
        assert c.post("/api/v1/flush").status_code == 200
        (inc,) = c.get("/api/v1/incidents").json()["items"]
        c.post(f"/api/v1/incidents/{inc['id']}/resolve", json={"by": "alice"})
        # resolved: the correlator is done with it (and forgets it); notes are not
        first = c.post(f"/api/v1/incidents/{inc['id']}/notes",
                       json={"by": "alice", "text": "rolled back deploy 142"})
        assert first.status_code == 201
        assert first.json() == {"id": 1, "at": "2026-11-28T17:58:00Z", "by": "alice",
                                "text": "rolled back deploy 142"}  # default: event time
        c.post(f"/api/v1/incidents/{inc['id']}/notes",
               json={"by": "bob", "text": "postmortem: PM-7", "at": "2026-11-29T09:00:00Z"})
        assert_error(c.post("/api/v1/incidents/inc-000000000000/notes",
                            json={"by": "bob", "text": "x"}), 404, "no incident")
        assert_error(c.post(f"/api/v1/incidents/{inc['id']}/notes",
                            json={"by": "bob", "text": ""}), 422, "text")
        assert c.get(f"/api/v1/incidents/{inc['id']}").json()["status"] == "resolved"
    store.close()
    store = open_store(str(path))  # a restart: the notes were committed when answered
    with TestClient(create_app(Config(), store)) as c:
        got = c.get(f"/api/v1/incidents/{inc['id']}").json()["notes"]
    store.close()
    assert [(n["by"], n["at"], n["text"]) for n in got] == [
        ("alice", "2026-11-28T17:58:00Z", "rolled back deploy 142"),
        ("bob", "2026-11-29T09:00:00Z", "postmortem: PM-7")]
    capsys.readouterr()
    assert main(["incidents", inc["id"], "--store", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["notes"] == got

def test_silences_suppress_matching_alerts_and_are_stored():
    from aiops.engine import Engine

    store = open_store(":memory:")
    engine = Engine(Config(), store)
    with TestClient(create_app(Config(), engine)) as c:
        body = {"matchers": [{"name": "service", "value": "checkout"}, 'alertname=~"High.*"'],
                "startsAt": "2026-11-28T17:00:00Z", "endsAt": "2026-11-28T20:00:00Z",
                "createdBy": "alice", "comment": "maintenance"}
        resp = c.post("/api/v1/silences", json=body)
        assert resp.status_code == 201, resp.text
        sid = resp.json()["id"]
        assert [s["id"] for s in c.get("/api/v1/silences").json()] == [sid]
        assert [s["id"] for s in store.documents("silences")] == [sid]
        assert c.post("/api/v1/alertmanager",
                      json=_webhook("firing", "2026-11-28T17:50:00Z")).status_code == 202
        c.post("/api/v1/flush")
        alerts = c.get("/api/v1/alerts").json()["items"]
        assert len(alerts) == 2 and all(a["suppressed"] and a["incident_id"] is None
                                        for a in alerts)
        assert c.get("/api/v1/incidents").json()["items"] == []
        expired = c.delete(f"/api/v1/silences/{sid}")
        assert expired.status_code == 200 and expired.json()["expired_at"]
        assert_error(c.delete("/api/v1/silences/sil-nope"), 404)
        assert_error(c.post("/api/v1/silences", json={**body, "matchers": ["nonsense"]}), 422,
                     "matchers")
        assert_error(c.post("/api/v1/silences", json={**body, "endsAt": "2026-11-28T16:00:00Z"}),
                     422, "endsAt")
        assert_error(c.post("/api/v1/silences", json={**body, "startsAt": ""}), 422, "startsAt")
        assert_error(c.post("/api/v1/silences", json={**body, "matchers": []}), 422)




def test_incidents_filter_by_scope():
    """The same service failing in two clusters: two incidents, each found by its scope."""
    from tests.api.conftest import make_client

    alerts = [{"labels": {"alertname": "HighErrorRate", "service": "checkout", "cluster": c,
                          "env": "prod", "severity": "critical"},
               "startsAt": f"2026-11-28T17:00:{s:02d}Z"} for c, s in (("eu-1", 0), ("us-1", 5))]
    with make_client() as c:
        assert c.post("/api/v1/alerts", json=alerts).status_code == 202
        c.post("/api/v1/flush")
        both = c.get("/api/v1/incidents").json()["items"]
        assert sorted(i["scope"]["cluster"] for i in both) == ["eu-1", "us-1"]
        eu = c.get("/api/v1/incidents", params={"scope": "cluster=eu-1"}).json()["items"]
        assert [i["scope"] for i in eu] == [{"cluster": "eu-1", "env": "prod"}]
        assert eu[0]["title"].endswith("[cluster=eu-1, env=prod]")
        prod = c.get("/api/v1/incidents", params=[("scope", "env=prod"),
                                                  ("scope", "cluster=us-1")]).json()["items"]
        assert [i["scope"]["cluster"] for i in prod] == ["us-1"]
        assert c.get("/api/v1/incidents", params={"scope": "cluster=eu"}).json()["count"] == 0
        assert_error(c.get("/api/v1/incidents", params={"scope": "eu-1"}), 422, "scope")

"""Live input gone quiet: event time follows the wall clock, through committed clock ticks.

A lone Alertmanager alert used to wait for the next record (hours, at Alertmanager's
repeat_interval) before event time passed it and it became an incident."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timedelta

import orjson

from aiops.config import Config
from aiops.engine import Engine
from aiops.schema import UTC, Alert, ClockTick
from aiops.store import decode_batch, encode_batch, open_store
from tests.api.conftest import JSON, make_client

FAST = {"lateness_s": 1, "alert_delay_s": 1}


def webhook(starts: datetime, name: str = "PostgresDown") -> bytes:
    """An Alertmanager v4 webhook with one firing critical alert."""
    alert = {"status": "firing", "labels": {"alertname": name, "service": "postgres",
                                            "severity": "critical"},
             "annotations": {"summary": "postgres is down"},
             "startsAt": starts.isoformat().replace("+00:00", "Z"),
             "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus:9090/graph",
             "fingerprint": "3f9d2c1b0a998877"}
    return orjson.dumps({"version": "4", "groupKey": "{}:{alertname=\"PostgresDown\"}",
                         "status": "firing", "receiver": "aiops", "groupLabels": {},
                         "commonLabels": alert["labels"], "commonAnnotations": {},
                         "externalURL": "http://alertmanager:9093", "alerts": [alert],
                         "truncatedAlerts": 0})


def wait_for(c, predicate, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = c.get("/api/v1/incidents").json()
        if predicate(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def test_a_lone_live_alert_becomes_an_incident_without_more_input():
    config = Config(engine={**FAST, "idle_clock_s": 0.3})
    with make_client(config, checkpoint_interval_s=0.1) as c:
        r = c.post("/api/v1/alertmanager", content=webhook(datetime.now(UTC) - timedelta(seconds=5)),
                   headers=JSON)
        assert r.status_code == 202 and r.json()["accepted"] == 1
        body = wait_for(c, lambda b: b["count"] == 1, timeout=15)
        assert body["count"] == 1, body
        (incident,) = body["items"]
        assert incident["status"] == "open" and incident["severity"] == "critical"
        assert incident["root_cause"]["service"] == "postgres"
        status = c.get("/api/v1/status").json()
        assert status["engine"]["clock_ticks"] >= 1 and status["batches"]["clock"]["records"] == 0
        # ticks are event time passing, not records that arrived
        records = c.get("/api/v1/records").json()["items"]
        assert [r["kind"] for r in records] == ["alert"]


def test_without_idle_ticks_the_lone_alert_waits_for_more_input():
    config = Config(engine={**FAST, "idle_clock_s": 0})
    with make_client(config, checkpoint_interval_s=0.1) as c:
        c.post("/api/v1/alertmanager", content=webhook(datetime.now(UTC) - timedelta(seconds=5)),
               headers=JSON)
        time.sleep(1.5)
        assert c.get("/api/v1/incidents").json()["count"] == 0
        assert "clock" not in c.get("/api/v1/status").json()["batches"]


def test_history_posted_over_http_never_ticks():
    """Replaying last March over HTTP, with pauses: the results must not depend on them."""
    config = Config(engine={**FAST, "idle_clock_s": 0.2})
    with make_client(config, checkpoint_interval_s=0.1) as c:
        c.post("/api/v1/alertmanager",
               content=webhook(datetime(2026, 3, 2, 10, 0, tzinfo=UTC)), headers=JSON)
        time.sleep(1.5)
        status = c.get("/api/v1/status").json()
        assert "clock" not in status["batches"] and status["engine"]["clock_ticks"] == 0
        assert c.get("/api/v1/incidents").json()["count"] == 0


def test_a_restart_replays_the_ticks_from_the_input_log(tmp_path):
    """A tick is an input-log batch: an engine restarted from a checkpoint taken before it
    processes it again and ends where the engine that did not stop did."""
    path, crashed = tmp_path / "s.db", tmp_path / "crashed.db"
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    config = Config(engine=FAST)
    engine = Engine(config, open_store(str(path)))
    engine.submit([Alert(labels={"alertname": "PostgresDown", "service": "postgres",
                                 "severity": "critical"}, starts_at=start)])
    engine.catch_up()
    engine.checkpoint()
    assert list(engine.store.documents("incidents")) == []  # event time stands at the alert
    engine.submit_clock(start + timedelta(minutes=1))
    with sqlite3.connect(path) as src, sqlite3.connect(crashed) as dst:
        src.backup(dst)  # the store as a crash right after the tick's commit leaves it
    engine.catch_up()
    engine.checkpoint()
    expected = (engine.max_ts, engine.watermark, engine.summary()["clock_ticks"])
    incidents = list(engine.store.documents("incidents"))
    assert len(incidents) == 1 and expected[0] == start + timedelta(minutes=1)
    assert expected[2] == 1
    engine.close()

    again = Engine(config, open_store(str(crashed)))
    assert again.max_ts == start  # restored from the checkpoint before the tick
    again.catch_up()
    again.checkpoint()
    assert (again.max_ts, again.watermark, again.summary()["clock_ticks"]) == expected
    assert list(again.store.documents("incidents")) == incidents
    again.close()


def test_a_tick_round_trips_through_the_codec():
    tick = ClockTick(datetime(2026, 11, 30, 3, 4, 5, 678901, tzinfo=UTC))
    assert decode_batch(encode_batch([tick])) == [tick]


def test_a_tick_releases_what_a_workers_pool_holds_in_flight(tmp_path):
    """A store written by ``aiops replay --workers 2`` keeps its pool under ``aiops serve``:
    the pool returns a batch's alerts a few batches later, and a tick must not wait for
    batches that quiet input will not send."""
    start = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    found = {}
    for workers in (1, 2):
        engine = Engine(Config(engine=FAST), open_store(str(tmp_path / f"w{workers}.db")),
                        workers=workers)
        try:
            engine.submit([Alert(labels={"alertname": "PostgresDown", "service": "postgres",
                                         "severity": "critical"}, starts_at=start)])
            engine.catch_up()
            engine.submit_clock(start + timedelta(minutes=1))
            engine.catch_up()
            engine.checkpoint()
            found[workers] = [(i["title"], i["status"])
                              for i in engine.store.documents("incidents")]
        finally:
            engine.close()
    assert found[1] == found[2] == [("PostgresDown on postgres", "open")]

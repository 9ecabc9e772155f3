"""A real ``aiops serve`` on 127.0.0.1: HTTP replay equals ``aiops replay``; OTel SDK; crashes."""

from __future__ import annotations

import json
import random
import shutil
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import orjson
import pytest

from aiops.cli import main
from aiops.store import open_store
from tests.api.serving import Server, replay_over_http
from tests.conftest import SAMPLES, shared

T0 = datetime(2026, 11, 28, 17, 40, tzinfo=timezone.utc)


def client_scenario(root: Path) -> Path:
    """A small scenario from the captured client payloads plus generated logs around them."""
    rng = random.Random(11)
    (root / "logs").mkdir(parents=True)
    (root / "alerts").mkdir()
    (root / "events").mkdir()
    with open(root / "logs" / "checkout.ndjson", "w") as fh:
        for i in range(900):
            ts = T0 + timedelta(seconds=2 * i)
            if 290 <= i <= 330 and i % 3 == 0:
                doc = {"ts": ts.isoformat().replace("+00:00", "Z"), "level": "ERROR",
                       "service": "checkout", "msg": f"db timeout after {rng.randint(3000, 9000)} ms"}
            else:
                doc = {"ts": ts.isoformat().replace("+00:00", "Z"), "level": "INFO",
                       "service": "checkout",
                       "msg": f"GET /cart/{rng.randint(1, 999)} 200 in {rng.randint(2, 90)} ms"}
            fh.write(json.dumps(doc) + "\n")
    with open(root / "logs" / "payments.log", "w") as fh:
        for i in range(600):
            ts = T0 + timedelta(seconds=3 * i, milliseconds=rng.randint(0, 999))
            fh.write(f"{ts:%Y-%m-%d %H:%M:%S},{ts.microsecond // 1000:03d} INFO payment "
                     f"{rng.randint(10**5, 10**6)} settled in {rng.randint(5, 400)} ms\n")
    for i, name in enumerate(("alertmanager_webhook_sample.json",
                              "alertmanager_webhook_sample_resolved.json",
                              "alertmanager_webhook_from_prometheus.json")):
        shutil.copy(shared("clients", name), root / "alerts" / f"am{i}.json")
    (root / "events" / "deploys.json").write_text(json.dumps(
        [{"ts": "2026-11-28T17:45:00Z", "type": "deploy", "service": "checkout",
          "version": "142"}]))
    return root


def scenario_dirs(tmp_path: Path) -> list[Path]:
    shipped = sorted(p for p in SAMPLES.iterdir() if p.is_dir()) if SAMPLES.exists() else []
    return [client_scenario(tmp_path / "clients")] + shipped[:1]


def outcome_from_store(path: Path) -> tuple:
    store = open_store(path)
    incidents = sorted(store.documents("incidents"), key=lambda d: d["id"])
    alerts = sorted(store.documents("alerts"), key=lambda d: d["id"])
    for a in alerts:
        a.pop("repeats", None)  # how many re-deliveries arrived depends on batching
    templates = sorted((t["id"], t["template"], t["count"]) for t in store.template_rows())
    store.close()
    return incidents, alerts, templates


def outcome_over_http(url: str) -> tuple:
    with httpx.Client(base_url=url, timeout=60) as c:
        items = c.get("/api/v1/incidents", params={"limit": 1000, "order": "asc"}).json()["items"]
        incidents = []
        for item in items:
            doc = c.get(f"/api/v1/incidents/{item['id']}").json()
            doc.pop("alert_count")
            assert doc.pop("notes") == []  # responders' notes: not the engine's output
            for entry in doc["alerts"]:
                entry.pop("alert")
            incidents.append(doc)
        alerts = c.get("/api/v1/alerts", params={"limit": 100_000}).json()["items"]
        templates = c.get("/api/v1/templates", params={"limit": 10_000}).json()["items"]
    for a in alerts:
        a.pop("repeats", None)
    return (sorted(incidents, key=lambda d: d["id"]), sorted(alerts, key=lambda d: d["id"]),
            sorted((t["id"], t["template"], t["count"]) for t in templates))


def test_http_replay_gives_the_incidents_of_aiops_replay(tmp_path, capsys):
    for scenario in scenario_dirs(tmp_path):
        replay_db = tmp_path / f"{scenario.name}-replay.db"
        assert main(["replay", str(scenario), "--store", str(replay_db), "--no-progress"]) == 0
        summary = json.loads(capsys.readouterr().out)
        expected = outcome_from_store(replay_db)
        assert expected[0], f"{scenario}: the scenario must produce incidents"
        manifest = scenario / "scenario.toml"
        with Server(tmp_path / f"{scenario.name}-serve.db",
                    config=manifest if manifest.exists() else None) as server:
            answers = replay_over_http(server.url, scenario)
            assert sum(a["accepted"] for a in answers) == sum(summary["records"].values())
            flushed = httpx.post(server.url + "/api/v1/flush", timeout=300).json()
            assert flushed["processed_offset"] == flushed["head_offset"]
            got = outcome_over_http(server.url)
        assert got == expected, scenario


def test_opentelemetry_sdk_exports_logs_and_metrics(tmp_path):
    otel = pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    assert otel
    resource = Resource.create({"service.name": "checkout", "deployment.environment": "test"})
    with Server(tmp_path / "otel.db") as server:
        logs = LoggerProvider(resource=resource)
        logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(
            endpoint=server.url + "/v1/logs", compression=Compression.Gzip)))
        logger = logs.get_logger("checkout.db")
        from opentelemetry._logs import SeverityNumber

        for i in range(3):
            logger.emit(body=f"db timeout after {5000 + i} ms", severity_number=SeverityNumber.ERROR,
                        severity_text="ERROR", attributes={"retry": i})
        logs.force_flush()
        reader = PeriodicExportingMetricReader(OTLPMetricExporter(
            endpoint=server.url + "/v1/metrics"), export_interval_millis=60_000)
        meters = MeterProvider(resource=resource, metric_readers=[reader])
        meter = meters.get_meter("shop")
        meter.create_counter("orders").add(5, {"region": "eu"})
        meter.create_histogram("latency_ms").record(12.5)
        reader.force_flush()
        with httpx.Client(base_url=server.url) as c:
            got = c.get("/api/v1/records", params={"kind": "log"}).json()["items"]
            metrics = c.get("/api/v1/records", params={"kind": "metric"}).json()["items"]
            exposition = c.get("/metrics").text
        logs.shutdown()
        meters.shutdown()
    assert sorted(r["message"] for r in got) == [f"db timeout after {5000 + i} ms"
                                                 for i in range(3)]
    assert all(r["service"] == "checkout" and r["level"] == "ERROR" for r in got)
    assert got[0]["attributes"]["resource"]["service.name"] == "checkout"
    assert got[0]["attributes"]["resource"]["deployment.environment"] == "test"
    by_name = {m["name"]: m for m in metrics}
    assert by_name["orders"]["value"] == 5 and by_name["orders"]["labels"] == {
        "service": "checkout", "region": "eu"}
    assert by_name["latency_ms_count"]["value"] == 1
    from prometheus_client.parser import text_string_to_metric_families

    names = {f.name for f in text_string_to_metric_families(exposition)}
    assert {"aiops_records_ingested", "aiops_processing_lag_seconds", "aiops_incidents"} <= names


def _batches(n: int = 24, per: int = 200) -> list[bytes]:
    rng = random.Random(2)
    out = []
    for b in range(n):
        lines = []
        for i in range(per):
            ts = T0 + timedelta(seconds=b * per + i)
            svc = ("checkout", "payments")[i % 2]
            lines.append(orjson.dumps({"ts": ts.isoformat().replace("+00:00", "Z"),
                                       "service": svc, "level": "INFO",
                                       "msg": f"batch {b} item {i} took {rng.randint(1, 99)} ms"}))
        out.append(b"\n".join(lines) + b"\n")
    return out


def _alert_bodies() -> list[bytes]:
    out = []
    for k in range(6):
        start = T0 + timedelta(minutes=10 * k)
        out.append(orjson.dumps([{"name": f"HighLatency{k % 2}", "service": ("checkout",
                                                                            "payments")[k % 2],
                                  "severity": "warning", "startsAt": start.isoformat()},
                                 {"name": f"HighLatency{k % 2}", "service": ("checkout",
                                                                            "payments")[k % 2],
                                  "severity": "warning", "startsAt": start.isoformat(),
                                  "endsAt": (start + timedelta(minutes=4)).isoformat(),
                                  "status": "resolved"}]))
    return out


def _post_all(url: str, work: list[tuple[str, bytes]], acked: list, clients: int = 3,
              crash: "threading.Event | None" = None, restart=None, ahead: int = 6) -> None:
    """Clients post their share; anything not acknowledged is retried until it is.

    No client runs more than ``ahead`` items past the oldest unacknowledged one: threads
    left alone drift apart (one stalled 50 ms while creating its client, and the others
    posted 20 batches, 4,000 s of event time, beyond the 3,600 s lateness: those records
    were late, and the results rightly differed from the uninterrupted run's)."""
    lock = threading.Condition()
    done: set[int] = set()
    oldest = [0]  # the oldest item not yet acknowledged

    def run(mine: list[tuple[int, tuple[str, bytes]]]) -> None:
        with httpx.Client(base_url=url, timeout=30) as c:
            for index, (path, body) in mine:
                with lock:
                    lock.wait_for(lambda: index - oldest[0] <= ahead)
                ctype = "application/x-ndjson" if path.endswith("logs") else "application/json"
                while True:
                    try:
                        resp = c.post(path, content=body, headers={"content-type": ctype})
                        if resp.status_code == 202:
                            with lock:
                                acked.append((path, body, resp.json()))
                                done.add(index)
                                while oldest[0] in done:
                                    oldest[0] += 1
                                lock.notify_all()
                            break
                    except httpx.HTTPError:
                        pass
                    time.sleep(0.05)

    numbered = list(enumerate(work))
    threads = [threading.Thread(target=run, args=(numbered[i::clients],))
               for i in range(clients)]
    for t in threads:
        t.start()
    if restart is not None:
        restart(acked)
    for t in threads:
        t.join(180)


def late_records(url: str) -> int:
    return httpx.get(url + "/api/v1/status", timeout=60).json()["engine"]["late_records"]


def _flush(url: str) -> None:
    """End of input, as a client would send it: retried while the engine is unavailable
    (restarting after the crash), and it must succeed, or the results are read unfinished."""
    for _ in range(30):
        resp = httpx.post(url + "/api/v1/flush", timeout=300)
        if resp.status_code == 200:
            return
        time.sleep(1)
    raise AssertionError(f"flush failed: {resp.status_code} {resp.text}")


def test_kill_9_mid_stream_loses_nothing_and_duplicates_nothing(tmp_path):
    config = tmp_path / "aiops.toml"
    config.write_text("[engine]\nlateness_s = 3600\n")  # client concurrency reorders batches
    # in event-time order (alert k starts at 600 k s, log batch b covers [200 b, 200 b + 200)):
    # concurrent clients, at most 6 items (1,200 s) apart, disorder it by a third of the
    # lateness (beyond it, late records are results that rightly differ with the order)
    logs = [(200 * b, "/api/v1/logs", body) for b, body in enumerate(_batches())]
    alerts = [(600 * k, "/api/v1/alerts", body) for k, body in enumerate(_alert_bodies())]
    work = [(path, body) for _, path, body in sorted(logs + alerts, key=lambda w: w[0])]
    # the reference: one uninterrupted run
    with Server(tmp_path / "clean.db", config) as clean:
        _post_all(clean.url, work, [])
        _flush(clean.url)
        expected = outcome_over_http(clean.url)
        assert late_records(clean.url) == 0  # the premise: disorder within the lateness
    server = Server(tmp_path / "crash.db", config).start()

    def crash_and_restart(acked: list) -> None:
        while len(acked) < len(work) // 3:
            time.sleep(0.01)
        server.kill()
        time.sleep(0.5)
        server.start()

    acked: list = []
    try:
        _post_all(server.url, work, acked, restart=crash_and_restart)
        assert len({(p, b) for p, b, _ in acked}) == len(work)
        _flush(server.url)
        got = outcome_over_http(server.url)
        assert late_records(server.url) == 0
        with httpx.Client(base_url=server.url, timeout=60) as c:
            stored = []
            after = 0
            while after is not None:
                page = c.get("/api/v1/records", params={"after": after, "limit": 10_000}).json()
                stored.extend(page["items"])
                after = page["next_after"]
    finally:
        server.stop()
    logs = [r["message"] for r in stored if r["kind"] == "log"]
    assert len(logs) == len(set(logs)) == 24 * 200  # every acknowledged record, exactly once
    assert sum(1 for r in stored if r["kind"] == "alert") == 12
    # incidents as without the crash (on a mismatch, say which fields of which incident)
    assert got[0] and got[0] == expected[0], [
        (g["id"], {k: (g.get(k), e.get(k)) for k in set(g) | set(e) if g.get(k) != e.get(k)})
        for g, e in zip(got[0], expected[0]) if g != e] or (len(got[0]), len(expected[0]))
    assert got[1] == expected[1]  # every alert as without the crash, detectors' included

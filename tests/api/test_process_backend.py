"""The engine in a child process: same answers, survives the child dying, dies with the server."""

from __future__ import annotations

import os
import signal
import time

import orjson
from fastapi.testclient import TestClient

from aiops.config import Config
from aiops.store import open_store
from api import create_app
from api.process_backend import ProcessBackend
from tests.api.conftest import client_payload, post
from tests.conftest import process_running


def test_process_backend_ingests_processes_and_recovers(tmp_path):
    app = create_app(Config(), open_store(tmp_path / "p.db"))
    backend = app.state.backend
    assert isinstance(backend, ProcessBackend)
    with TestClient(app) as c:
        body = post(c, "/api/v1/alertmanager", client_payload("alertmanager_webhook_sample.json"),
                    wait="true").json()
        assert body["accepted"] == 2 and body["processed"] is True
        flushed = c.post("/api/v1/flush").json()
        assert flushed["processed_offset"] == 1 and flushed["summary"]["records"]["alert"] == 2
        assert [i["services"] for i in c.get("/api/v1/incidents").json()["items"]] == \
            [["checkout"]]
        assert c.get("/readyz").json()["ready"] is True
        # a processing crash: the child is restarted and resumes from its checkpoint
        first = backend.pid
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (
                backend.pid == first or not c.get("/readyz").json()["ready"]):
            time.sleep(0.1)
        status = c.get("/api/v1/status").json()
        assert status["worker_running"] and status["worker_errors"] >= 1
        assert "exited" in status["last_error"]
        body = post(c, "/api/v1/logs", client_payload("syslogng_array_sample.json"),
                    wait="true").json()
        assert body["processed"] is True
        assert c.get("/api/v1/status").json()["engine"]["records"]["log"] == 3
        child = backend.pid
    # the server stopped: so did its engine process
    deadline = time.monotonic() + 10
    while process_running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not process_running(child)



def test_the_engine_process_prunes_what_it_checkpointed_and_status_keeps_the_totals(tmp_path):
    path = tmp_path / "p.db"
    # as aiops serve opens them: the front store and the engine process's, same options
    app = create_app(Config(store={"input_retention": 0}), open_store(path, input_retention=0))
    with TestClient(app) as c:
        post(c, "/api/v1/alertmanager", client_payload("alertmanager_webhook_sample.json"),
             wait="true")
        post(c, "/api/v1/logs", client_payload("syslogng_array_sample.json"), wait="true")
        assert len(c.get("/api/v1/records").json()["items"]) == 5
        flushed = c.post("/api/v1/flush").json()    # a checkpoint: both batches are covered
        assert flushed["processed_offset"] == 2
        status = c.get("/api/v1/status").json()
        assert status["batches"] == {"alert": {"batches": 1, "records": 2},
                                     "log": {"batches": 1, "records": 3}}
        assert status["head_offset"] == 2 and status["lag_batches"] == 0
        assert status["input_log"] == {"retention_s": 0.0, "oldest_offset": None,
                                       "oldest_age_s": None, "pruned_batches": 2,
                                       "pruned_records": 5}
        metrics = c.get("/metrics").text
        assert "aiops_input_log_pruned_batches 2.0" in metrics
        assert "aiops_input_log_oldest_batch_age_seconds 0.0" in metrics
        assert c.get("/api/v1/records").json()["items"] == []  # gone from the input log
        body = post(c, "/api/v1/logs", client_payload("syslogng_array_sample.json"),
                    wait="true").json()   # the same body again: its key went with the batch
        assert body["processed"] is True and body["duplicate"] is False
        assert c.get("/api/v1/status").json()["engine"]["records"]["log"] == 6


def test_a_store_written_by_a_replay_with_workers_is_served_with_its_pool(tmp_path, capsys):
    """A store keeps its partition count: the API's engine process hosts the pool (it failed
    to start: multiprocessing refuses children to a daemonic process)."""
    from aiops.cli import main
    from tests.conftest import SAMPLES, assert_processes_exit, child_pids

    store = tmp_path / "replayed.db"
    assert main(["replay", str(SAMPLES / "db-pool-exhaustion"), "--workers", "2",
                 "--no-progress", "--store", str(store)]) == 0
    replayed = orjson.loads(capsys.readouterr().out)
    app = create_app(Config(), open_store(store))
    backend = app.state.backend
    with TestClient(app) as c:
        assert backend.running
        pool = child_pids(backend.pid)
        assert len(pool) == 2, f"the engine process has children {pool}, not its 2 workers"
        incidents = c.get("/api/v1/incidents").json()["items"]
        assert [i["id"] for i in incidents] == [i["id"] for i in replayed["incidents"]]
        body = post(c, "/api/v1/logs", b'{"ts":"2026-03-02T10:46:00Z","service":"postgres",'
                    b'"msg":"connection pool recovered"}\n', {"content-type":
                                                              "application/x-ndjson"},
                    wait="true").json()
        assert body["accepted"] == 1 and body["processed"] is True
        flushed = c.post("/api/v1/flush").json()
        assert flushed["summary"]["records"]["log"] == replayed["records"]["log"] + 1
        status = c.get("/api/v1/status").json()
        assert status["worker_running"] and status["worker_errors"] == 0
    assert_processes_exit([backend.pid, *pool], "the server")


def test_a_server_leaving_without_stop_does_not_wait_for_ever(tmp_path):
    """multiprocessing's exit handler SIGTERMs a daemonic child and joins it without a
    timeout; the engine process ignores SIGTERM (a signal to the whole group must not cut a
    batch), so the backend stops it itself at exit: the script below hung without that."""
    import subprocess
    import sys

    from tests.conftest import ROOT, assert_processes_exit

    script = tmp_path / "leave.py"
    script.write_text(
        "import sys\nfrom aiops.config import Config\nfrom aiops.store import open_store\n"
        "from api.process_backend import ProcessBackend\n"
        "if __name__ == '__main__':\n"
        f"    backend = ProcessBackend(Config(), open_store({str(tmp_path / 'l.db')!r}))\n"
        "    backend.start()\n"
        "    print(backend.pid, flush=True)\n"
        "    sys.exit(0)  # no stop(): as when start-up fails after the engine started\n")
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True,
                          text=True, timeout=90, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 60
    assert_processes_exit([int(done.stdout.split()[0])], "the server")

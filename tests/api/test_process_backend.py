"""The engine in a child process: same answers, survives the child dying, dies with the server."""

from __future__ import annotations

import os
import signal
import time

from fastapi.testclient import TestClient

from aiops.config import Config
from aiops.store import open_store
from api import create_app
from api.process_backend import ProcessBackend
from tests.api.conftest import client_payload, post


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
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split()[2] != "Z"

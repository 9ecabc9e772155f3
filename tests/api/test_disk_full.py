"""A full disk: ingest answers 503 and keeps serving reads, the engine process retries its
checkpoint instead of crashing, and once there is room again everything accepted is
processed and stored. The disk is made "full" with a file-size limit (RLIMIT_FSIZE: a
write past it fails with EFBIG, which SQLite reports as a disk I/O error), raised again
from outside with ``prlimit``, as freeing space would."""

from __future__ import annotations

import json
import resource
import time

import httpx
import pytest

from aiops.store import open_store
from tests.api.serving import Server
from tests.conftest import child_pids

LIMIT = 3_000_000  # bytes: the store's WAL reaches it after ~25 batches of 1000 lines

pytestmark = pytest.mark.skipif(not hasattr(resource, "prlimit"),
                                reason="raises another process's limits with prlimit (Linux)")


def _small_disk() -> None:
    # only the soft limit: prlimit can raise it again up to the (unlimited) hard one
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, resource.RLIM_INFINITY))


def _batch(b: int) -> bytes:
    return "\n".join(json.dumps({
        "ts": f"2026-03-02T10:{b // 60 % 60:02d}:{b % 60:02d}.{i:03d}Z", "service": f"svc{i % 7}",
        "msg": f"request {b}-{i} id={(b * 7919 + i * 104729) % 2**61:x} took {i % 97} ms"})
        for i in range(1000)).encode()


def test_a_full_disk_is_a_503_and_nothing_accepted_is_lost_once_there_is_room(tmp_path):
    store = tmp_path / "small-disk.db"
    with Server(store, preexec_fn=_small_disk) as server:
        post = lambda b: httpx.post(server.url + "/api/v1/logs", content=_batch(b),  # noqa: E731
                                    headers={"Content-Type": "application/x-ndjson"},
                                    timeout=30)
        accepted, b, answer = 0, 0, None
        while b < 200:
            answer = post(b)
            if answer.status_code != 202:
                break
            accepted, b = accepted + 1, b + 1
        assert answer is not None and answer.status_code == 503, \
            f"no 503 after {b} batches: {answer.status_code if answer else None}"
        error = answer.json()["error"]
        assert error["code"] == "store_unavailable"
        assert "the store cannot be written (" in error["message"]
        assert "the request was not accepted" in error["message"]
        assert answer.headers["Retry-After"] == "5"
        assert accepted > 5
        time.sleep(2)  # the engine process tries (and fails) to checkpoint meanwhile
        status = httpx.get(server.url + "/api/v1/status", timeout=10)
        assert status.status_code == 200  # reads keep working
        assert status.json()["worker_running"], "the engine process crashed on a full disk"
        # room again: raise the limit of the server and of its engine process
        assert server.proc is not None
        for pid in [server.proc.pid, *child_pids(server.proc.pid)]:
            resource.prlimit(pid, resource.RLIMIT_FSIZE,
                             (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        deadline = time.monotonic() + 30
        while (answer := post(b)).status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.5)  # what a client does with Retry-After
        assert answer.status_code == 202, answer.text
        accepted += 1
        for later in range(b + 1, b + 4):  # and ingest goes on
            assert post(later).status_code == 202
            accepted += 1
        assert httpx.post(server.url + "/api/v1/flush", timeout=60).status_code == 200
        status = httpx.get(server.url + "/api/v1/status", timeout=10).json()
        assert status["processed_offset"] == status["head_offset"] == accepted
        assert status["engine"]["records"]["log"] == 1000 * accepted
    log = server.log.read_text()
    assert "Traceback" not in log, log[-3000:]
    assert log.count("the store cannot be written") < 20, "one line per attempt, not a flood"
    st = open_store(store)
    try:
        offset, _ = st.load_checkpoint()
        assert offset == accepted  # the checkpoint covers every accepted batch
        assert sum(row["count"] for row in st.template_rows()) == 1000 * accepted
        # the per-kind signal counts drained before each failed checkpoint were kept
        assert st.signal_totals() == {"log": 1000 * accepted}
    finally:
        st.close()

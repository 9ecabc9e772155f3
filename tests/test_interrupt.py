"""Ctrl-C and SIGTERM: a replay stops between batches and still reports; pool workers and
the API's engine process leave the decision to their parent instead of dying mid-batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from aiops.cli.interrupt import StopRequest
from aiops.store import open_store
from tests.api.serving import Server
from tests.conftest import assert_processes_exit, child_pids

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "sample_telemetry" / "db-pool-exhaustion"
SCENARIO_RECORDS = 20_239
LAST_RECORD = "2026-03-02T10:44:59"

pytestmark = pytest.mark.skipif(not Path(f"/proc/{os.getpid()}/task").exists(),
                                reason="reads the kernel's process lists in /proc (Linux)")


def _like_a_terminal() -> None:
    # a job started in the background by a shell (CI) inherits SIGINT ignored, and one started
    # under nohup SIGHUP, and aiops rightly leaves an ignored signal alone: the child gets the
    # dispositions of a terminal's
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _paced_replay(store: Path, workers: int) -> tuple[subprocess.Popen, list[int]]:
    """``aiops replay`` of the scenario at 30x real time (~90 s whole), once it has read a
    minute or so of it; its worker pids."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiops", "replay", str(SCENARIO), "--workers", str(workers),
         "--speed", "30", "--no-progress", "--store", str(store)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        preexec_fn=_like_a_terminal)
    deadline = time.monotonic() + 60
    while len(child_pids(proc.pid)) < (workers if workers > 1 else 0) or not store.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the replay did not start: {proc.communicate()[1][-2000:]}")
        time.sleep(0.05)
    time.sleep(2.5)
    return proc, child_pids(proc.pid)


@pytest.mark.parametrize("workers, sig, whole_group", [
    (1, signal.SIGINT, True),    # a terminal's Ctrl-C reaches every process of the group
    (2, signal.SIGINT, True),
    (2, signal.SIGTERM, False),  # kill PID
])
def test_a_signal_stops_the_replay_after_the_batch_with_its_summary(tmp_path, workers, sig,
                                                                     whole_group):
    store = tmp_path / "stopped.db"
    proc, pool = _paced_replay(store, workers)
    if whole_group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert_processes_exit(pool, "the replay")
    name = signal.Signals(sig).name
    assert proc.returncode == 128 + sig, err.decode()
    assert f"aiops: {name} received: stopping after the batch in work" in err.decode()
    assert "Traceback" not in err.decode()
    summary = json.loads(out)
    assert summary["interrupted"] == name
    # what was read before the signal, no more and not nothing
    assert 0 < summary["kpis"]["raw_signals"] < SCENARIO_RECORDS
    assert summary["event_time"]["last"] < LAST_RECORD
    # flushed and checkpointed: the store holds what the summary reports
    st = open_store(store)
    try:
        offset, states = st.load_checkpoint()
        assert states, "no checkpoint after the interrupted replay"
        assert len(list(st.documents("alerts"))) == summary["kpis"]["alerts"]
        assert len(list(st.documents("incidents"))) == summary["kpis"]["incidents"]
    finally:
        st.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_closed_terminal_stops_the_replay_and_its_summary_still_lands_in_a_file(tmp_path,
                                                                               workers):
    """Closing the terminal (SIGHUP) killed a replay before its checkpoint. It now stops as
    after Ctrl-C, and the summary redirected to a file is whole although the terminal its
    messages went to is gone (writing there fails: EIO)."""
    import pty

    store, out_path = tmp_path / "hung-up.db", tmp_path / "summary.json"
    master, slave = pty.openpty()
    terminal = os.ttyname(slave)

    def in_a_terminal_session() -> None:
        _like_a_terminal()
        os.setsid()
        fd = os.open(terminal, os.O_RDWR)  # a new session's first terminal: its controlling one
        os.dup2(fd, 0)
        os.dup2(fd, 2)

    with open(out_path, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aiops", "replay", str(SCENARIO), "--workers", str(workers),
             "--speed", "30", "--store", str(store)],  # the progress bar on the terminal too
            cwd=ROOT, stdout=out, preexec_fn=in_a_terminal_session)
    os.close(slave)
    try:
        deadline = time.monotonic() + 60
        while len(child_pids(proc.pid)) < (workers if workers > 1 else 0) or not store.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "did not start"
            time.sleep(0.05)
        time.sleep(2.5)
        pool = child_pids(proc.pid)
        os.close(master)  # the terminal's window closes: the kernel hangs the session up
        assert proc.wait(timeout=60) == 128 + signal.SIGHUP
    finally:
        if proc.poll() is None:
            proc.kill()
    assert_processes_exit(pool, "the replay")
    summary = json.loads(out_path.read_bytes())
    assert summary["interrupted"] == "SIGHUP"
    assert 0 < summary["kpis"]["raw_signals"] < SCENARIO_RECORDS
    st = open_store(store)
    try:
        assert st.load_checkpoint()[1], "no checkpoint after the hang-up"
        assert len(list(st.documents("alerts"))) == summary["kpis"]["alerts"]
    finally:
        st.close()


def test_a_second_ctrl_c_aborts_at_once_with_one_line(tmp_path, capsys, monkeypatch):
    """What the second Ctrl-C raises mid-batch (``KeyboardInterrupt``, from
    :class:`StopRequest`; tested below) ends the replay with one line, its workers stopped."""
    from aiops.cli import main
    from aiops.engine import Engine

    calls, pools = [], []
    process = Engine.process

    def process_then_abort(self, batch):
        calls.append(1)
        pools.append([p.pid for p in self.partition._procs])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return process(self, batch)

    monkeypatch.setattr(Engine, "process", process_then_abort)
    store = tmp_path / "aborted.db"
    code = main(["replay", str(SCENARIO), "--workers", "2", "--no-progress", "--store",
                 str(store)])
    captured = capsys.readouterr()
    assert code == 130 and captured.out == ""
    assert " ".join(captured.err.split()) == \
        f"error: interrupted: {store} holds what its last checkpoint saved"
    assert_processes_exit(pools[0], "the replay")


def test_stop_request_asks_once_aborts_on_a_second_ctrl_c_and_restores_handlers():
    def wait_for(condition) -> None:  # a Python handler runs between bytecodes, soon after
        deadline = time.monotonic() + 5
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.001)

    before = signal.getsignal(signal.SIGINT)
    ignored = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with StopRequest() as stop:
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN  # left as it was
            assert stop.exit_code == 0 and stop.signal_name is None
            os.kill(os.getpid(), signal.SIGINT)
            wait_for(lambda: stop.signal_name is not None)
            assert stop.signal_name == "SIGINT" and stop.exit_code == 130
            assert list(stop.until_stopped(iter(range(5)))) == []
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1)
        assert signal.getsignal(signal.SIGINT) is before
    finally:
        signal.signal(signal.SIGTERM, ignored)
    fresh = StopRequest()
    assert list(fresh.until_stopped(iter(range(3)))) == [0, 1, 2]


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 0), (signal.SIGTERM, -signal.SIGTERM),
                                       (signal.SIGHUP, 0)])  # a closed terminal
def test_serve_stops_on_a_signal_to_its_group_and_the_engine_checkpoints(tmp_path, sig, code):
    """Ctrl-C in a terminal, its hang-up, or a service manager's SIGTERM to every process:
    the engine process ignores it and waits for the front's stop, which checkpoints what it
    processed (the interval is an hour here, so only that stop can have written it)."""
    store, config = tmp_path / "served.db", tmp_path / "aiops.toml"
    config.write_text("[api]\ncheckpoint_interval_s = 3600\n")
    server = Server(store, config, preexec_fn=_like_a_terminal).start()
    try:
        body = "\n".join(json.dumps({"ts": f"2026-03-02T10:00:{i % 60:02d}Z", "service": "api",
                                     "msg": f"request {i} done"}) for i in range(500))
        answer = httpx.post(server.url + "/api/v1/logs", content=body,
                            headers={"Content-Type": "application/x-ndjson"})
        assert answer.status_code == 202, answer.text
        assert server.proc is not None
        engine = child_pids(server.proc.pid)
        time.sleep(0.5)
        os.killpg(server.proc.pid, sig)
        assert server.proc.wait(60) == code, server.log.read_text()
    finally:
        server.stop()  # kills it only if it is still running
    assert_processes_exit(engine, "aiops serve")
    assert "Traceback" not in server.log.read_text(), server.log.read_text()
    st = open_store(store)
    try:
        assert st.load_checkpoint()[0] == st.head_offset() == 1
    finally:
        st.close()

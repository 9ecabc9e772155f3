"""``--workers``: templates and detection in worker processes give the one-process results."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import pytest

from aiops.cli.common import resolve_inputs
from aiops.config import ConfigError
from aiops.engine import Engine, ingest_all
from aiops.store import open_store
from tests.conftest import assert_processes_exit, child_pids
from tests.test_engine import outcome

SCENARIO = Path(__file__).resolve().parents[1] / "sample_telemetry" / "model-latency-node-cpu"


@pytest.fixture(scope="module")
def scenario():
    args = argparse.Namespace(paths=[str(SCENARIO)], log_format=None, service=None,
                              timezone=None, year=None, config=None)
    inputs = resolve_inputs(args)
    return inputs.config, list(inputs.stream(strict=True))


def replay(config, records, workers, store=None, batch_size=2000):
    engine = Engine(config, store or open_store(), workers=workers)
    try:
        ingest_all(engine, records, batch_size=batch_size)
        engine.flush()
        return outcome(engine), engine.summary()
    finally:
        engine.close()


@pytest.fixture(scope="module")
def reference(scenario):
    return replay(*scenario, workers=1)


def test_two_workers_give_the_one_process_results(scenario, reference):
    (incidents, alerts, templates), summary = reference
    assert incidents and templates
    assert any(a.get("source", "").startswith("detector:") for a in alerts)  # detectors ran
    assert replay(*scenario, workers=2) == reference
    assert replay(*scenario, workers=3, batch_size=777)[0] == reference[0]


def test_a_pool_store_resumes_after_a_crash_with_the_same_results(scenario, reference,
                                                                    tmp_path):
    config, records = scenario
    config.engine = {**config.engine, "checkpoint_records": 3000, "checkpoint_interval_s": 0}
    path = tmp_path / "pool.db"
    engine = Engine(config, open_store(path), workers=2)
    half = len(records) // 2
    ingest_all(engine, records[:half], batch_size=1000)
    assert engine.store.head_offset() > int(engine.store.load_checkpoint()[0])
    engine.partition.close()  # the crash: no flush, workers gone, batches past the checkpoint
    engine.store.close()
    restarted = Engine(config, open_store(path))  # the partition count comes from the store
    try:
        assert restarted.workers == 2
        restarted.catch_up()
        ingest_all(restarted, records[half:], batch_size=1000)
        restarted.flush()
        assert outcome(restarted) == reference[0]
    finally:
        restarted.close()


def test_a_store_keeps_its_partition_count(scenario, tmp_path):
    config, records = scenario
    path = tmp_path / "pool.db"
    replay(config, records[:3000], workers=2, store=open_store(path))
    with pytest.raises(ConfigError, match="--workers 2"):
        Engine(config, open_store(path), workers=1)
    with pytest.raises(ConfigError, match=">= 1"):
        Engine(config, open_store(), workers=0)


def test_worker_records_keep_every_field_templates_and_detectors_read(scenario):
    from aiops.handoff import pack_records, route_key, unpack_records
    from aiops.schema import LogRecord

    records = [r for r in scenario[1] if route_key(r) is not None]
    assert any(type(r) is LogRecord for r in records) and any(type(r) is not LogRecord
                                                              for r in records)
    back = unpack_records(pack_records(records))
    fields = {"log": ("ts", "message", "service", "host", "level", "source"),
              "metric": ("ts", "name", "value", "labels", "source")}
    # log lines, then samples, each kind in arrival order (a partition orders by time and
    # kind, ties in arrival order: the same batch to it)
    ordered = sorted(records, key=lambda r: r.kind != "log")
    assert [type(r) for r in back] == [type(r) for r in ordered]
    for a, b in zip(ordered, back):
        assert [getattr(a, f) for f in fields[a.kind]] == [getattr(b, f) for f in fields[b.kind]]
        assert route_key(a) == route_key(b)


def test_records_streamed_to_the_pool_give_the_one_process_results(scenario, reference):
    """``aiops replay --workers`` hands the pool lazy batches, routed as they are read."""
    from aiops.replay import batches, lazy_batches

    config, records = scenario
    engine = Engine(config, open_store(), workers=2)
    try:
        counts = [engine.process(batch) for batch in lazy_batches(iter(records), 2000, 300)]
        engine.flush()
        assert counts[:4] == [300, 600, 1200, 2000] and sum(counts) == len(records)
        assert [len(b) for b in batches(iter(records[:4500]), 2000)] == [2000, 2000, 500]
        assert outcome(engine) == reference[0]
    finally:
        engine.close()


def test_a_stream_failing_part_way_leaves_the_pool_as_it_was(scenario):
    from ingest.errors import ParseError

    config, records = scenario
    engine = Engine(config, open_store(), workers=2)

    def failing():
        yield from records[1000:1500]
        raise ParseError("a number", field="value", got="x", line=1501)

    try:
        assert engine.process(iter(records[:1000])) == 1000
        pool = engine.partition
        before = (dict(pool.assignment), list(pool.load), pool.max_ts, len(pool._inflight))
        with pytest.raises(ParseError, match=":1501: field .value."):
            engine.process(failing())
        assert (pool.assignment, pool.load, pool.max_ts, len(pool._inflight)) == before
        assert engine.process(iter(records[1500:])) == len(records) - 1500
        engine.flush()
    finally:
        engine.close()


def _paced_replay_with_workers(store: Path, speed: str, **popen) -> tuple[Any, list[int]]:
    """``aiops replay --workers 2`` of the scenario, paced; returns once both workers run."""
    import subprocess
    import sys
    import time

    replay = subprocess.Popen(
        [sys.executable, "-m", "aiops", "replay", str(SCENARIO), "--workers", "2",
         "--speed", speed, "--no-progress", "--store", str(store)],
        cwd=Path(__file__).resolve().parents[1], **popen)
    deadline = time.monotonic() + 60
    while len(workers := child_pids(replay.pid)) < 2:
        if replay.poll() is not None or time.monotonic() > deadline:
            replay.kill()
            raise AssertionError("no workers started")
        time.sleep(0.05)
    return replay, workers


_CHILDREN_LISTS = pytest.mark.skipif(
    not Path(f"/proc/self/task/{os.getpid()}/children").exists(),
    reason="reads the kernel's children lists in /proc (Linux)")


@_CHILDREN_LISTS
def test_workers_exit_when_the_engine_process_is_killed(tmp_path):
    """``kill -9`` of a ``--workers`` replay must not leave its workers waiting for ever
    (they held copies of the engine's pipe ends, so they never saw it go)."""
    import signal
    import subprocess
    import time

    replay, workers = _paced_replay_with_workers(tmp_path / "killed.db", "1",
                                                 stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)  # paced at real time: the replay is now waiting, workers idle
    finally:
        replay.send_signal(signal.SIGKILL)
        replay.wait()
    assert_processes_exit(workers, "the engine process")


def test_a_killed_worker_stops_the_engine_with_what_happened(scenario):
    import signal

    from aiops.pool import WorkerError

    config, records = scenario
    engine = Engine(config, open_store(), workers=2)
    try:
        engine.process(iter(records[:3000]))
        victim = engine.partition._procs[1]
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(timeout=10)
        with pytest.raises(WorkerError, match=rf"worker 1 \(pid {victim.pid}\) was killed by "
                                              r"SIGKILL"):
            for start in range(3000, len(records), 1000):  # found at a send or a receive
                engine.process(iter(records[start:start + 1000]))
            engine.flush()
    finally:
        engine.close()  # the other worker is stopped; no error for the dead one


@_CHILDREN_LISTS
def test_replay_with_a_killed_worker_fails_with_one_line_not_silently(tmp_path):
    """A worker's broken pipe once passed for stdout's (``aiops replay | head``): the replay
    exited 0 with no output at all."""
    import signal
    import subprocess

    replay, workers = _paced_replay_with_workers(tmp_path / "killed.db", "100",
                                                 stdout=subprocess.PIPE,
                                                 stderr=subprocess.PIPE, text=True)
    try:
        os.kill(workers[0], signal.SIGKILL)
        out, err = replay.communicate(timeout=60)
    finally:
        replay.kill()
    assert replay.returncode == 1, (out, err)
    assert out == ""
    assert "error: partition worker" in err and "SIGKILL" in " ".join(err.split())

"""The engine: event-time determinism, durability and restart from a checkpoint."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import numpy as np

from aiops.config import Config
from aiops.engine import Engine, ingest_all
from aiops.schema import Alert, Event, LogRecord, MetricSample
from aiops.store import open_store

UTC = timezone.utc
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def scenario(seed: int = 7) -> list:
    """Two services over an hour: logs every few seconds, metrics, a deploy, alerts in waves."""
    rng = random.Random(seed)
    records: list = []
    for i in range(3600 // 3):
        ts = T0 + timedelta(seconds=3 * i)
        svc = rng.choice(["checkout", "payments"])
        records.append(LogRecord(ts=ts, message=f"request {rng.randint(1, 999)} served in "
                                 f"{rng.randint(1, 90)} ms", service=svc, level="INFO"))
        records.append(MetricSample(ts=ts, name="latency_ms", value=rng.gauss(50, 5),
                                    labels={"service": svc}))
    records.append(Event(ts=T0 + timedelta(minutes=20), type="deploy", service="checkout"))
    for wave, svc in ((25, "checkout"), (40, "payments")):
        start = T0 + timedelta(minutes=wave)
        for k in range(5):
            labels = {"alertname": f"HighLatency{k}", "service": svc, "severity": "warning"}
            records.append(Alert(labels=labels, starts_at=start + timedelta(seconds=10 * k)))
            records.append(Alert(labels=labels, starts_at=start + timedelta(seconds=10 * k),
                                 status="resolved", ends_at=start + timedelta(minutes=8)))
    records.sort(key=lambda r: r.ts)
    return records


def outcome(engine: Engine) -> tuple:
    incidents = sorted(engine.store.documents("incidents"), key=lambda d: d["id"])
    alerts = sorted(engine.store.documents("alerts"), key=lambda d: d["id"])
    templates = sorted((t["id"], t["template"], t["count"]) for t in engine.store.template_rows())
    for a in alerts:
        a.pop("repeats", None)  # how many re-deliveries arrived depends on batching
    return incidents, alerts, templates


def run(records, batch_size: int, store=None) -> tuple:
    engine = Engine(Config(), store or open_store())
    ingest_all(engine, records, batch_size=batch_size)
    engine.flush()
    return outcome(engine)


def test_results_do_not_depend_on_batching_or_disorder_within_lateness():
    records = scenario()
    whole = run(records, batch_size=100_000)
    assert whole[0], "the scenario must produce incidents"
    assert run(records, batch_size=37) == whole
    # shuffle locally: every record moves by less than the allowed lateness (60 s)
    rng = random.Random(1)
    jittered = sorted(records, key=lambda r: r.ts + timedelta(seconds=rng.uniform(0, 50)))
    assert run(jittered, batch_size=113) == whole


def test_restart_resumes_from_the_checkpoint_with_identical_results(tmp_path):
    records = scenario()
    reference = run(records, batch_size=500)
    path = tmp_path / "aiops.db"
    engine = Engine(Config(engine={"checkpoint_records": 1000}), open_store(path))
    half = len(records) // 2
    ingest_all(engine, records[:half], batch_size=500)
    # simulate a crash: no flush, no final checkpoint; some batches are past the last checkpoint
    assert engine.store.head_offset() > int(engine.store.load_checkpoint()[0])
    engine.store.close()
    restarted = Engine(Config(engine={"checkpoint_records": 1000}), open_store(path))
    restarted.catch_up()
    ingest_all(restarted, records[half:], batch_size=500)
    restarted.flush()
    assert outcome(restarted) == reference


def test_redelivered_batches_are_not_processed_twice():
    records = scenario()[:400]
    engine = Engine(Config(), open_store())
    first = engine.ingest(records)
    again = engine.ingest(records)
    assert not first.duplicate and again.duplicate and again.offset == first.offset
    engine.flush()
    assert engine.summary()["records"]["log"] == sum(1 for r in records if r.kind == "log")


def test_unknown_engine_key_is_a_config_error():
    import pytest

    from aiops.config import ConfigError

    with pytest.raises(ConfigError, match="lateness"):
        Engine(Config(engine={"latenes_s": 5}))


def test_engine_values_of_the_wrong_type_or_sign_are_config_errors_naming_the_key():
    """``lateness_s = "60"`` was a TypeError traceback from timedelta; a negative lateness or
    a zero correlation tick was accepted."""
    import pytest

    from aiops.config import ConfigError

    for key, value, says in (("lateness_s", "60", "lateness_s: expected a number of seconds"),
                             ("alert_delay_s", -1, "alert_delay_s: expected a number"),
                             ("correlate_tick_s", 0, "correlate_tick_s: expected a number of "
                                                     "seconds, above 0"),
                             ("checkpoint_records", 2.5, "checkpoint_records: expected a whole"),
                             ("checkpoint_interval_s", True, "checkpoint_interval_s")):
        with pytest.raises(ConfigError, match=says):
            Engine(Config(engine={key: value}))
    engine = Engine(Config(engine={"lateness_s": 0, "checkpoint_interval_s": 2.5}))
    assert engine.lateness.total_seconds() == 0 and engine.params.checkpoint_interval_s == 2.5
    engine.close()


def test_checkpoint_frequency_does_not_change_the_stored_templates(tmp_path, capsys):
    """Templates merge as mining goes on; a checkpoint taken before a merge must not leave
    the merged-away id behind in the store."""
    import json

    from aiops.cli import main
    from tests.conftest import SAMPLES

    scenario = SAMPLES / "bad-deploy"
    often = tmp_path / "often.toml"
    often.write_text("[engine]\ncheckpoint_records = 200\n")
    rows = []
    for name, extra in (("once", []), ("often", ["--config", str(often)])):
        store = tmp_path / f"{name}.db"
        assert main(["replay", str(scenario), "--store", str(store), "--no-progress",
                     *extra]) == 0
        json.loads(capsys.readouterr().out)
        rows.append(sorted((t["id"], t["template"], t["count"])
                           for t in open_store(store).template_rows()))
    assert rows[0] == rows[1]


def test_a_state_this_version_cannot_read_is_a_clear_error_not_a_traceback(tmp_path):
    import pytest

    from aiops.config import ConfigError

    path = tmp_path / "aiops.db"
    engine = Engine(Config(), open_store(path))
    ingest_all(engine, scenario()[:400])
    engine.flush()
    states = dict(engine.store.load_checkpoint()[1])
    states["correlate"] = b'{"not": "a correlator state"}'
    engine.store.save_checkpoint(engine.offset, states)
    engine.store.close()
    with pytest.raises(ConfigError, match="new store"):
        Engine(Config(), open_store(path))


def test_large_states_are_stored_in_parts_and_read_back_whole(tmp_path):
    from aiops.store import sqlite as sqlite_store

    store = open_store(tmp_path / "s.db")
    big = bytes(range(256)) * (sqlite_store._PART_BYTES // 256 * 2 + 3)  # 2 parts and a bit
    store.save_checkpoint(7, {"detect.0": big, "small": b"x"})
    rows = store.reader().execute("SELECT key FROM state").fetchall()
    assert sum(sqlite_store._PART in k for (k,) in rows) == 3
    assert store.load_checkpoint() == (7, {"detect.0": big, "small": b"x"})
    store.save_checkpoint(8, {"detect.0": b"now small", "small": b"y"})  # old parts go
    assert store.load_checkpoint() == (8, {"detect.0": b"now small", "small": b"y"})
    store.close()


def test_a_state_that_writes_itself_is_streamed_into_the_same_rows_as_its_bytes(tmp_path):
    """A detector's ``StateDump`` goes into the store in parts, never whole in memory."""
    from aiops.detect import persist
    from aiops.store import sqlite as sqlite_store

    part = sqlite_store._PART_BYTES
    payloads = {"empty": b"", "small": b"abc", "exact": b"e" * part,
                "two": bytes(range(256)) * (part // 128), "big": b"b" * (2 * part + 5)}
    rows = {}
    for how in ("bytes", "streamed"):
        store = open_store(tmp_path / f"{how}.db")
        states = {k: v if how == "bytes" else _Writes(v) for k, v in payloads.items()}
        store.save_checkpoint(3, states)
        rows[how] = store.reader().execute("SELECT key, value FROM state ORDER BY key").fetchall()
        assert store.load_checkpoint() == (3, payloads)
        store.close()
    assert rows["streamed"] == rows["bytes"]
    assert sum(sqlite_store._PART in k for k, _ in rows["bytes"]) == 2 + 3

    series = {"cpu": np.arange(300_000, dtype=float), "mem": list(range(1000))}
    dump = persist.StateDump("metrics", series)
    store = open_store(tmp_path / "dump.db")
    store.save_checkpoint(4, {"detect.0": dump})
    offset, states = store.load_checkpoint()
    assert states["detect.0"] == dump.to_bytes()
    back = persist.loads("metrics", states["detect.0"])
    assert np.array_equal(back["cpu"], series["cpu"]) and back["mem"] == series["mem"]
    store.close()


class _Writes:
    """Writes its bytes in uneven pieces, as a pickler does."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def write_to(self, file) -> None:
        view, i, step = memoryview(self.data), 0, 1
        while i < len(view):
            file.write(view[i:i + step])
            i, step = i + step, step * 3 + 1


def test_scikit_learn_and_pandas_load_on_the_first_fit_with_one_native_thread():
    """A process that only routes records (``--workers`` engine, API front) never loads
    them; where a fit loads them, their thread pools start at one thread."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import sys
        import numpy as np
        import aiops.cli.replay, aiops.engine, aiops.pool, aiops.detect
        from aiops.engine import Engine
        from aiops.runtime import limit_native_threads
        from aiops.store import open_store
        Engine(store=open_store()).close()
        limit_native_threads()  # what the CLI's entry point and the pool's workers do
        heavy = sorted(m for m in ('sklearn', 'scipy', 'pandas') if m in sys.modules)
        print('before', heavy)
        from aiops.detect.counts import CountModel
        from aiops.detect.features import rolling_mean
        rng = np.random.default_rng(0)
        CountModel().fit([{f"t{j}": float(rng.poisson(3.0)) for j in range(40)} for _ in range(300)])
        rolling_mean(np.arange(10.0), 3, 1)
        heavy = sorted(m for m in ('sklearn', 'scipy', 'pandas') if m in sys.modules)
        print('after', heavy)
        from threadpoolctl import threadpool_info
        print('threads', sorted({p['num_threads'] for p in threadpool_info()}))
    """)
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    out = run.stdout.splitlines()
    assert out[0] == "before []"
    assert out[1] == "after ['pandas', 'scipy', 'sklearn']"
    assert out[2] == "threads [1]"


def test_a_second_process_cannot_process_a_store_held_by_a_live_engine(tmp_path):
    """Two engines on one store would process every batch twice; the lock goes with the
    holder, however it exits (kill -9 here)."""
    import signal
    import subprocess
    import sys

    import pytest

    from aiops.store.lock import StoreLockedError

    path = tmp_path / "held.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from aiops.engine import Engine\nfrom aiops.store import open_store\n"
         f"engine = Engine(store=open_store({str(path)!r}))\nprint('ready', flush=True)\n"
         "time.sleep(60)\n"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLockedError, match=f"pid {holder.pid}"):
            Engine(store=open_store(path))
        # appending (what the API's front process does) needs no claim
        assert open_store(path).head_offset() == 0
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    engine = Engine(store=open_store(path))  # the kernel dropped the dead holder's lock
    engine.close()
    Engine(store=open_store(path)).close()  # and close() releases it in this process


def test_process_skips_the_input_log_and_gives_what_ingest_gives(tmp_path):
    """``process`` (the replay path: its files are its record of the input) gives the
    results ``ingest`` does, copies nothing into the input log, and processes batches
    another writer committed first, so they keep their place in the order."""
    records = scenario()
    reference = run(records, batch_size=500)
    engine = Engine(Config(engine={"checkpoint_records": 1000}), open_store(tmp_path / "a.db"))
    for i in range(0, len(records), 500):
        engine.process(records[i:i + 500])
    engine.flush()
    assert outcome(engine) == reference
    assert engine.store.head_offset() == 0 and engine.store.batches_after(0) == []

    # a batch committed to the input log (an API client, say) is processed before the next
    # batch handed to process(), and only once
    mixed = Engine(Config(), open_store(tmp_path / "b.db"))
    first = [r for r in records[:600] if r.kind == "log"]
    mixed.submit(first)
    mixed.process([r for r in records[600:] if r.kind == "log"])
    assert mixed.offset == 1 and mixed.store.head_offset() == 1
    mixed.flush()
    assert mixed.summary()["records"]["log"] == sum(1 for r in records if r.kind == "log")
    assert mixed.summary()["late_records"] == 0


def test_a_replay_store_continues_with_posted_batches(tmp_path, capsys):
    """`aiops serve --store` on a replay's store: the replay journaled nothing, so the
    engine resumes from the replay's final checkpoint and processes what is posted next."""
    import json

    from aiops.cli import main
    from tests.conftest import SAMPLES

    store = tmp_path / "replay.db"
    assert main(["replay", str(SAMPLES / "bad-deploy"), "--store", str(store),
                 "--no-progress"]) == 0
    replayed = json.loads(capsys.readouterr().out)
    engine = Engine(Config(), open_store(store))
    assert engine.store.head_offset() == 0 and engine.offset == 0
    before = engine.summary()["records"]["log"]
    assert before == replayed["records"]["log"]
    last = datetime.fromisoformat(replayed["event_time"]["last"].replace("Z", "+00:00"))
    posted = [LogRecord(ts=last + timedelta(seconds=i), message=f"request {i} served",
                        service="checkout", level="INFO") for i in range(1, 50)]
    result = engine.submit(posted)  # what the API's front process does, then its engine
    assert result.offset == 1
    engine.catch_up()
    engine.flush()
    assert engine.offset == 1
    assert engine.summary()["records"]["log"] == before + len(posted)
    assert {d["id"] for d in engine.store.documents("incidents")} >= \
        {i["id"] for i in replayed["incidents"]}
    engine.close()


def test_series_past_max_series_are_counted_and_said_not_scored():
    """``[detect.metrics] max_series`` bounds the detector's memory; the samples of series
    past it are stored and counted, and the summary (and so /api/v1/status and /metrics)
    says how many were not scored instead of dropping them from view."""
    records = scenario()  # two latency series, 600 samples each
    full = Engine(Config())
    ingest_all(full, records, 200)
    full.flush()
    assert full.summary()["metric_series"] == {"scored": 2, "samples_not_scored": 0}
    capped = Engine(Config(detect={"metrics": {"max_series": 1}}))
    ingest_all(capped, records, 200)
    capped.flush()
    summary = capped.summary()
    assert summary["metric_series"]["scored"] == 1
    samples = [r for r in records if type(r) is MetricSample]
    other = [r for r in samples if r.labels != samples[0].labels]  # the series past the cap
    assert summary["metric_series"]["samples_not_scored"] == len(other) > 500
    assert summary["records"] == full.summary()["records"]  # every sample still counted

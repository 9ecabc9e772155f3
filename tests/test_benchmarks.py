"""The benchmark plumbing reports what happened (no timings are asserted: those live in benchmarks/)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import common  # noqa: E402
import replay_throughput  # noqa: E402
import scaling  # noqa: E402
from benchmarks.__main__ import markdown  # noqa: E402


def test_run_measured_reports_exit_code_output_and_memory():
    code = "import sys; b = bytearray(60 * 2**20); b[::4096] = b'x' * len(b[::4096]); " \
           "print('out'); sys.exit(3)"
    run = common.run_measured([sys.executable, "-c", code])
    assert run["rc"] == 3
    assert run["stdout"].strip() == "out"
    assert run["max_process_rss_mb"] >= 60  # the child's own peak, not this process'
    assert run["peak_tree_rss_mb"] >= run["max_process_rss_mb"]
    assert run["cpu_s"] >= 0 and run["wall_s"] > 0


def test_the_sampler_counts_a_child_s_own_child():
    """The tree comes from the kernel's children lists: a grandchild holding 80 MB is in
    the peak RSS and PSS (a --workers replay's workers are its children)."""
    code = ("import subprocess, sys; subprocess.run([sys.executable, '-c', "
            "\"import time; b = bytearray(80 * 2**20); b[::4096] = b'x' * len(b[::4096]); "
            "time.sleep(2.5)\"])")
    run = common.run_measured([sys.executable, "-c", code])
    assert run["rc"] == 0
    # PSS comes from the sampler alone (peak RSS falls back on the rusage, which counts
    # a waited-for grandchild too)
    assert run["peak_tree_pss_mb"] >= 80 and run["peak_tree_rss_mb"] >= 80
    assert 0 <= run["sampler_cpu_s"] < run["wall_s"]


def test_replay_of_one_file_gives_a_summary(tmp_path):
    log = tmp_path / "one.log"
    log.write_text('{"ts": "2026-03-02T10:00:00Z", "service": "a", "message": "started"}\n')
    run = common.replay(log)
    assert run["rc"] == 0, run.get("error")
    assert run["summary"]["records"]["log"] == 1


def test_same_results_ignores_timings_but_not_incidents():
    a = {"incidents": [{"id": "INC-1"}], "alerts": {"unique": 2}, "kpis": {"alerts": 2},
         "elapsed_s": 1.0, "records_per_s": 10, "store": "a.db"}
    b = dict(a, elapsed_s=2.0, records_per_s=5, store="b.db")
    assert replay_throughput.same_results(a, b)["identical"]
    assert replay_throughput.same_results(a, b)["other_fields_differing"] == []
    c = dict(b, incidents=[{"id": "INC-2"}])
    assert not replay_throughput.same_results(a, c)["identical"]


def test_repeated_runs_report_the_median_run_and_the_worst_memory():
    def run(wall, rss, ok=True):
        return {"available": ok, "wall_s": wall, "peak_tree_rss_mb": rss}

    median = replay_throughput.representative(
        [run(40.0, 280.0), run(33.0, 301.0), run(36.0, 290.0), run(1.0, 1.0, ok=False)])
    assert median["wall_s"] == 36.0 and median["peak_tree_rss_mb"] == 301.0  # max, not its own
    assert median["wall_s_all"] == [40.0, 33.0, 36.0, 1.0] and median["repeats"] == 4
    assert replay_throughput.representative([run(9.0, 99.0)]) == run(9.0, 99.0)  # one: as is


def test_chunk_clock_yields_everything_and_rates_per_chunk():
    clock = replay_throughput.ChunkClock([str(i) for i in range(1000)], chunks=10)
    assert list(clock) == [str(i) for i in range(1000)]
    assert len(clock.marks) == 11


def test_scaling_step_normalises_to_twice_the_lines():
    a = {"log_lines": 100, "wall_s": 10.0, "cpu_s": 10.0, "peak_tree_rss_mb": 100.0}
    b = {"log_lines": 250, "wall_s": 25.0, "cpu_s": 27.5, "peak_tree_rss_mb": 150.0}
    s = scaling.step(a, b)
    assert s["lines_ratio"] == 2.5
    assert s["wall_ratio_at_2x_lines"] == 2.0  # exactly linear
    assert s["cpu_per_line_ratio"] == 1.1
    assert 2.1 < s["cpu_ratio_at_2x_lines"] < 2.2 and not s["meets"]  # 2.5x lines: 1.1 ** 0.76
    two = scaling.step(a, dict(b, log_lines=200, cpu_s=22.0))
    assert two["cpu_ratio_at_2x_lines"] == 2.2


def test_markdown_reports_failures_and_floors():
    entries = {"scaling": {"status": "ok", "result": {"table": [
                   {"measure": "x", "value": 1234, "floor": "<= 2", "meets": False}]}},
               "api_load": {"status": "failed (1)", "result": None}}
    md = markdown(entries, "header")
    assert "| scaling | x | 1,234 | <= 2 | **no** |" in md
    assert "| api_load | **failed (1)**" in md


def test_every_planned_benchmark_has_a_script_that_knows_its_options(capsys):
    import importlib

    import pytest

    from benchmarks import __main__ as runner

    for name, (quick, full, *_timeouts) in runner.PLAN.items():
        module = importlib.import_module(runner.SCRIPTS.get(name, name))
        with pytest.raises(SystemExit) as exc:
            module.main(["--help"])
        assert exc.value.code == 0
        usage = capsys.readouterr().out
        for option in {a for a in quick + full if a.startswith("--")}:
            assert option in usage, (name, option)


def test_metric_ingest_times_batches_after_every_series_warmed_up():
    import metric_ingest

    r = metric_ingest.measure(series=2, batch=4, batches=3)
    assert (r["series"], r["points_per_series_per_batch"], r["batch"]) == (2, 2, 4)
    assert r["samples_per_cpu_s"] > 0 and r["us_per_series_call"] > 0
    # the timed points were scored, not warming up (800 warm points; the engine's warm-up 750)
    assert r["series_tracked"] == 2 and r["scored_points"] >= 2 * (800 - 750)


def test_input_log_benchmark_prunes_everything_it_committed():
    import input_log

    r = input_log.measure(batches=7, batch=10)
    assert r["bytes_per_event"] > 0
    # retention 0 empties the log in checkpoints of at most PRUNE_CHUNK batches
    assert len(r["prune_checkpoints_ms"]) == -(-7 // r["prune_chunk"])


def test_process_cpu_names_each_process_of_the_tree_with_its_cpu():
    """What measured the --workers pool: a child that burns CPU shows up with it, beside its
    idle parent, and the idle cores are sampled once a second."""
    import process_cpu

    burn = "import time; t = time.process_time(); exec('while time.process_time() - t < 0.6: pass')"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {burn!r}])"
    result = process_cpu.measure([sys.executable, "-c", parent], every=0.02)
    assert result["rc"] == 0
    assert len(result["processes"]) == 2, result
    child = max(result["processes"], key=lambda p: p["cpu_s"])
    assert child["cpu_s"] >= 0.5 and result["cpu_s"] >= child["cpu_s"]
    assert result["idle_core_s_per_s"] and result["idle_core_s"] >= 0

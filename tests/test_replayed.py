"""A store remembers the files replayed into it: the same file again is skipped, a grown or
half-replayed one is refused with what to do, and ``--again`` overrides."""

from __future__ import annotations

import shutil

import orjson

from aiops.cli import main
from aiops.cli.replayed import SPAN, ReplayedInputs
from aiops.config import Config
from aiops.engine import Engine
from aiops.store import open_store
from ingest.files import InputSpec
from tests.conftest import SAMPLES

SCENARIO = SAMPLES / "db-pool-exhaustion"


def replay(capsys, *args: str) -> tuple[int, dict | None, str]:
    code = main(["replay", *args, "--no-progress"])
    captured = capsys.readouterr()
    return code, (orjson.loads(captured.out) if captured.out.strip() else None), captured.err


def test_replaying_the_same_files_into_a_store_again_counts_nothing_twice(tmp_path, capsys):
    store = str(tmp_path / "s.db")
    code, first, _ = replay(capsys, str(SCENARIO), "--store", store)
    assert code == 0 and first["skipped_inputs"] == []
    code, again, err = replay(capsys, str(SCENARIO), "--store", store)
    assert code == 0
    assert "skipping 20 of 20 inputs: replayed into" in " ".join(err.split())
    assert len(again["skipped_inputs"]) == 20 and again["inputs"] == []
    assert {s["path"] for s in again["skipped_inputs"]} == \
        {i["path"] for i in first["inputs"]}
    # the store as the first replay left it: nothing read twice, nothing late
    assert again["kpis"] == first["kpis"] and again["records"] == first["records"]
    assert again["late_records"] == first["late_records"]
    assert [i["id"] for i in again["incidents"]] == [i["id"] for i in first["incidents"]]
    # --again replays them all: every record counted twice, as before this check existed
    code, forced, _ = replay(capsys, str(SCENARIO), "--store", store, "--again")
    assert code == 0 and forced["skipped_inputs"] == []
    assert forced["records"] == {k: 2 * v for k, v in first["records"].items()}


def test_a_grown_file_is_refused_naming_how_much_of_it_the_store_holds(tmp_path, capsys):
    log = tmp_path / "postgres.log"
    shutil.copy(SCENARIO / "logs" / "postgres.log", log)
    size = log.stat().st_size
    store = str(tmp_path / "s.db")
    code, first, _ = replay(capsys, str(log), "--store", store)
    assert code == 0
    with open(log, "a") as fh:
        fh.write("2026-03-02 10:50:00.000 UTC [999] LOG:  checkpoint complete\n")
    code, out, err = replay(capsys, str(log), "--store", store)
    err = " ".join(err.split())
    assert code == 2 and out is None
    assert f"its first {size:,} bytes were" in err and "it has grown since" in err, err
    assert "replay it into a new --store, or pass --again" in err
    code, forced, _ = replay(capsys, str(log), "--store", store, "--again")
    assert code == 0 and forced["records"]["log"] == 2 * first["records"]["log"] + 1


def test_a_file_shorter_than_the_fingerprint_that_grew_is_recognised(tmp_path, capsys):
    log = tmp_path / "tiny.log"
    log.write_text("2026-03-02 10:00:00 INFO started\n")
    assert log.stat().st_size < SPAN
    store = str(tmp_path / "s.db")
    assert replay(capsys, str(log), "--store", store)[0] == 0
    with open(log, "a") as fh:
        fh.write("2026-03-02 10:00:05 ERROR disk full on /var\n" * 40)  # past SPAN now
    code, _, err = replay(capsys, str(log), "--store", store)
    assert code == 2 and "bytes were" in err


def test_files_with_the_same_lines_under_other_names_are_other_inputs(tmp_path, capsys):
    """A metrics CSV names its series after its file: two files with the same lines are two
    series (and two empty logs are two inputs, not one given twice)."""
    a, b = tmp_path / "cpu_ratio.csv", tmp_path / "mem_ratio.csv"
    for path in (a, b):
        path.write_text("timestamp,value\n2026-03-02T10:00:00Z,0.5\n2026-03-02T10:00:15Z,0.6\n")
    (tmp_path / "empty-1.log").write_text("")
    (tmp_path / "empty-2.log").write_text("")
    store = str(tmp_path / "s.db")
    code, out, err = replay(capsys, str(a), str(b), str(tmp_path / "empty-1.log"),
                            str(tmp_path / "empty-2.log"), "--store", store)
    assert code == 0, err
    assert out["records"]["metric"] == 4 and out["metric_series"]["scored"] == 2  # 2 series
    assert [i["records"] for i in out["inputs"]] == [2, 2, 0, 0]
    code, out, _ = replay(capsys, str(a), "--store", store)  # the same path: skipped
    assert code == 0 and [s["path"] for s in out["skipped_inputs"]] == [str(a)]
    # another file now under a replayed name (a log rotated and started again): replayed
    a.write_text("timestamp,value\n2026-03-02T11:00:00Z,0.7\n")
    code, out, _ = replay(capsys, str(a), "--store", store)
    assert code == 0 and out["skipped_inputs"] == [] and out["records"]["metric"] == 5


def test_different_files_with_the_same_opening_are_both_replayed(tmp_path, capsys):
    banner = "".join(f"2026-03-02 10:00:{i:02d} INFO starting module {i}\n" for i in range(40))
    assert len(banner) > SPAN
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text(banner + "2026-03-02 10:01:00 ERROR a failed\n")
    b.write_text(banner + "2026-03-02 10:01:00 ERROR b failed\n")
    store = str(tmp_path / "s.db")
    assert replay(capsys, str(a), "--store", store)[0] == 0
    code, out, _ = replay(capsys, str(b), "--store", store)
    assert code == 0 and out["skipped_inputs"] == [] and out["inputs"][0]["records"] == 41
    code, _, err = replay(capsys, str(a), str(tmp_path / ".." / tmp_path.name / "a.log"),
                          "--store", str(tmp_path / "t.db"))
    assert code == 2 and "each input once" in err  # one path, given twice


def test_a_replay_that_did_not_finish_is_refused_and_the_registry_survives_a_restart(tmp_path,
                                                                                      capsys):
    """What an interrupted replay checkpointed (Ctrl-C, or a kill after a checkpoint) says
    the file was being replayed: its first records are in the store."""
    log = tmp_path / "postgres.log"
    shutil.copy(SCENARIO / "logs" / "postgres.log", log)
    store = tmp_path / "s.db"
    engine = Engine(Config(), open_store(store))
    try:
        ReplayedInputs(engine.replayed_inputs).begin([InputSpec(path=log)])
        engine.checkpoint()
    finally:
        engine.close()
    code, _, err = replay(capsys, str(log), "--store", str(store))
    assert code == 2 and "was interrupted" in " ".join(err.split())
    code, out, _ = replay(capsys, str(log), "--store", str(store), "--again")
    assert code == 0 and out["inputs"][0]["records"] > 0
    code, out, _ = replay(capsys, str(log), "--store", str(store))  # complete now: skipped
    assert code == 0 and [s["path"] for s in out["skipped_inputs"]] == [str(log)]

"""A store remembers the files replayed into it: the same file again is skipped, a
half-replayed one is refused with what to do, a grown log, CSV or JSON-lines file is replayed
from where the store left it, and ``--again`` overrides."""

from __future__ import annotations

import gzip
import shutil
import threading
import time

import orjson

from aiops.cli import main
from aiops.cli.replayed import HELD_PER_PATH, SPAN, ReplayedInputs, _hash
from aiops.config import Config
from aiops.engine import Engine
from aiops.store import open_store
from ingest.errors import ErrorPolicy
from ingest.files import InputSpec, read_input
from tests.conftest import SAMPLES

SCENARIO = SAMPLES / "db-pool-exhaustion"


def replay(capsys, *args: str) -> tuple[int, dict | None, str]:
    code = main(["replay", *args, "--no-progress"])
    captured = capsys.readouterr()
    return code, (orjson.loads(captured.out) if captured.out.strip() else None), captured.err


def replay_grown(capsys, path, text: str, appended: str) -> tuple[dict, dict, str]:
    """Replay ``text`` written to ``path`` into a store, append ``appended``, replay again:
    both summaries and the second replay's stderr."""
    path.write_text(text)
    store = str(path.parent / "s.db")
    code, first, err = replay(capsys, str(path), "--store", store)
    assert code == 0, err
    with open(path, "a") as fh:
        fh.write(appended)
    code, out, err = replay(capsys, str(path), "--store", store)
    assert code == 0, err
    return first, out, err


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


def test_a_grown_log_is_replayed_from_where_the_store_left_it(tmp_path, capsys):
    log = tmp_path / "postgres.log"
    shutil.copy(SCENARIO / "logs" / "postgres.log", log)
    size, lines = log.stat().st_size, len(log.read_text().splitlines())
    store = str(tmp_path / "s.db")
    code, first, _ = replay(capsys, str(log), "--store", store)
    assert code == 0 and first["records"]["log"] == lines
    with open(log, "a") as fh:
        fh.write("2026-03-02 10:45:30.000 ERROR postgres.db: too many connections for role app\n"
                 "this line is in no log layout\n")
    code, out, err = replay(capsys, str(log), "--store", store)
    assert code == 0, err
    assert f"has grown since its replay into {store}: replaying it from byte {size:,} " \
           f"(line {lines + 1:,})" in " ".join(err.split())
    # only the new part: one record more in the store, the bad line named by its line number
    assert out["records"]["log"] == lines + 1 and out["late_records"] == first["late_records"]
    [entry] = out["inputs"]
    assert (entry["records"], entry["rejected"], entry["from_byte"]) == (1, 1, size)
    assert [e["line"] for e in out["rejected"]["first_errors"]] == [lines + 2]
    assert out["kpis"]["raw_signals"] == first["kpis"]["raw_signals"] + 1
    code, again, _ = replay(capsys, str(log), "--store", store)  # nothing new: skipped
    assert code == 0 and [s["path"] for s in again["skipped_inputs"]] == [str(log)]
    assert again["records"] == out["records"]
    code, forced, _ = replay(capsys, str(log), "--store", store, "--again")  # whole, again
    assert code == 0 and forced["records"]["log"] == 2 * (lines + 1)
    assert "from_byte" not in forced["inputs"][0]


def test_a_line_being_written_when_the_store_read_it_is_not_split(tmp_path, capsys):
    """A writer caught part way through a line: the store read the line as it stood, so the
    rest of it is not a record (or a rejected line) of its own when the file is resumed."""
    log = tmp_path / "app.log"
    first, out, err = replay_grown(capsys, log, "2026-03-02 10:00:00 INFO started\n"
                                   "2026-03-02 10:00:05 INFO ready\n"
                                   "2026-03-02 10:00:09 ERROR disk ful",
                                   "l on /var\n2026-03-02 10:00:20 INFO recovered\n")
    assert first["records"]["log"] == 3 and out["records"]["log"] == 4 and out["rejected"]["count"] == 0
    assert out["inputs"][0]["records"] == 1
    assert out["inputs"][0]["from_byte"] == log.read_bytes().index(b"2026-03-02 10:00:20")
    assert "(line 4)" in err


def test_a_stack_trace_finished_after_the_store_read_its_start_is_not_rejected(tmp_path,
                                                                               capsys):
    """The rest of a grown log begins with the frames of a record the store already holds:
    they are passed over, and the layout is the one sampled from the file's top."""
    first, out, err = replay_grown(
        capsys, tmp_path / "api.log",
        "2026-03-02 10:00:00 INFO started\n2026-03-02 10:00:05 ERROR request failed\n"
        "java.lang.IllegalStateException: pool exhausted\n",
        "\tat com.example.Pool.get(Pool.java:42)\n\tat com.example.Api.handle(Api.java:7)\n"
        "2026-03-02 10:00:20 INFO recovered\n")
    assert first["records"]["log"] == 2 and out["records"]["log"] == 3
    assert out["rejected"]["count"] == 0 and out["inputs"][0]["records"] == 1, err


def test_a_log_shorter_than_the_fingerprint_that_grew_is_resumed(tmp_path, capsys):
    log = tmp_path / "tiny.log"
    log.write_text("2026-03-02 10:00:00 INFO started\n")
    size = log.stat().st_size
    assert size < SPAN
    store = str(tmp_path / "s.db")
    assert replay(capsys, str(log), "--store", store)[0] == 0
    with open(log, "a") as fh:
        fh.write("2026-03-02 10:00:05 ERROR disk full on /var\n" * 40)  # past SPAN now
    code, out, _ = replay(capsys, str(log), "--store", store)
    assert code == 0 and out["inputs"][0]["from_byte"] == size
    assert out["records"]["log"] == 41


def test_a_grown_metric_csv_is_resumed_under_its_header(tmp_path, capsys):
    first, out, _ = replay_grown(
        capsys, tmp_path / "db_connections_used_ratio.csv",
        "timestamp,value,service\n2026-03-02T10:00:00Z,0.5,postgres\n"
        "2026-03-02T10:00:15Z,0.6,postgres\n",
        "2026-03-02T10:00:30Z,0.7,postgres\n2026-03-02T10:00:45Z,high,postgres\n"
        "2026-03-02T10:01:00Z,0.9,postgres\n")
    assert first["records"]["metric"] == 2 and out["records"]["metric"] == 4 and out["inputs"][0]["records"] == 2
    [error] = out["rejected"]["first_errors"]
    assert error["line"] == 5 and error["field"] == "value", error  # the file's own numbering


def test_a_grown_input_that_cannot_be_resumed_is_refused_naming_what_the_store_holds(
        tmp_path, capsys):
    """A JSON document over several lines (an export), not lines to go on from."""
    (tmp_path / "events").mkdir()
    events = tmp_path / "events" / "deploys.json"
    event = {"ts": "2026-03-02T10:05:00Z", "type": "deploy", "service": "checkout",
             "message": "checkout v2.4.1"}
    events.write_bytes(orjson.dumps([event], option=orjson.OPT_INDENT_2) + b"\n")
    size = events.stat().st_size
    store = str(tmp_path / "s.db")
    code, first, _ = replay(capsys, str(events), "--store", store)
    assert code == 0 and first["records"]["event"] == 1
    with open(events, "ab") as fh:  # another export appended
        fh.write(orjson.dumps([dict(event, ts="2026-03-02T10:30:00Z")], option=orjson.OPT_INDENT_2))
    code, out, err = replay(capsys, str(events), "--store", store)
    err = " ".join(err.split())
    assert code == 2 and out is None
    assert f"its first {size:,} bytes were" in err and "it has grown since" in err, err
    assert "only line by line inputs (logs, metric CSVs, JSON lines)" in err
    assert "pass --again" in err


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


def test_a_replay_reads_what_it_fingerprinted_not_what_is_appended_meanwhile(tmp_path, capsys):
    """A log still being written: the lines appended while a replay reads it belong to the
    next replay, which resumes at the size this one fingerprinted, so none counts twice."""
    log = tmp_path / "app.log"
    log.write_text("2026-03-02 10:00:00 INFO started\n2026-03-02 10:00:05 INFO ready\n")
    store = tmp_path / "s.db"
    engine = Engine(Config(), open_store(store))
    try:
        replayed = ReplayedInputs(engine.replayed_inputs)
        spec = InputSpec(path=log)
        replayed.begin([spec])
        with open(log, "a") as fh:  # the writer, while the replay reads
            fh.write("2026-03-02 10:00:07 WARN slow disk\n")
        records = list(read_input(spec, ErrorPolicy(strict=True)))
        assert [r.message for r in records] == ["started", "ready"]
        engine.process(records)
        replayed.finish([spec])
        engine.flush()
    finally:
        engine.close()
    code, out, err = replay(capsys, str(log), "--store", str(store))
    assert code == 0, err
    assert out["inputs"][0]["records"] == 1 and out["records"]["log"] == 3


def _lines(first: int, last: int) -> str:
    return "".join(f"2026-03-02 10:{i // 60:02d}:{i % 60:02d} INFO request {i} served\n"
                   for i in range(first, last))


def test_a_rotated_log_is_the_same_input_under_its_new_name(tmp_path, capsys):
    """logrotate: app.log -> app.log.1 -> app.log.2.gz, a new app.log each time. Replaying
    ``app.log*`` into one store after each rotation reads every line once: the lines written
    before a rotation are read from the file that now holds them, the rest skipped."""
    log, first_rotated, compressed = (tmp_path / name for name in
                                      ("app.log", "app.log.1", "app.log.2.gz"))
    store = str(tmp_path / "s.db")
    log.write_text(_lines(0, 100))
    replayed_size = log.stat().st_size
    assert replay(capsys, str(log), "--store", store)[0] == 0
    with open(log, "a") as fh:  # written after that replay, before the rotation
        fh.write(_lines(100, 110))
    log.rename(first_rotated)
    log.write_text(_lines(110, 120))
    code, out, err = replay(capsys, str(log), str(first_rotated), "--store", store)
    assert code == 0, err
    assert out["records"]["log"] == 120
    by_path = {i["path"]: i for i in out["inputs"]}
    assert by_path[str(first_rotated)]["records"] == 10
    assert by_path[str(first_rotated)]["from_byte"] == replayed_size
    assert by_path[str(first_rotated)]["replayed_as"] == str(log)
    assert by_path[str(log)]["records"] == 10 and "replayed_as" not in by_path[str(log)]
    assert f"{first_rotated} has grown since its replay as {log} into" in " ".join(err.split())
    # rotated again, the older file compressed
    compressed.write_bytes(gzip.compress(first_rotated.read_bytes()))
    first_rotated.unlink()
    log.rename(first_rotated)
    log.write_text(_lines(120, 125))
    code, out, err = replay(capsys, str(log), str(first_rotated), str(compressed),
                            "--store", store)
    assert code == 0, err
    assert out["records"]["log"] == 125
    assert [i["path"] for i in out["inputs"]] == [str(log)]
    assert {s["path"]: s["reason"].split("already")[1] for s in out["skipped_inputs"]} == {
        str(first_rotated): f" (as {log})", str(compressed): f" (as {first_rotated})"}
    code, out, _ = replay(capsys, str(log), str(first_rotated), str(compressed),
                          "--store", store)  # nothing new: all three skipped, by their names
    assert code == 0 and out["records"]["log"] == 125 and len(out["skipped_inputs"]) == 3
    assert all(s["reason"].endswith("already") for s in out["skipped_inputs"])


def test_a_compressed_log_grown_since_its_replay_is_resumed(tmp_path, capsys):
    """logrotate without delaycompress: app.log, with lines written after the last replay,
    compressed straight to app.log.1.gz."""
    log, compressed = tmp_path / "app.log", tmp_path / "app.log.1.gz"
    log.write_text(_lines(0, 50))
    store = str(tmp_path / "s.db")
    assert replay(capsys, str(log), "--store", store)[0] == 0
    compressed.write_bytes(gzip.compress((_lines(0, 50) + _lines(50, 60)).encode()))
    log.write_text(_lines(60, 70))
    code, out, err = replay(capsys, str(compressed), str(log), "--store", store)
    assert code == 0, err
    assert out["records"]["log"] == 70 and out["rejected"]["count"] == 0
    assert [(i["records"], i.get("from_byte", 0)) for i in out["inputs"]] == \
        [(10, len(_lines(0, 50))), (10, 0)]


def test_a_gzip_file_fingerprinted_by_its_own_bytes_before_is_still_recognised(tmp_path,
                                                                              capsys):
    """Stores written before fingerprints were of the content hold a gzip file's own bytes."""
    compressed = tmp_path / "app.log.1.gz"
    compressed.write_bytes(gzip.compress(_lines(0, 50).encode()))
    store = tmp_path / "s.db"
    assert replay(capsys, str(compressed), "--store", str(store))[0] == 0
    engine = Engine(Config(), open_store(store))
    try:  # what that store's entry looked like then
        [entry] = engine.replayed_inputs.values()
        raw = compressed.read_bytes()
        entry.update(size=len(raw), head=_hash(raw[:SPAN]), tail=_hash(raw[-SPAN:]))
        del entry["of"]
        engine.checkpoint()
    finally:
        engine.close()
    code, out, _ = replay(capsys, str(compressed), "--store", str(store))
    assert code == 0 and out["records"]["log"] == 50 and len(out["skipped_inputs"]) == 1


def test_a_rotated_log_not_listed_is_read_on_from_beside_its_old_name(tmp_path, capsys):
    """``aiops replay app.log --store S --keep-open`` from cron: logrotate moved app.log to
    app.log.1 since the last run and started a new one. The lines written before the rotation
    are read from app.log.1, found beside it, in the same run as the new file, so none is
    late and none is never read."""
    log, rotated = tmp_path / "app.log", tmp_path / "app.log.1"
    store = str(tmp_path / "s.db")
    log.write_text(_lines(0, 100))
    replayed_size = log.stat().st_size
    assert replay(capsys, str(log), "--store", store, "--keep-open")[0] == 0
    with open(log, "a") as fh:
        fh.write(_lines(100, 110))
    log.rename(rotated)
    log.write_text(_lines(110, 120))
    code, out, err = replay(capsys, str(log), "--store", store, "--keep-open")
    assert code == 0, err
    assert out["records"]["log"] == 120 and out["late_records"] == 0
    by_path = {i["path"]: i for i in out["inputs"]}
    assert by_path[str(log)]["records"] == 10
    followed = by_path[str(rotated)]
    assert (followed["records"], followed["from_byte"], followed["replayed_as"]) == \
        (10, replayed_size, str(log))
    assert f"{rotated} has grown since its replay as {log}" in " ".join(err.split())
    code, out, _ = replay(capsys, str(log), "--store", store)  # nothing new anywhere
    assert code == 0 and out["records"]["log"] == 120 and out["inputs"] == []


def test_a_log_rotated_elsewhere_is_taken_over_when_it_is_given_later(tmp_path, capsys):
    """logrotate's ``olddir``: the old content went to another directory, which the run did
    not list. The store keeps what it had of it, and the file, given later, takes it over."""
    log, rotated = tmp_path / "app.log", tmp_path / "old" / "app.log.1"
    rotated.parent.mkdir()
    store = str(tmp_path / "s.db")
    log.write_text(_lines(0, 100))
    replayed_size = log.stat().st_size
    assert replay(capsys, str(log), "--store", store)[0] == 0
    with open(log, "a") as fh:
        fh.write(_lines(100, 110))
    log.rename(rotated)
    log.write_text(_lines(110, 120))
    code, out, _ = replay(capsys, str(log), "--store", store)  # old/app.log.1 not listed
    assert code == 0 and out["records"]["log"] == 110
    code, out, err = replay(capsys, str(log), str(rotated), "--store", store)
    assert code == 0, err
    assert out["records"]["log"] == 120 and out["late_records"] == 0
    [resumed] = out["inputs"]
    assert (resumed["path"], resumed["records"], resumed["from_byte"], resumed["replayed_as"]) \
        == (str(rotated), 10, replayed_size, str(log))
    assert [s["path"] for s in out["skipped_inputs"]] == [str(log)]


def test_a_path_keeps_a_few_rotations_of_held_entries_not_all(tmp_path):
    """A path rewritten on every run (a report regenerated, a log truncated) would otherwise
    grow the store's registry by an entry a run."""
    log = tmp_path / "report.log"
    registry = ReplayedInputs({})
    for run in range(HELD_PER_PATH + 4):
        log.write_text(f"2026-03-02 10:00:{run:02d} INFO report {run}\n")
        spec = InputSpec(path=log)
        fresh, _ = registry.select([spec], again=False, store=tmp_path / "s.db")
        assert fresh == [spec]
        registry.begin(fresh)
        registry.finish(fresh)
        registry.entries[str(log.resolve())]["replayed_at"] = f"2026-03-02T10:00:{run:02d}Z"
    held = sorted(e["replayed_at"] for k, e in registry.entries.items()
                  if k != str(log.resolve()))
    assert held == [f"2026-03-02T10:00:{run:02d}Z" for run in range(3, HELD_PER_PATH + 3)]


def test_replays_from_cron_read_every_line_once_while_a_writer_appends_and_rotates(
        tmp_path, capsys):
    """A writer appends (in 8 KiB writes, so lines are caught half written) and logrotate
    moves app.log -> app.log.1 -> app.log.2.gz twice, while ``aiops replay app.log*`` runs
    again and again into one store: every line is one record, none late or rejected."""
    lines, store = 6000, str(tmp_path / "s.db")
    log = tmp_path / "app.log"

    def write() -> None:
        fh = open(log, "w", buffering=8192)
        for i in range(lines):
            fh.write(f"2026-03-02 {10 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d} INFO "
                     f"request {i} served\n")
            if i % 1000 == 500:  # let a replay run now, whatever this machine's speed
                replayed.clear()
                replayed.wait(timeout=30)
            elif i % 200 == 0:
                time.sleep(0.02)
            if i in (2000, 4000):  # logrotate, delaycompress
                fh.close()
                first = tmp_path / "app.log.1"
                if first.exists():
                    (tmp_path / "tmp").write_bytes(gzip.compress(first.read_bytes()))
                    first.unlink()
                    (tmp_path / "tmp").rename(tmp_path / "app.log.2.gz")
                log.rename(first)
                fh = open(log, "w", buffering=8192)
        fh.close()

    replayed = threading.Event()
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    runs = 0
    while writer.is_alive() or runs == 0:
        time.sleep(0.05)
        paths = sorted(str(p) for p in tmp_path.glob("app.log*"))
        if paths:
            code, _, err = replay(capsys, *paths, "--store", store)
            assert code == 0, err
            runs += 1
            replayed.set()
    code, out, err = replay(capsys, *sorted(str(p) for p in tmp_path.glob("app.log*")),
                            "--store", store)
    assert code == 0, err
    assert runs >= 6
    assert (out["records"]["log"], out["late_records"], out["rejected"]["count"]) == (lines, 0, 0)


def test_a_log_compressed_while_its_original_is_still_there_is_read_once(tmp_path, capsys):
    """logrotate writes app.log.2.gz before it removes app.log.1: a replay at that moment
    sees one log's lines in two files. A log is one source whatever its copies (a metrics
    CSV's name is its series: there two files with the same lines stay two series)."""
    rotated, compressed = tmp_path / "app.log.1", tmp_path / "app.log.2.gz"
    rotated.write_text(_lines(0, 80))
    store = str(tmp_path / "s.db")
    assert replay(capsys, str(rotated), "--store", store)[0] == 0
    compressed.write_bytes(gzip.compress(rotated.read_bytes()))
    code, out, err = replay(capsys, str(compressed), str(rotated), "--store", store)
    assert code == 0, err
    assert out["records"]["log"] == 80 and out["inputs"] == []
    assert [s["reason"].split("already")[1] for s in out["skipped_inputs"]] == \
        [f" (as {rotated})", ""]
    rotated.unlink()  # logrotate goes on: the compressed file alone, the next time
    code, out, _ = replay(capsys, str(compressed), "--store", store)
    assert code == 0 and out["records"]["log"] == 80 and len(out["skipped_inputs"]) == 1


def test_grown_json_lines_of_alerts_are_resumed_with_their_line_numbers(tmp_path, capsys):
    webhooks = (SCENARIO / "alerts" / "alertmanager.ndjson").read_text().splitlines(True)
    first, out, err = replay_grown(capsys, tmp_path / "alertmanager.ndjson",
                                   "".join(webhooks[:-1]), webhooks[-1] + "{not json\n")
    [entry] = out["inputs"]
    assert entry["records"] > 0 and entry["from_byte"] == len("".join(webhooks[:-1]).encode())
    assert [e["line"] for e in out["rejected"]["first_errors"]] == [len(webhooks) + 1]
    assert out["records"]["alert"] == first["records"]["alert"] + entry["records"]
    assert f"(line {len(webhooks):,})" in err


def test_a_log_rotated_while_its_replay_starts_is_read_from_the_file_fingerprinted(
        tmp_path, capsys, monkeypatch):
    """logrotate renames app.log and starts a new one after the replay fingerprinted it and
    before it read it: the replay reads the file it fingerprinted (it holds it open from the
    start), so the lines after the store's offset are read, not the new file's from there."""
    log, rotated = tmp_path / "app.log", tmp_path / "app.log.1"
    store = str(tmp_path / "s.db")
    log.write_text(_lines(0, 100))
    assert replay(capsys, str(log), "--store", store, "--keep-open")[0] == 0
    with open(log, "a") as fh:
        fh.write(_lines(100, 110))
    begin = ReplayedInputs.begin

    def begin_then_rotate(self, specs):
        begin(self, specs)
        log.rename(rotated)
        log.write_text(_lines(110, 120))

    monkeypatch.setattr(ReplayedInputs, "begin", begin_then_rotate)
    code, out, err = replay(capsys, str(log), "--store", store, "--keep-open")
    assert code == 0, err
    assert out["records"]["log"] == 110 and out["inputs"][0]["records"] == 10
    monkeypatch.setattr(ReplayedInputs, "begin", begin)
    code, out, err = replay(capsys, str(log), "--store", store)  # the new app.log, and
    assert code == 0, err                                        # app.log.1 read already
    assert out["records"]["log"] == 120 and out["late_records"] == 0
    assert [(i["path"], i["records"]) for i in out["inputs"]] == [(str(log), 10)]

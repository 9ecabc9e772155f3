"""The aiops command: replay and parse on real files, JSON on stdout, clear errors."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from aiops.cli import main
from tests.conftest import LOGHUB_FORMATS, shared


@pytest.fixture
def scenario(tmp_path):
    d = tmp_path / "scn"
    (d / "logs").mkdir(parents=True)
    (d / "alerts").mkdir()
    (d / "events").mkdir()
    shutil.copy(shared("clients", "alertmanager_webhook_sample.json"), d / "alerts" / "a.json")
    shutil.copy(shared("clients", "alertmanager_webhook_sample_resolved.json"),
                d / "alerts" / "b.json")
    lines = [f'{{"ts":"2026-11-28T17:{m:02d}:{s:02d}Z","level":"INFO","service":"checkout",'
             f'"msg":"order {m * 60 + s} placed in {s + 3} ms"}}'
             for m in range(45, 52) for s in range(0, 60, 5)]
    (d / "logs" / "checkout.jsonl").write_text("\n".join(lines) + "\nnot json at all\n")
    (d / "events" / "deploys.ndjson").write_text(
        '{"ts":"2026-11-28T17:48:00Z","type":"deploy","service":"checkout","version":"2.1"}\n')
    return d


def replay(capsys, *args) -> dict:
    code = main(["replay", *map(str, args), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def test_replay_prints_a_json_summary(scenario, tmp_path, capsys):
    summary = replay(capsys, scenario, "--store", tmp_path / "s.db")
    assert summary["records"] == {"log": 84, "metric": 0, "event": 1, "alert": 4}
    assert summary["rejected"]["count"] == 1
    assert summary["rejected"]["first_errors"][0]["line"] == 85
    assert summary["templates"]["count"] >= 1
    assert summary["alerts"]["notifications"] == 4 and summary["alerts"]["unique"] == 2
    assert len(summary["incidents"]) >= 1
    inc = summary["incidents"][0]
    assert inc["services"] == ["checkout"] and inc["root_cause"]["service"] == "checkout"
    assert summary["kpis"]["raw_signals"] == 89
    assert (tmp_path / "s.db").exists()
    # the replayed files are the input's record: the store keeps results and state, not a
    # second copy of the input in its input log
    from aiops.store import open_store
    store = open_store(tmp_path / "s.db")
    assert store.head_offset() == 0 and store.template_rows()
    store.close()


def test_replay_is_deterministic(scenario, tmp_path, capsys):
    a = replay(capsys, scenario, "--store", tmp_path / "a.db")
    b = replay(capsys, scenario, "--store", tmp_path / "b.db")
    assert a["incidents"] == b["incidents"] and a["templates"] == b["templates"]


def test_parse_prints_records_with_the_given_format(tmp_path, capsys):
    path = shared("loghub_2k", "HDFS", "HDFS_2k.log")
    code = main(["parse", str(path), "--log-format", LOGHUB_FORMATS["HDFS"], "--limit", "3"])
    assert code == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["line"] for r in rows] == [1, 2, 3]
    assert rows[0]["kind"] == "log" and rows[0]["ts"] == "2008-11-09T20:36:15Z"
    assert rows[0]["message"].startswith("PacketResponder 1 for block blk_38865049064139660")
    assert rows[0]["attributes"]["Component"] == "dfs.DataNode$PacketResponder"


def test_parse_strict_reports_line_and_exits_2(tmp_path, capsys):
    f = tmp_path / "bad.log"
    f.write_text("2026-01-01 10:00:00 INFO a: fine\nthis is not a record\n")
    code = main(["parse", str(f), "--log-format", "<Date> <Time> <Level> <Component>: <Content>",
                 "--strict"])
    err = capsys.readouterr().err
    assert code == 2 and "bad.log:2" in err


@pytest.mark.parametrize("workers", [1, 2])
def test_replay_strict_names_the_bad_line_with_and_without_workers(workers, tmp_path, capsys):
    """With --workers the pool reads each batch as it is parsed: an error part way through a
    batch must still stop the replay with the line named, not a worker's traceback."""
    f = tmp_path / "bad.log"
    good = [f"2026-01-01 10:00:{i % 60:02d} INFO a: fine {i}\n" for i in range(3000)]
    f.write_text("".join(good[:2500]) + "this is not a record\n" + "".join(good[2500:]))
    code = main(["replay", str(f), "--log-format", "<Date> <Time> <Level> <Component>: <Content>",
                 "--strict", "--no-progress", "--store", str(tmp_path / "r.db"),
                 "--workers", str(workers)])
    err = capsys.readouterr().err
    assert code == 2 and "bad.log:2501" in err and "Traceback" not in err
    import multiprocessing

    assert multiprocessing.active_children() == []  # the workers were stopped


def test_missing_path_is_a_clear_error(capsys):
    assert main(["replay", "/nonexistent/dir", "--no-progress"]) == 2
    assert "/nonexistent/dir" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["replay", "serve"])
@pytest.mark.parametrize("kind", ["not a database", "under a file"])
def test_a_store_that_cannot_be_opened_is_one_clear_line(command, kind, scenario, tmp_path,
                                                         capsys):
    not_a_store = tmp_path / "notes.txt"
    not_a_store.write_text("meeting notes, not an aiops store\n")
    store = not_a_store if kind == "not a database" else not_a_store / "aiops.db"
    from tests.api.serving import free_port

    args = [str(scenario), "--no-progress"] if command == "replay" else \
        ["--port", str(free_port())]
    assert main([command, *args, "--store", str(store)]) == 2
    err = "".join(capsys.readouterr().err.split())  # rich wraps long paths anywhere
    assert f"error:store{store}:cannotopenit(" in err
    assert "expectedanaiopsstore" in err and "Traceback" not in err
    if kind == "under a file":
        assert f"({not_a_store}isafile,notadirectory)" in err
    assert not_a_store.read_text() == "meeting notes, not an aiops store\n"


def test_a_replay_on_a_full_disk_fails_with_one_line(tmp_path):
    import resource
    import subprocess
    import sys

    def small_disk() -> None:  # a write past 2 MB fails (EFBIG), as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (2_000_000, resource.RLIM_INFINITY))

    store = tmp_path / "full.db"
    root = Path(__file__).resolve().parents[1]  # the sample's store takes ~3.7 MB
    done = subprocess.run([sys.executable, "-m", "aiops", "replay",
                           str(root / "sample_telemetry" / "db-pool-exhaustion"), "--no-progress",
                           "--store", str(store)], capture_output=True, text=True, cwd=root,
                          preexec_fn=small_disk, timeout=300)
    err = " ".join(done.stderr.split())
    assert done.returncode == 1 and done.stdout == ""
    assert err.startswith(f"error: {store} cannot be written (") and "Traceback" not in err, err
    assert "free space" in err


def _stdin(monkeypatch, data: bytes) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_dash_reads_standard_input(monkeypatch, capsys, tmp_path):
    """``kubectl logs pod | aiops templates -``: the records are named "stdin", errors too."""
    lines = (b'{"ts":"2026-11-28T17:00:00Z","service":"api","msg":"GET /a 200 in 5 ms"}\n'
             b'{"ts": oops}\n'
             b'{"ts":"2026-11-28T17:00:01Z","service":"api","msg":"GET /b 200 in 7 ms"}\n')
    _stdin(monkeypatch, lines)
    assert main(["parse", "-"]) == 0
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert [(r["source"], r["line"], r["service"]) for r in records] == \
        [("stdin", 1, "api"), ("stdin", 3, "api")]
    assert "stdin:2" in " ".join(captured.err.split())
    _stdin(monkeypatch, lines)
    assert main(["templates", "-", "--json"]) == 0
    mined = json.loads(capsys.readouterr().out)
    assert [(t["count"], t["template"].split()[0]) for t in mined["templates"]] == [(2, "GET")]
    _stdin(monkeypatch, lines)
    assert main(["replay", "-", "--no-progress", "--store", str(tmp_path / "s.db")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["records"]["log"] == 2
    assert [(i["path"], i["records"], i["rejected"]) for i in summary["inputs"]] == \
        [("stdin", 2, 1)]
    assert main(["replay", "-", "-", "--no-progress", "--store", str(tmp_path / "t.db")]) == 2
    assert "standard input ('-') at most once" in " ".join(capsys.readouterr().err.split())


def test_a_named_pipe_or_process_substitution_is_read_like_standard_input(tmp_path):
    """``aiops replay <(kubectl logs pod)`` passes /dev/fd/N, a pipe: it was taken for a
    directory with no files in it ("expected at least one input file")."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    log = root / "sample_telemetry" / "db-pool-exhaustion" / "logs" / "postgres.log"
    script = (f"{sys.executable} -m aiops replay <(cat {log}) --no-progress "
              f"--store {tmp_path / 's.db'}")
    done = subprocess.run(["bash", "-c", script], capture_output=True, cwd=root, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    summary = json.loads(done.stdout)
    (given,) = summary["inputs"]
    assert given["path"].startswith("/dev/fd/") and given["records"] == 1836
    fifo = tmp_path / "shipped.log"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["bash", "-c", f"cat {log} > {fifo}"])
    done = subprocess.run([sys.executable, "-m", "aiops", "templates", str(fifo), "--json"],
                          capture_output=True, cwd=root, timeout=120)
    writer.wait(timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    assert sum(t["count"] for t in json.loads(done.stdout)["templates"]) == 1836


def test_standard_input_is_spooled_and_the_spool_removed(tmp_path):
    import subprocess
    import sys

    log = Path(__file__).resolve().parents[1] / "sample_telemetry" / "db-pool-exhaustion" / \
        "logs" / "postgres.log"
    done = subprocess.run([sys.executable, "-m", "aiops", "templates", "-", "--top", "3"],
                          input=log.read_bytes(), capture_output=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1],
                          env={**os.environ, "TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert f"mined {sum(1 for _ in log.open())} records" in done.stderr.decode()
    assert list(tmp_path.iterdir()) == []  # the spool went at exit


def test_a_template_state_file_that_is_not_one_is_one_clear_line(tmp_path, capsys):
    log = Path(__file__).resolve().parents[1] / "sample_telemetry" / "db-pool-exhaustion" / \
        "logs" / "postgres.log"
    state = tmp_path / "state.bin"
    state.write_text("a shopping list, not a miner state\n")
    assert main(["templates", str(log), "--state", str(state)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"error: {state}: field 'state': expected a state file written by 'aiops " \
           f"templates --state' (not a template miner state" in err and "Traceback" not in err
    assert state.read_text() == "a shopping list, not a miner state\n"  # left as it was


@pytest.mark.parametrize("port", ["99999", "0", "http"])
def test_serve_checks_its_port(port, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--port", port])
    assert exit_.value.code == 2
    assert f"argument --port: expected a TCP port 1-65535, got '{port}'" in capsys.readouterr().err


def test_serve_on_a_port_in_use_is_one_line_before_anything_starts(tmp_path, capsys):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        store = tmp_path / "never.db"
        assert main(["serve", "--port", str(port), "--store", str(store)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"error: cannot listen on 127.0.0.1:{port} (Address already in use)" in err
    assert "Traceback" not in err and not store.exists()  # no store, no engine process


@pytest.mark.parametrize("args, says", [
    (["parse", "IN", "--limit", "-1"], "argument --limit: expected at least 0, got '-1'"),
    (["replay", "IN", "--speed", "-1"], "argument --speed: expected at least 0, got '-1'"),
    (["replay", "IN", "--speed", "nan"], "argument --speed: expected at least 0, got 'nan'"),
])
def test_negative_counts_and_speeds_are_usage_errors(scenario, capsys, args, says):
    """``--limit -1`` printed one record and ``--speed -1`` replayed at full speed, quietly."""
    with pytest.raises(SystemExit) as exit_:
        main([str(scenario) if a == "IN" else a for a in args])
    assert exit_.value.code == 2 and says in capsys.readouterr().err


def test_detect_and_templates_say_what_is_wrong_with_their_paths(tmp_path, capsys):
    """``aiops detect`` ran unguarded: a binary or missing file was a traceback. A --state
    in a directory that does not exist failed only after mining, naming a temporary file."""
    root = Path(__file__).resolve().parents[1]
    log = root / "sample_telemetry" / "db-pool-exhaustion" / "logs" / "redis.log"
    blob = tmp_path / "image.png"
    blob.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)
    for args, says in ((["detect", "metrics", str(blob)], "expected a text file"),
                       (["detect", "logs", str(tmp_path / "nope.log")],
                        "expected an existing file"),
                       (["detect", "logs", str(log.parent)], "expected a file (give the files"),
                       (["templates", str(log), "--state", str(tmp_path / "no" / "st.bin")],
                        "field 'state': expected a --state path in an existing, writable")):
        assert main(args) == 2, args
        err = " ".join(capsys.readouterr().err.split())
        assert says in err and "Traceback" not in err, err


@pytest.mark.skipif(not hasattr(os, "fork"), reason="sets a child's RLIMIT_NOFILE (POSIX)")
def test_a_directory_of_more_logs_than_the_open_file_limit_is_replayed(tmp_path):
    """Every input stays open while the inputs are merged: 1,200 logs under the usual soft
    limit of 1,024 ended in a "Too many open files" traceback. The soft limit is raised to
    the hard one; past the hard one, one line says how many inputs fit."""
    import resource
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    logs = tmp_path / "logs"
    logs.mkdir()
    for i in range(1200):
        (logs / f"svc{i}.log").write_text(f"2026-03-02 10:{i // 60 % 60:02d}:{i % 60:02d} INFO "
                                          f"worker {i} started\n")

    def limits(soft: int, hard: int):
        return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1400:
        pytest.skip(f"the hard open-file limit here is {hard}")
    cmd = [sys.executable, "-m", "aiops", "replay", str(logs), "--no-progress", "--store"]
    done = subprocess.run(cmd + [str(tmp_path / "a.db")], capture_output=True, cwd=root,
                          preexec_fn=limits(1024, hard), timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    summary = json.loads(done.stdout)
    assert summary["records"]["log"] == 1200 and len(summary["inputs"]) == 1200
    done = subprocess.run(cmd + [str(tmp_path / "b.db")], capture_output=True, cwd=root,
                          preexec_fn=limits(600, 600), timeout=300)
    err = " ".join(done.stderr.decode().split())
    # each input twice: the descriptor a replay pins it by, and the one it reads through
    assert done.returncode == 2 and "expected at most 268 inputs at once" in err, err
    assert "ulimit -n" in err and "got '1,200 inputs'" in err and "Traceback" not in err


def test_more_workers_than_cpus_is_said_once(scenario, tmp_path, capsys, monkeypatch):
    """The engine's process and every worker compete for the cores: past them, --workers
    only adds the pool's own work. Said, not refused (the results are the same)."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert main(["replay", str(scenario), "--workers", "2", "--no-progress",
                 "--store", str(tmp_path / "s.db")]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "aiops: 2 workers on 1 CPU(s): processes beyond the cores add work" in err
    assert main(["replay", str(scenario), "--no-progress", "--store",
                 str(tmp_path / "t.db")]) == 0
    assert "workers on" not in capsys.readouterr().err


def test_serve_checks_its_host_in_the_host_s_address_family(tmp_path, capsys, monkeypatch):
    """``--host ::1`` was tried as an IPv4 address ("Unknown error -9") and blamed on another
    server holding the port; a name that resolves nowhere, or an address not on this machine,
    is said to be that."""
    import socket

    from aiops.cli.serve import _cannot_listen

    monkeypatch.setenv("AIOPS_API_TOKENS", "s3cret-token-1:read,write")  # non-loopback allowed
    store = tmp_path / "never.db"
    assert main(["serve", "--host", "no-such-host.invalid", "--port", "8080",
                 "--store", str(store)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "'no-such-host.invalid' is not an address of this machine" in err and \
        "check --host" in err and "another server" not in err
    assert main(["serve", "--host", "192.0.2.1", "--port", "8080", "--store", str(store)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "cannot listen on 192.0.2.1:8080 (Cannot assign requested address)" in err
    assert "another server" not in err and not store.exists()
    if socket.has_ipv6:
        try:
            probe = socket.create_server(("::1", 0), family=socket.AF_INET6)
        except OSError:
            return  # no IPv6 loopback on this machine: nothing more to check
        port = probe.getsockname()[1]
        with probe:
            assert _cannot_listen("::1", port).endswith(
                "is another server (another aiops serve?) using it? Choose another --port")
        assert _cannot_listen("::1", port) is None  # free again: an IPv6 host is fine


def test_refusing_a_public_host_prints_the_config_section_as_written(capsys, monkeypatch):
    monkeypatch.delenv("AIOPS_API_TOKENS", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "8080"]) == 2
    err = capsys.readouterr().err
    assert "[api] tokens" in " ".join(err.split()) and "\\[" not in err  # was "\\[api]"


@pytest.mark.parametrize("section", ["correlate", "templates", "engine", "detect"])
def test_an_unknown_config_key_is_one_clear_line_naming_its_section(
        section, scenario, tmp_path, capsys, monkeypatch):
    config = tmp_path / "aiops.toml"
    config.write_text(f"[{section}]\nno_such_key = 1\n")
    monkeypatch.chdir(tmp_path)
    assert main(["replay", str(scenario), "--no-progress"]) == 0  # a good run first
    capsys.readouterr()
    from aiops.store import open_store

    def kept() -> int:
        store = open_store(tmp_path / ".aiops" / "replay.db")
        try:
            return len(list(store.documents("alerts", order="id")))
        finally:
            store.close()

    before = kept()
    assert before > 0
    code = main(["replay", str(scenario), "--config", str(config), "--no-progress"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert f"[{section}]" in err and "no_such_key" in err and "Traceback" not in err
    assert kept() == before  # the failed run did not wipe the previous results


def test_output_piped_into_a_reader_that_leaves_is_not_a_traceback(scenario):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "aiops", "parse",
                             str(scenario / "logs" / "checkout.jsonl")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and "Traceback" not in err, err


def test_a_broken_pipe_that_is_not_stdout_s_is_an_error_not_a_quiet_exit(scenario, tmp_path):
    """Only stdout's reader leaving is a quiet exit 0; any other broken pipe (here raised
    by the engine, as a dead worker's once was) must fail the command."""
    import subprocess
    import sys

    code = ("import sys\nfrom aiops.engine import Engine\n"
            "def broken(self, records): raise BrokenPipeError(32, 'Broken pipe')\n"
            "Engine.process = broken\n"
            "from aiops.cli import main\n"
            f"sys.argv = ['aiops', 'replay', {str(scenario)!r}, '--no-progress', "
            f"'--store', {str(tmp_path / 's.db')!r}]\n"
            "sys.exit(main())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 1 and "BrokenPipeError" in proc.stderr, proc.stderr
    assert proc.stdout == ""


def test_replay_into_a_store_another_process_is_processing_is_one_clear_line(
        scenario, tmp_path, capsys, monkeypatch):
    """Held by a live engine elsewhere: the default store is not deleted under it, and an
    explicit one is not processed a second time."""
    import subprocess
    import sys

    monkeypatch.chdir(tmp_path)
    store = tmp_path / ".aiops" / "replay.db"  # the default store, relative to the cwd
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time\nfrom aiops.engine import Engine\n"
         "from aiops.store import open_store\n"
         f"engine = Engine(store=open_store({str(store)!r}))\nprint('ready', flush=True)\n"
         "time.sleep(60)\n"], stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[1])  # where aiops imports from, installed or not
    try:
        assert holder.stdout.readline().strip() == "ready"
        for args in ([], ["--store", store]):
            assert main(["replay", str(scenario), "--no-progress", *map(str, args)]) == 2
            err = " ".join(capsys.readouterr().err.split())
            assert "is being processed by another aiops process" in err
            assert f"pid {holder.pid}" in err
        assert store.exists()
    finally:
        holder.kill()
        holder.wait()
    assert replay(capsys, scenario)["kpis"]["alerts"] > 0  # free again


def test_no_progress_means_no_bar_and_no_refresh_thread(scenario, capsys, monkeypatch):
    # machines read stdout; --no-progress keeps stderr empty, and rich's redraw thread
    # (10 redraws a second of hidden tasks) is not started at all
    import threading

    started: list[str] = []
    start = threading.Thread.start

    def recording_start(thread):
        started.append(thread.name)
        return start(thread)

    monkeypatch.setattr(threading.Thread, "start", recording_start)
    assert main(["replay", str(scenario), "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["records"]["log"] > 0
    assert err == "" and started == []
    assert main(["replay", str(scenario)]) == 0  # the bar is on by default, on stderr only
    out, err = capsys.readouterr()
    assert "replay" in err and json.loads(out)["records"]["log"] > 0

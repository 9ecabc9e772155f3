"""Shared benchmark plumbing: cached simulated scenarios, measured child runs, JSON output.

Every timed replay runs in a fresh child process so its peak memory is its own:
``os.wait4`` returns the child's resource usage (CPU time, ``ru_maxrss`` of the
largest process in its tree), and a sampler adds up the RSS and PSS of the whole
process tree every 0.1 s, which is what matters once ``--workers`` runs several
processes at the same time (forked workers share pages with their parent: the RSS
sum counts them twice, the PSS sum once).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
PYTHON = sys.executable
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
#: summary fields that change from run to run without the results changing
VOLATILE = ("elapsed_s", "records_per_s", "store")


def aiops_cmd(*args: str) -> list[str]:
    return [PYTHON, "-m", "aiops", *args]


def child_env() -> dict[str, str]:
    """The children import ``aiops`` from this checkout, whatever the caller's cwd."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


# -- scenarios ----------------------------------------------------------------------------------
def _simulator_digest() -> str:
    """Source of the simulator: a cached scenario from another version is regenerated."""
    h = hashlib.sha256()
    for f in sorted((ROOT / "aiops" / "simulate").glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def scenario(seed: int = 1, services: int = 30, hours: float = 6.0,
             log_rate: float = 1.05) -> tuple[Path, dict[str, Any]]:
    """A simulated scenario directory under ``benchmarks/out/data``, generated once per parameters.

    Returns the directory and its metadata (``log_lines`` counted in the log inputs).
    """
    key = f"sim-seed{seed}-svc{services}-h{hours:g}-rate{log_rate:g}"
    target = OUT / "data" / key
    meta_path = target / "bench-meta.json"
    digest = _simulator_digest()
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("simulator") == digest:
            return target, meta
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=target.parent))
    started = time.perf_counter()
    try:
        proc = subprocess.run(aiops_cmd("simulate", "--seed", str(seed), "--services",
                                        str(services), "--hours", f"{hours:g}", "--log-rate",
                                        f"{log_rate:g}", "--out", str(tmp)),
                              cwd=ROOT, env=child_env(), capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"aiops simulate failed ({proc.returncode}): {proc.stderr[-2000:]}")
        summary = json.loads(proc.stdout)
        meta = {"key": key, "seed": seed, "services": services, "hours": hours,
                "log_rate": log_rate, "simulator": digest, "log_lines": log_lines(tmp),
                "files": _file_counts(tmp), "faults": summary.get("faults"),
                "generated_s": round(time.perf_counter() - started, 1)}
        (tmp / "bench-meta.json").write_text(json.dumps(meta, indent=2))
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"generated {key}: {meta['log_lines']:,} log lines in {meta['generated_s']}s",
          file=sys.stderr)
    return target, meta


def _inputs(directory: Path):
    sys.path.insert(0, str(ROOT))
    from ingest.scenario import load_inputs

    return load_inputs(directory)[0]


def log_lines(directory: Path) -> int:
    """Non-empty lines in the scenario's log inputs (what "lines" means in lines/s)."""
    total = 0
    for spec in _inputs(directory):
        if spec.kind == "log" or (spec.kind is None and "logs" in spec.path.parts):
            with open(spec.path, "rb") as fh:
                total += sum(1 for line in fh if line.strip())
    return total


def _file_counts(directory: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for spec in _inputs(directory):
        counts[spec.kind or "?"] = counts.get(spec.kind or "?", 0) + 1
    return counts


def merged_records(directory: Path, limit: int | None = None,
                   kind: str | None = None) -> list:
    """The first ``limit`` records of the inputs (of one ``kind``, e.g. "log"), all inputs
    merged in the event-time order the engine sees."""
    import heapq
    from itertools import islice

    from aiops.schema import event_time
    from ingest.errors import lenient
    from ingest.files import read_input

    specs = [s for s in _inputs(directory) if kind is None or s.kind == kind]
    merged = heapq.merge(*(read_input(s, lenient()) for s in specs), key=event_time)
    return list(islice(merged, limit))


def log_messages(directory: Path, limit: int | None = None) -> list[str]:
    """The message (Content) of every log line, in the event-time order the engine sees."""
    return [r.message for r in merged_records(directory, limit, kind="log")]


# -- measured child processes -------------------------------------------------------------------
def _process_tree(root: int) -> list[int]:
    """``root`` and its descendants, from the kernel's per-thread children lists (no scan
    of all of /proc: the sampler runs beside what it measures)."""
    tree, frontier = [root], [root]
    while frontier:
        p = frontier.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{p}/task/{task}/children", "rb") as fh:
                    kids = [int(k) for k in fh.read().split()]
            except (OSError, ValueError):
                continue
            tree.extend(kids)
            frontier.extend(kids)
    return tree


def _rss_kb(pids: list[int]) -> int:
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * _PAGE_KB
        except (OSError, ValueError, IndexError):
            continue
    return total


def _pss_kb(pids: list[int]) -> int:
    """Summed PSS: shared pages split between the processes sharing them (a forked
    worker's pages shared with its parent count once in all, where RSS counts them in
    each). The kernel walks every page of each process for it: ~5 ms of CPU per process
    of a few hundred MB, hence sampled less often than RSS."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup", "rb") as fh:
                for line in fh:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1])
                        break
        except (OSError, ValueError):
            continue
    return total


class _Sampler(threading.Thread):
    """Peak RSS (every ``every`` s) and PSS (every ``pss_every`` s) of a process tree.

    It shares the machine with what it measures: on 2 cores a ``--workers 2`` replay keeps
    both busy, so the sampler's CPU is taken from the replay (the one-process replay leaves
    a core free). Scanning all of /proc and reading PSS every 0.1 s took ~10 % of a core
    and made the ``--workers 2`` replay ~5 % slower (13.25-13.45 s against 12.63-12.84 s
    under ``/usr/bin/time``, alternating); the tree now comes from the children lists, RSS
    from ``statm``, PSS once a second. ``cpu_s``: what sampling cost, reported."""

    def __init__(self, pid: int, every: float = 0.1, pss_every: float = 1.0):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak_kb, self.peak_pss_kb = pid, every, 0, 0
        self.pss_every = pss_every
        self.cpu_s = 0.0
        self._halt = threading.Event()

    def run(self) -> None:
        started = time.thread_time()
        next_pss = 0.0
        while not self._halt.is_set():
            tree = _process_tree(self.pid)
            self.peak_kb = max(self.peak_kb, _rss_kb(tree))
            if time.monotonic() >= next_pss:
                self.peak_pss_kb = max(self.peak_pss_kb, _pss_kb(tree))
                next_pss = time.monotonic() + self.pss_every
            self.cpu_s = time.thread_time() - started
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def run_measured(cmd: list[str], cwd: Path = ROOT, timeout: float | None = None) -> dict[str, Any]:
    """Run ``cmd`` to completion; wall and CPU seconds, peak RSS, exit code and output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=child_env(), stdout=out, stderr=err)
        sampler = _Sampler(proc.pid)
        sampler.start()
        deadline = None if timeout is None else started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG if deadline else 0)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                deadline = None
            time.sleep(0.05)
        wall = time.perf_counter() - started
        sampler.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    return {"rc": proc.returncode, "wall_s": round(wall, 2),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "user_s": round(usage.ru_utime, 2), "sys_s": round(usage.ru_stime, 2),
            "max_process_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "peak_tree_rss_mb": round(max(sampler.peak_kb, usage.ru_maxrss) / 1024, 1),
            "peak_tree_pss_mb": round(sampler.peak_pss_kb / 1024, 1),
            "sampler_cpu_s": round(sampler.cpu_s, 2),
            "stdout": stdout, "stderr": stderr}


def replay(directory: Path, workers: int | None = None,
           timeout: float | None = None) -> dict[str, Any]:
    """Time ``aiops replay DIR --no-progress`` into a fresh store; the child's summary too."""
    with tempfile.TemporaryDirectory(prefix="aiops-bench-") as tmp:
        cmd = aiops_cmd("replay", str(directory), "--no-progress", "--store",
                        str(Path(tmp) / "replay.db"))
        if workers is not None:
            cmd += ["--workers", str(workers)]
        run = run_measured(cmd, timeout=timeout)
    run["cmd"] = " ".join(["python", "-m", "aiops", *cmd[3:]])
    stdout = run.pop("stdout")
    stderr = run.pop("stderr")
    run["summary"] = None
    if run["rc"] == 0:
        try:
            run["summary"] = json.loads(stdout)
        except ValueError:
            run["rc"] = -1
    if run["rc"] != 0:
        run["error"] = stderr.strip()[-1500:]
    return run


def comparable(summary: dict[str, Any]) -> dict[str, Any]:
    """What two replays of the same input must agree on (timings and store path left out)."""
    return {k: v for k, v in summary.items() if k not in VOLATILE}


def write_json(path: str | os.PathLike, obj: Any) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(obj, indent=2, default=str) + "\n")


def ratio(a: float | None, b: float | None, digits: int = 2) -> float | None:
    return round(a / b, digits) if a and b else None

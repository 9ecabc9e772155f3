"""Where a command's CPU goes, per process, and when the machine's cores sat idle during it.

    python benchmarks/process_cpu.py [--every 0.05] [--json FILE] -- \
        python -m aiops replay DIR --workers 2 --no-progress

What measured the ``--workers`` pool (README, "Stop 21"): each process of the command's tree
(the engine, its workers) with the CPU seconds it used, read from ``/proc/PID/stat`` while it
runs (a process's last reading before it exits), and the machine's idle core-seconds per
second of wall time from ``/proc/stat``: a pool whose processes wait on each other shows idle
cores where one process works alone (start-up, the final checkpoint). Linux only; the idle
figures count the whole machine, so run it on a quiet one.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_s(pid: int) -> tuple[str, float] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            head, _, rest = fh.read().rpartition(b")")
    except OSError:
        return None
    fields = rest.split()
    name = head.partition(b"(")[2].decode(errors="replace")
    return name, (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def _idle_s() -> float:
    with open("/proc/stat") as fh:
        parts = fh.readline().split()
    return (int(parts[4]) + int(parts[5])) / _TICK  # idle + iowait, all cores


def measure(cmd: list[str], every: float = 0.05) -> dict:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    cpu: dict[int, tuple[str, float]] = {}
    idle: list[float] = []
    last_idle, next_idle = _idle_s(), started + 1.0
    while proc.poll() is None:
        for pid in common._process_tree(proc.pid):
            reading = _cpu_s(pid)
            if reading is not None:
                cpu[pid] = reading
        now = time.perf_counter()
        if now >= next_idle:
            current = _idle_s()
            idle.append(round(current - last_idle, 2))
            last_idle, next_idle = current, next_idle + 1.0
        time.sleep(every)
    wall = time.perf_counter() - started
    idle.append(round(_idle_s() - last_idle, 2))
    processes = [{"pid": pid, "name": name, "cpu_s": round(s, 2)}
                 for pid, (name, s) in sorted(cpu.items())]
    return {"cmd": " ".join(cmd), "rc": proc.returncode, "wall_s": round(wall, 2),
            "cpu_s": round(sum(p["cpu_s"] for p in processes), 2), "processes": processes,
            "idle_core_s_per_s": idle, "idle_core_s": round(sum(idle), 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--every", type=float, default=0.05, help="seconds between readings")
    ap.add_argument("--json", metavar="FILE", help="also write the result as JSON")
    ap.add_argument("cmd", nargs=argparse.REMAINDER, help="the command, after --")
    args = ap.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("give the command to measure after --")
    result = measure(cmd, args.every)
    print(f"wall {result['wall_s']} s, CPU {result['cpu_s']} s (exit code {result['rc']})")
    for p in result["processes"]:
        print(f"  pid {p['pid']:>7}  {p['cpu_s']:>7.2f} s  {p['name']}")
    print(f"idle cores: {result['idle_core_s']} core-s in all; per second: "
          + " ".join(f"{x:g}" for x in result["idle_core_s_per_s"]))
    if args.json:
        common.write_json(args.json, result)
    return 0 if result["rc"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

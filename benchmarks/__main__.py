"""Run every performance benchmark; write JSON results and a markdown table.

    python -m benchmarks [--quick] [--only NAME ...] [--out benchmarks/out]

Each benchmark is its own script, run here as a child (``sys.executable``) with
``--json``, so a crash in one is reported and the rest still run. ``--quick``
(under 5 minutes on a 2-core machine) uses smaller sizes; without it the sizes
of the performance issue (1M-line replay, 250k/500k/1M scaling, 20 s API phases,
1M-line template mining). Writes ``OUT/<name>.json`` and ``OUT/<name>.log`` per
benchmark, ``OUT/results.json`` and ``OUT/results.md``, and prints the table.
Targets are shown as floors next to the figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import common  # noqa: E402

#: name -> (quick arguments, full arguments, timeout quick, timeout full)
PLAN: dict[str, tuple[list[str], list[str], float, float]] = {
    # three alternating runs of each replay: the machine's speed drifts within minutes
    "replay_throughput": (["--hours", "1.5", "--drain3-lines", "50000", "--repeat", "3"],
                          ["--hours", "6", "--drain3-lines", "200000", "--repeat", "3"],
                          240, 2400),
    # quick: 8 services instead of 30 for ~66k/135k/269k lines; same hours as the full run, as
    # aiops simulate gives scenarios of 1 h or less shorter detector warm-ups (another workload)
    "scaling": (["--services", "8", "--hours", "1.5", "3", "6"], ["--hours", "1.5", "3", "6"],
                150, 1800),
    # the same floor with the system growing instead of the time span: every size has the
    # same warm-ups and share of scoring (8/15/30 services; quick: over 3 h, full: 6 h)
    "scaling_by_services": (["--hours", "3", "--services", "8", "15", "30"],
                            ["--hours", "6", "--services", "8", "15", "30"], 150, 1800),
    "api_load": (["--duration", "10", "--warmup", "2", "--max-drain", "30"], [], 150, 900),
    "template_throughput": (["--lines", "200000"], ["--lines", "1000000"], 120, 900),
}


#: benchmarks that run another one's script with other arguments
SCRIPTS = {"scaling_by_services": "scaling"}


def run_one(name: str, args: list[str], timeout: float, out: Path) -> dict:
    json_path = out / f"{name}.json"
    json_path.unlink(missing_ok=True)
    script = SCRIPTS.get(name, name)
    cmd = [sys.executable, str(HERE / f"{script}.py"), *args, "--json", str(json_path)]
    started = time.perf_counter()
    print(f"== {name}: {' '.join(['python', f'benchmarks/{script}.py', *args])}", flush=True)
    try:
        proc = subprocess.run(cmd, cwd=common.ROOT, env=common.child_env(), capture_output=True,
                              text=True, timeout=timeout)
        rc, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc = "timeout"
        stdout = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr or ""
    seconds = round(time.perf_counter() - started, 1)
    (out / f"{name}.log").write_text(f"$ {' '.join(cmd)}\n--- stdout\n{stdout}\n--- stderr\n{stderr}")
    result = None
    if json_path.exists():
        try:
            result = json.loads(json_path.read_text())
        except ValueError:
            pass
    status = "ok" if rc == 0 and result is not None else f"failed ({rc})"
    if not stdout.lstrip().startswith("{"):  # api_load prints its JSON: it is in the table
        print(stdout.rstrip())
    print(f"== {name}: {status} in {seconds} s (log: {out / (name + '.log')})\n", flush=True)
    entry = {"status": status, "seconds": seconds, "args": args, "result": result}
    if status != "ok":
        entry["error_tail"] = stderr.strip()[-2000:]
    return entry


# -- table rows for the two scripts that do not produce their own ---------------------------------
def template_rows(r: dict) -> list[dict]:
    rows = []
    for m in r["results"]:
        rows.append({"measure": f"{m['miner']} ({r['lines']:,} synthetic lines): lines/CPU s, GA",
                     "value": f"{m['lines_per_second']:,}, {m['grouping_accuracy']}"})
    aiops = next((m for m in r["results"] if m["miner"] == "aiops"), None)
    if aiops:
        rows.append({"measure": "aiops miner ÷ drain3 + masks", "value":
                     aiops["speedup_vs_drain3_masks"]})
    return rows


def api_rows(r: dict) -> list[dict]:
    t = r.get("targets", {})
    top, half, single = r["max"], r["half"], r["single"]
    floor_ev = t.get("processed_events_per_s", 75_000)
    rows = [
        {"measure": f"max, {top['clients']} clients: accepted / processed events/s",
         "value": f"{top['accepted_events_per_s']:,} / {top['processed_events_per_s']:,}",
         "floor": f"processed >= {floor_ev:,}",
         "meets": top["processed_events_per_s"] >= floor_ev},
        {"measure": f"max, {top['clients']} clients: p50 / p95 / p99 ms",
         "value": f"{top['p50_ms']} / {top['p95_ms']} / {top['p99_ms']}"},
        {"measure": f"50% of max ({half['target_requests_per_s']} req/s), {half['clients']} "
                    f"clients: p50 / p95 / p99 ms",
         "value": f"{half['p50_ms']} / {half['p95_ms']} / {half['p99_ms']}",
         "floor": f"p99 <= {t.get('p99_ms_4_clients', 60)}",
         "meets": half["p99_ms"] <= t.get("p99_ms_4_clients", 60)},
        {"measure": "same rate, 1 client: p50 / p95 / p99 ms",
         "value": f"{single['p50_ms']} / {single['p95_ms']} / {single['p99_ms']}",
         "floor": f"p99 <= {t.get('p99_ms_single', 25)}",
         "meets": single["p99_ms"] <= t.get("p99_ms_single", 25)},
        {"measure": "server RSS MB (end of max phase)", "value": top["server_rss_mb"][-1]},
    ]
    reads = r.get("reads") or {}
    timed = {p: v["median_ms"] for p, v in reads.items() if "max_ms" in v}
    if timed:
        worst = max(timed, key=timed.get)
        rows.append({"measure": f"reads over 100k alerts / 5k incidents: slowest median ms "
                                f"({worst})", "value": timed[worst],
                     "floor": f"<= {t.get('reads_ms', 100)}",
                     "meets": timed[worst] <= t.get("reads_ms", 100)})
    for p, v in reads.items():
        if "items" in v:
            rows.append({"measure": f"GET {p} ({v['items']:,} items) ms", "value": v["median_ms"]})
    return rows


def rows_of(name: str, result: dict) -> list[dict]:
    if name == "template_throughput":
        return template_rows(result)
    if name == "api_load":
        return api_rows(result)
    return result.get("table", [])


def markdown(entries: dict, header: str) -> str:
    lines = [header, "", "| benchmark | measure | value | floor | meets |",
             "|---|---|---|---|---|"]
    for name, entry in entries.items():
        if entry["status"] != "ok":
            lines.append(f"| {name} | **{entry['status']}** (see {name}.log) | | | |")
            continue
        try:
            rows = rows_of(name, entry["result"])
        except (KeyError, TypeError, ValueError) as exc:
            rows = [{"measure": f"could not tabulate: {exc!r}", "value": ""}]
        for row in rows:
            value = row["value"]
            if isinstance(value, bool):
                value = str(value).lower()
            elif isinstance(value, int):
                value = f"{value:,}"
            meets = row.get("meets")
            mark = "" if meets is None else ("yes" if meets else "**no**")
            lines.append(f"| {name} | {row['measure']} | {value} | {row.get('floor', '')} | {mark} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: all in under 5 minutes")
    ap.add_argument("--only", nargs="+", choices=sorted(PLAN), metavar="NAME",
                    help=f"run only these ({', '.join(PLAN)})")
    ap.add_argument("--out", default=str(common.OUT), help="results directory")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    entries = {}
    for name in args.only or PLAN:
        quick, full, t_quick, t_full = PLAN[name]
        entries[name] = run_one(name, quick if args.quick else full,
                                t_quick if args.quick else t_full, out)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    total = round(time.perf_counter() - started, 1)
    header = (f"**{'Quick' if args.quick else 'Full'} run, {when}** ({machine}; "
              f"{total} s in all)")
    table = markdown(entries, header)
    (out / "results.md").write_text(table)
    common.write_json(out / "results.json", {"mode": "quick" if args.quick else "full",
                                             "date": when, "machine": machine,
                                             "seconds": total, "benchmarks": entries})
    print(table)
    print(f"wrote {out / 'results.json'} and {out / 'results.md'}")
    return 0 if all(e["status"] == "ok" for e in entries.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

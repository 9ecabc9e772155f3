"""Replay time and peak memory at 250k, 500k and 1M log lines: does cost grow linearly?

    python benchmarks/scaling.py [--hours 1.5 3 6] [--services 30] [--workers N] [--json FILE]
    python benchmarks/scaling.py --hours 6 --services 8 15 30

Each size is ``aiops simulate --seed 1 --services 30 --log-rate 1.05 --hours H``
(1.5 h ~ 250k, 3 h ~ 500k, 6 h ~ 1M log lines; the actual counts are reported),
cached under ``benchmarks/out/data/``, and replayed end to end by a fresh
``aiops replay DIR --no-progress`` child: wall and CPU seconds, peak RSS.

Between consecutive sizes: the ratio of lines, of time (wall and CPU) and of time
per line. The target, 2x lines -> <= 2.1x time, is checked on CPU time scaled to
exactly 2x lines (``2 * per-line ratio`` for a 2x step): CPU time is what the replay itself
spent, wall time also counts whatever else the machine was doing. Not asserted.

Sizes are best all longer than 1 h: ``aiops simulate`` gives a scenario of an hour
or less shorter detector warm-ups (so its detector alerts show), which is another
workload. Smaller sizes at the same hours: fewer ``--services`` (8 services:
~66k / 135k / 269k lines). Within the defaults, the metric detector starts scoring
after 750 points of a series (~3 h), so longer replays also do more per line.

Growing the system instead of the time span (``--hours 6 --services 8 15 30``)
keeps that mix the same at every size: each size has the same warm-ups and the
same share of scoring; only the volume (sources, series, lines) grows.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

FLOOR_2X = 2.1


def at_2x(per_line: float, lines: float) -> float:
    """Time ratio for exactly 2x lines, if per-line cost grows as a power of size.

    A step of ~2x lines gives ``2 * per_line``; a 4x step counts its per-line growth
    as two doublings, not one.
    """
    return 2 * per_line ** (math.log(2) / math.log(lines))


def step(a: dict, b: dict) -> dict:
    """How ``b`` compares with the smaller run ``a``."""
    lines = b["log_lines"] / a["log_lines"]
    out = {"from": a["log_lines"], "to": b["log_lines"], "lines_ratio": round(lines, 3)}
    for clock in ("wall", "cpu"):
        t = b[f"{clock}_s"] / a[f"{clock}_s"]
        out[f"{clock}_ratio"] = round(t, 3)
        out[f"{clock}_per_line_ratio"] = round(t / lines, 3)
        out[f"{clock}_ratio_at_2x_lines"] = round(at_2x(t / lines, lines), 3)
    out["rss_ratio"] = round(b["peak_tree_rss_mb"] / a["peak_tree_rss_mb"], 3)
    out["meets"] = out["cpu_ratio_at_2x_lines"] <= FLOOR_2X
    return out


def startup(workers: int | None) -> dict:
    """The fixed cost every replay pays (imports, store set-up): one log line, replayed."""
    with tempfile.TemporaryDirectory(prefix="aiops-bench-") as tmp:
        log = Path(tmp) / "one.log"
        log.write_text('{"ts": "2026-03-02T10:00:00Z", "service": "a", "level": "info", '
                       '"message": "started"}\n')
        run = common.replay(log, workers=workers)
    run.pop("summary", None)
    return run


def table(result: dict) -> list[dict]:
    rows = []
    for run in result["sizes"]:
        if run["rc"]:
            rows.append({"measure": f"replay {run['hours']:g} h, {run['services']} services: failed",
                         "value": run["rc"]})
            continue
        rows.append({"measure": f"replay {run['log_lines']:,} lines: wall / CPU s, peak RSS MB",
                     "value": f"{run['wall_s']} / {run['cpu_s']}, {run['peak_tree_rss_mb']}"})
    for s in result["steps"]:
        rows.append({"measure": f"{s['from']:,} → {s['to']:,} lines ({s['lines_ratio']}x): "
                                f"time ratio wall / CPU",
                     "value": f"{s['wall_ratio']} / {s['cpu_ratio']}"})
        rows.append({"measure": "  same, CPU time scaled to 2x lines",
                     "value": s["cpu_ratio_at_2x_lines"], "floor": f"<= {FLOOR_2X}",
                     "meets": s["meets"]})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=float, nargs="+", default=[1.5, 3.0, 6.0],
                    help="simulated hours per size (1.5 h ~ 250k lines at the defaults)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--services", type=int, nargs="+", default=[30],
                    help="simulated services per size (give several with one --hours value)")
    ap.add_argument("--log-rate", type=float, default=1.05)
    ap.add_argument("--workers", type=int, default=None,
                    help="pass --workers N to aiops replay (default: not passed)")
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON too")
    args = ap.parse_args(argv)
    if len(args.hours) > 1 and len(args.services) > 1:
        ap.error("vary either --hours or --services, not both")

    if min(args.hours) <= 1 < max(args.hours):
        print("note: scenarios of 1 h or less get shorter detector warm-ups from aiops simulate; "
              "their cost per line is not comparable with longer ones", file=sys.stderr)
    fixed = startup(args.workers)
    print(f"  fixed cost (replay of one log line): {fixed['wall_s']} s wall, {fixed['cpu_s']} s CPU, "
          f"{fixed['peak_tree_rss_mb']} MB", file=sys.stderr)
    sizes = []
    for hours, services in sorted((h, s) for h in args.hours for s in args.services):
        directory, meta = common.scenario(args.seed, services, hours, args.log_rate)
        run = common.replay(directory, workers=args.workers)
        summary = run.pop("summary") or {}
        run.update(hours=hours, services=services, log_lines=meta["log_lines"],
                   records=sum(summary.get("records", {}).values()),
                   incidents=len(summary.get("incidents", [])))
        if not run["rc"]:
            run["lines_per_s"] = round(run["log_lines"] / run["wall_s"])
        sizes.append(run)
        print(f"  {hours:g} h, {services} services, {meta['log_lines']:,} lines: rc {run['rc']}, "
              f"{run['wall_s']} s wall, {run['cpu_s']} s CPU, {run['peak_tree_rss_mb']} MB", file=sys.stderr)
    ok = []
    for r in sizes:  # a size that is no larger (the simulator has a minimum system) is no step
        if not r["rc"] and (not ok or r["log_lines"] > ok[-1]["log_lines"]):
            ok.append(r)
    steps = [step(a, b) for a, b in zip(ok, ok[1:])]
    if len(ok) > 2:
        steps.append(step(ok[0], ok[-1]))
    for s in steps:  # the same ratios without the fixed start-up cost
        a = next(r for r in ok if r["log_lines"] == s["from"])
        b = next(r for r in ok if r["log_lines"] == s["to"])
        net = (b["cpu_s"] - fixed["cpu_s"]) / max(a["cpu_s"] - fixed["cpu_s"], 1e-9)
        s["cpu_net_of_startup_ratio_at_2x_lines"] = round(
            at_2x(net / s["lines_ratio"], s["lines_ratio"]), 3)
    result = {"startup": fixed, "sizes": sizes, "steps": steps, "floor_time_ratio_at_2x_lines": FLOOR_2X,
              "workers": args.workers}
    result["table"] = table(result)

    print(f"{'log lines':>10} {'records':>10} {'wall s':>7} {'CPU s':>7} {'lines/s':>8} "
          f"{'RSS MB':>7} {'PSS MB':>7}")
    for r in sizes:
        if r["rc"]:
            print(f"{r['log_lines']:>10,} failed (exit {r['rc']}): {r.get('error', '')[-300:]}")
            continue
        print(f"{r['log_lines']:>10,} {r['records']:>10,} {r['wall_s']:>7} {r['cpu_s']:>7} "
              f"{r['lines_per_s']:>8,} {r['peak_tree_rss_mb']:>7} {r['peak_tree_pss_mb']:>7}")
    print(f"\n{'step':>22} {'lines':>6} {'wall':>6} {'CPU':>6} {'CPU/line':>9} "
          f"{'CPU@2x':>7} {'floor':>6} {'RSS':>6}")
    for s in steps:
        print(f"{s['from']:>10,}->{s['to']:>10,} {s['lines_ratio']:>6} {s['wall_ratio']:>6} "
              f"{s['cpu_ratio']:>6} {s['cpu_per_line_ratio']:>9} {s['cpu_ratio_at_2x_lines']:>7} "
              f"{'<= 2.1':>6} {s['rss_ratio']:>6}")
    print(f"fixed start-up cost: {fixed['wall_s']} s wall, {fixed['cpu_s']} s CPU, "
          f"{fixed['peak_tree_rss_mb']} MB; CPU@2x without it: "
          + ", ".join(str(s["cpu_net_of_startup_ratio_at_2x_lines"]) for s in steps))
    if args.json:
        common.write_json(args.json, result)
    return 0 if len(ok) == len(sizes) else 1


if __name__ == "__main__":
    sys.exit(main())

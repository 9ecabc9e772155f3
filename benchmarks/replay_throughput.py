"""End-to-end replay throughput vs plain drain3, on the same ~1M simulated log lines.

    python benchmarks/replay_throughput.py [--hours 6] [--drain3-lines N] [--workers N]
                                           [--repeat N] [--json FILE]

The input is ``aiops simulate --seed 1 --services 30 --hours 6 --log-rate 1.05``
(~960k log lines in a dozen formats, plus metrics, change events and alerts in
proportion), generated once into ``benchmarks/out/data/`` and reused.

* ``aiops replay DIR --no-progress`` runs end to end (parse -> templates -> detect ->
  correlate -> store) in a fresh child process per measurement: wall time, the child's
  CPU time (user + sys) and peak RSS. Lines = log lines in the inputs.
* With ``--workers 1`` and ``--workers 2`` (the default runs both) the two replays must
  find the same incidents, alerts and KPIs; the speedup is the ratio of their rates.
* ``--repeat N`` runs the replays N times, the configurations alternating (1, 2, 1, 2...):
  the machine this was built on drifts by tens of percent within minutes, so one run of
  each can land in different conditions. The median run of each configuration is
  reported, the speedup is the median of the N back-to-back pairs' ratios, peak RSS is
  the highest of all N runs, and every run must find the same results.
* Plain drain3 0.9.x ``TemplateMiner.add_log_message`` gets the message (Content) of the
  same log lines in the same event-time order, parsed beforehand (parsing is not timed),
  once with aiops' masking set (the same named-mask instructions ``template_throughput.py``
  builds) and once with drain3's default config; CPU time in this process, so other load
  on the machine does not favour either side. ``--drain3-lines N`` times it on the first
  N messages only (its rate per tenth of them is printed: it is steady).

The ratios compare aiops' wall-clock rate (what a user waits for, everything included)
with drain3's CPU-time rate (its best case). Targets are printed as floors, never asserted.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

FLOORS = {"e2e_vs_drain3_masks": 2.5, "workers2_speedup": 1.6, "peak_rss_mb": 300}


def replay_run(directory: Path, workers: int, lines: int) -> dict:
    """One measured replay; ``--workers`` unknown to this aiops -> marked unavailable."""
    run = common.replay(directory, workers=workers)
    if run["rc"] == 2 and "--workers" in run.get("error", ""):
        if workers != 1:
            return {"workers": workers, "available": False, "error": run["error"]}
        run = common.replay(directory)  # the single-process replay, without the flag
        run["workers_flag"] = False
    run["workers"] = workers
    run["available"] = run["rc"] == 0
    if run["available"]:
        run["lines_per_s"] = round(lines / run["wall_s"])
        run["lines_per_cpu_s"] = round(lines / run["cpu_s"]) if run["cpu_s"] else None
        summary = run["summary"]
        run["records"] = sum(summary["records"].values())
        run["incidents"] = len(summary["incidents"])
        run["alerts"] = summary["alerts"]
        run["templates"] = summary["templates"]["count"]
    return run


def representative(group: list[dict]) -> dict:
    """The median run by wall time (the lower middle of an even count), with every repeat's
    wall time and the highest peak RSS of them all (the memory floor is about the worst)."""
    ok = [r for r in group if r.get("available")]
    if not ok:
        return group[0]
    run = dict(sorted(ok, key=lambda r: r["wall_s"])[(len(ok) - 1) // 2])
    if len(group) > 1:
        run["repeats"] = len(group)
        run["wall_s_all"] = [r.get("wall_s") for r in group]
        run["peak_tree_rss_mb_all"] = [r.get("peak_tree_rss_mb") for r in group]
        run["peak_tree_rss_mb"] = max(r["peak_tree_rss_mb"] for r in ok)
    return run


def same_results(a: dict, b: dict) -> dict:
    """Incidents, alerts and KPIs must match; the rest of the summary is reported too."""
    keys = ("incidents", "alerts", "kpis")
    core = all(a.get(k) == b.get(k) for k in keys)
    ca, cb = common.comparable(a), common.comparable(b)
    differ = sorted(k for k in set(ca) | set(cb) if ca.get(k) != cb.get(k))
    return {"identical": core, "compared": list(keys), "other_fields_differing": differ}


class ChunkClock:
    """Iterates over ``items`` noting the CPU clock every ``every`` items.

    ``run_drain3`` only iterates over its lines, so handing it this shows whether
    drain3's per-line cost stays flat as its clusters accumulate.
    """

    def __init__(self, items: list[str], chunks: int = 10):
        self.items, self.every = items, max(1, len(items) // chunks)
        self.marks: list[tuple[int, float]] = []

    def __iter__(self):
        clock, every, marks = time.process_time, self.every, self.marks
        marks.append((0, clock()))
        for i, item in enumerate(self.items, 1):
            yield item
            if i % every == 0:
                marks.append((i, clock()))

    def rates(self) -> list[int]:
        return [round((b[0] - a[0]) / (b[1] - a[1])) for a, b in zip(self.marks, self.marks[1:])
                if b[1] > a[1]]


def time_drain3(directory: Path, limit: int | None) -> dict:
    from template_throughput import run_aiops, run_drain3

    messages = common.log_messages(directory, limit)
    out = {"lines": len(messages), "rows": []}
    clock = ChunkClock(messages)
    for name, runner in (("drain3 + masks", lambda: run_drain3(clock, masks=True)),
                         ("drain3 default", lambda: run_drain3(messages, masks=False)),
                         ("aiops TemplateMiner", lambda: run_aiops(messages))):
        seconds, _, extra = runner()
        found = extra if isinstance(extra, int) else len(extra.templates())
        row = {"miner": name, "cpu_s": round(seconds, 2),
               "lines_per_cpu_s": round(len(messages) / seconds), "templates": found}
        if name == "drain3 + masks":
            row["rate_per_tenth"] = clock.rates()
        out["rows"].append(row)
        print(f"  {name}: {len(messages):,} lines in {seconds:.1f} s CPU, {found} templates",
              file=sys.stderr)
    return out


def table(result: dict) -> list[dict]:
    """Rows for the combined markdown table (``python -m benchmarks``)."""
    rows = []
    w1 = result["replays"].get("1") or {}
    lines = result["log_lines"]
    if w1.get("available"):
        rows.append({"measure": f"replay {lines:,} lines, 1 process: lines/s (wall)",
                     "value": w1["lines_per_s"]})
        rows.append({"measure": "replay, 1 process: wall / CPU s"
                                + (f" (median of {w1['repeats']} runs: "
                                   f"{', '.join(map(str, w1['wall_s_all']))} s)"
                                   if w1.get("repeats") else ""),
                     "value": f"{w1['wall_s']} / {w1['cpu_s']}"})
        rows.append({"measure": "replay, 1 process: peak RSS MB", "value": w1["peak_tree_rss_mb"],
                     "floor": f"<= {FLOORS['peak_rss_mb']}",
                     "meets": w1["peak_tree_rss_mb"] <= FLOORS["peak_rss_mb"]})
    d3 = {r["miner"]: r for r in result["drain3"]["rows"]}
    n = result["drain3"]["lines"]
    for miner in ("drain3 + masks", "drain3 default", "aiops TemplateMiner"):
        rows.append({"measure": f"{miner} alone ({n:,} lines): lines/CPU s",
                     "value": d3[miner]["lines_per_cpu_s"]})
    trend = d3["drain3 + masks"].get("rate_per_tenth") or []
    if len(trend) > 1:
        rows.append({"measure": "drain3 + masks: lines/CPU s, first → last tenth",
                     "value": f"{trend[0]:,} → {trend[-1]:,}"})
    r = result["ratios"]
    rows.append({"measure": "replay e2e ÷ drain3 + masks (replay wall; by replay CPU: "
                            f"{r['e2e_cpu_vs_drain3_masks']})", "value": r["e2e_vs_drain3_masks"],
                 "floor": f">= {FLOORS['e2e_vs_drain3_masks']}",
                 "meets": (r["e2e_vs_drain3_masks"] or 0) >= FLOORS["e2e_vs_drain3_masks"]})
    rows.append({"measure": "replay e2e ÷ drain3 default (replay wall; by replay CPU: "
                            f"{r['e2e_cpu_vs_drain3_default']})", "value": r["e2e_vs_drain3_default"]})
    for w, run in sorted(result["replays"].items()):
        if w == "1":
            continue
        if not run.get("available"):
            rows.append({"measure": f"replay --workers {w}", "value": "unavailable"})
            continue
        rows.append({"measure": f"replay --workers {w}: lines/s (wall), wall / CPU s, "
                                f"peak RSS / PSS MB (process tree)",
                     "value": f"{run['lines_per_s']:,}, {run['wall_s']} / {run['cpu_s']}, "
                              f"{run['peak_tree_rss_mb']} / {run['peak_tree_pss_mb']}"})
        comp = result["workers"][w]
        each = comp.get("speedup_per_repeat") or []
        rows.append({"measure": f"--workers {w} speedup over 1"
                                + (f" (median of {len(each)} back-to-back pairs: "
                                   f"{', '.join(map(str, each))})" if len(each) > 1 else ""),
                     "value": comp["speedup"],
                     "floor": f">= {FLOORS['workers2_speedup']}",
                     "meets": (comp["speedup"] or 0) >= FLOORS["workers2_speedup"]})
        rows.append({"measure": f"replay --workers {w} e2e ÷ drain3 + masks (the floor above "
                                "is judged on one process)", "value": comp["e2e_vs_drain3_masks"]})
        rows.append({"measure": f"--workers {w}: same incidents/alerts/KPIs as 1",
                     "value": comp["identical"], "floor": "true", "meets": comp["identical"]})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--services", type=int, default=30)
    ap.add_argument("--hours", type=float, default=6.0, help="event time simulated (6 h ~ 1M lines)")
    ap.add_argument("--log-rate", type=float, default=1.05)
    ap.add_argument("--drain3-lines", type=int, default=None, metavar="N",
                    help="time drain3 on the first N messages only (default: all)")
    ap.add_argument("--workers", type=int, action="append", metavar="N",
                    help="aiops replay --workers N (repeatable; default: 1 and 2)")
    ap.add_argument("--repeat", type=int, default=1, metavar="N",
                    help="run the replays N times, alternating configurations; report the "
                         "median run and the median of the back-to-back speedups")
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON too")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    logging.disable(logging.INFO)
    workers = sorted(set(args.workers or [1, 2]) | {1})

    directory, meta = common.scenario(args.seed, args.services, args.hours, args.log_rate)
    lines = meta["log_lines"]
    print(f"input: {directory} ({lines:,} log lines, {meta['files']})", file=sys.stderr)
    runs: dict[str, list[dict]] = {str(w): [] for w in workers}
    for rep in range(args.repeat):  # alternating, so drift hits every configuration alike
        for w in workers:
            runs[str(w)].append(run := replay_run(directory, w, lines))
            state = (f"{run['wall_s']} s wall, {run['cpu_s']} s CPU, {run['peak_tree_rss_mb']} MB"
                     if run.get("available") else f"unavailable: {run.get('error', '')[-200:]}")
            print(f"  replay --workers {w} ({rep + 1}/{args.repeat}): {state}", file=sys.stderr)
    replays = {w: representative(r) for w, r in runs.items()}
    drain3 = time_drain3(directory, args.drain3_lines)

    base = replays["1"]
    d3 = {r["miner"]: r["lines_per_cpu_s"] for r in drain3["rows"]}
    e2e = base.get("lines_per_s")
    ratios = {"e2e_vs_drain3_masks": common.ratio(e2e, d3["drain3 + masks"]),
              "e2e_vs_drain3_default": common.ratio(e2e, d3["drain3 default"]),
              "e2e_cpu_vs_drain3_masks": common.ratio(base.get("lines_per_cpu_s"),
                                                      d3["drain3 + masks"]),
              "e2e_cpu_vs_drain3_default": common.ratio(base.get("lines_per_cpu_s"),
                                                        d3["drain3 default"])}
    compare = {}
    for w, run in replays.items():
        if w != "1" and run.get("available") and base.get("available"):
            # each repeat's pair ran back to back: the median of their ratios
            pairs = [round(a["wall_s"] / b["wall_s"], 2) for a, b in zip(runs["1"], runs[w])
                     if a.get("available") and b.get("available")]
            compare[w] = {"speedup": statistics.median(pairs) if pairs else None,
                          "speedup_per_repeat": pairs,
                          "cpu_ratio": common.ratio(run["cpu_s"], base["cpu_s"]),
                          # both cores against drain3's one: not the floor (one process is)
                          "e2e_vs_drain3_masks": common.ratio(run["lines_per_s"],
                                                              d3["drain3 + masks"]),
                          **same_results(base["summary"], run["summary"])}
            # and every repeat of every configuration found the same
            compare[w]["identical"] &= all(
                same_results(base["summary"], other["summary"])["identical"]
                for other in runs["1"] + runs[w] if other.get("available"))
    for run in [*replays.values(), *(r for group in runs.values() for r in group)]:
        run.pop("summary", None)
    result = {"input": {k: meta[k] for k in ("key", "seed", "services", "hours", "log_rate",
                                             "files", "faults")},
              "log_lines": lines, "replays": replays, "drain3": drain3, "ratios": ratios,
              "workers": compare, "floors": FLOORS}
    result["table"] = table(result)

    print(f"\n{lines:,} log lines; drain3 timed on {drain3['lines']:,}"
          f"{' (first N, --drain3-lines)' if drain3['lines'] < lines else ''}")
    print(f"{'':34} {'lines/s':>9} {'wall s':>7} {'CPU s':>7} {'RSS MB':>7} {'PSS MB':>7}")
    for w, run in replays.items():
        if run.get("available"):
            print(f"{'aiops replay --workers ' + w:34} {run['lines_per_s']:>9,} "
                  f"{run['wall_s']:>7} {run['cpu_s']:>7} {run['peak_tree_rss_mb']:>7} "
                  f"{run['peak_tree_pss_mb']:>7}")
        else:
            print(f"{'aiops replay --workers ' + w:34} unavailable (flag not accepted)")
    for row in drain3["rows"]:
        print(f"{row['miner'] + ' (CPU time)':34} {row['lines_per_cpu_s']:>9,} "
              f"{'':>7} {row['cpu_s']:>7}")
    trend = drain3["rows"][0].get("rate_per_tenth") or []
    if len(trend) > 1:
        print(f"drain3 + masks lines/CPU s per tenth of its input: {trend[0]:,} first, "
              f"{trend[-1]:,} last")
    print(f"\n{'ratio':40} {'value':>7} {'floor':>7}")
    print(f"{'e2e (wall) / drain3 + masks (CPU)':40} {ratios['e2e_vs_drain3_masks']!s:>7} "
          f"{'>= 2.5':>7}")
    print(f"{'e2e (wall) / drain3 default (CPU)':40} {ratios['e2e_vs_drain3_default']!s:>7}")
    print(f"{'e2e (CPU) / drain3 + masks (CPU)':40} {ratios['e2e_cpu_vs_drain3_masks']!s:>7}")
    for w, comp in compare.items():
        print(f"{'--workers ' + w + ' / --workers 1 (wall)':40} {comp['speedup']!s:>7} "
              f"{'>= 1.6':>7}   identical: {str(comp['identical']).lower()}")
        print(f"{'e2e --workers ' + w + ' (wall) / drain3 + masks':40} "
              f"{comp['e2e_vs_drain3_masks']!s:>7}")
    if base.get("available"):
        print(f"{'peak RSS MB, --workers 1':40} {base['peak_tree_rss_mb']!s:>7} {'<= 300':>7}")
    if args.json:
        common.write_json(args.json, result)
    return 0 if base.get("available") else 1


if __name__ == "__main__":
    sys.exit(main())

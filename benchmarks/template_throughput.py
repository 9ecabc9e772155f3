"""Template mining throughput: aiops vs plain drain3, same synthetic lines, same run.

    python benchmarks/template_throughput.py [--lines 1000000] [--seed 42] [--json out.json]

The log is generated here (``synthetic_logs.py``: ~200 templates, Zipf-like
frequencies, IPs, ids, paths, durations...), deterministically from the seed.
Three miners see the same messages:

* ``aiops``: ``aiops.templates.TemplateMiner()`` with its one default configuration,
  fed ``LogRecord`` batches of 10,000 (record creation is not timed);
* ``drain3 + masks``: drain3 0.9.x ``TemplateMiner`` with the same masking regexes
  (aiops' default set, one ``MaskingInstruction`` each, masking to the mask's name, e.g.
  ``<NUM>``, as drain3's documentation does; see :func:`run_drain3`);
* ``drain3 default``: drain3 with its default config (no masking).

Reported per miner: lines per CPU second (best of ``--repeat`` runs; CPU time so
other load on the machine does not skew the comparison), templates found and
grouping accuracy against the generator's truth. ``--check-cache N`` also mines
the first N lines with the aiops cache disabled and reports whether every line
got the same template group (the cache is an accelerator, not a different result).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_logs import synthetic_log  # noqa: E402
from template_accuracy import grouping_accuracy  # noqa: E402

from aiops.masking import DEFAULT_MASKS  # noqa: E402
from aiops.schema import LogRecord  # noqa: E402
from aiops.templates import TemplateMiner  # noqa: E402

BATCH = 10_000


def run_aiops(lines: list[str], **params) -> tuple[float, list[str], TemplateMiner]:
    """Mine in engine-sized batches; each batch's records are built just before (untimed)."""
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    miner = TemplateMiner(**params)
    seconds = 0.0
    raw: list[str | None] = []
    for i in range(0, len(lines), BATCH):
        batch = [LogRecord(ts=t0 + timedelta(milliseconds=i + j), message=m, source="synthetic")
                 for j, m in enumerate(lines[i:i + BATCH])]
        started = time.process_time()
        miner.mine(batch)
        seconds += time.process_time() - started
        raw.extend(r.template_id for r in batch)
    return seconds, [miner.resolve(t) for t in raw], miner


def run_drain3(lines: list[str], masks: bool) -> tuple[float, list[int], int]:
    from drain3 import TemplateMiner as Drain3Miner
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()
    config.profiling_enabled = False
    if masks:
        # named masks (<NUM>, <IPV4>...), drain3's documented use: a masked token then
        # counts as similar to the same mask. Masking to <*> instead makes lines that are
        # mostly parameters (``GET <*> <*> <*>``) never reach the similarity threshold,
        # one new cluster each, and drain3 slows down as they pile up (up to 10x by 200k
        # lines), which would flatter every ratio against it.
        config.masking_instructions = [MaskingInstruction(m.pattern, m.name.upper())
                                      for m in DEFAULT_MASKS]
    miner = Drain3Miner(config=config)
    add = miner.add_log_message
    started = time.process_time()
    ids = [add(m)["cluster_id"] for m in lines]
    return time.process_time() - started, ids, len(miner.drain.clusters)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--repeat", type=int, default=1, help="timed runs per miner (best is kept)")
    ap.add_argument("--check-cache", type=int, default=0, metavar="N",
                    help="also compare aiops with and without its cache on the first N lines")
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON too")
    args = ap.parse_args(argv)
    logging.disable(logging.INFO)

    started = time.process_time()
    lines, truth = synthetic_log(args.lines, seed=args.seed)
    print(f"generated {len(lines):,} lines from {len(set(truth))} templates "
          f"(seed {args.seed}) in {time.process_time() - started:.1f}s", file=sys.stderr)

    rows = []
    for name, runner in (("aiops", lambda: run_aiops(lines)),
                         ("drain3 + masks", lambda: run_drain3(lines, masks=True)),
                         ("drain3 default", lambda: run_drain3(lines, masks=False))):
        best = None
        for _ in range(args.repeat):
            result = runner()
            if best is None or result[0] < best[0]:
                best = result
        seconds, ids, extra = best
        found = len(extra.templates()) if isinstance(extra, TemplateMiner) else extra
        rows.append({"miner": name, "seconds": round(seconds, 2),
                     "lines_per_second": round(len(lines) / seconds), "templates": found,
                     "grouping_accuracy": round(grouping_accuracy(ids, truth), 4)})
        print(f"  {name}: {seconds:.1f}s", file=sys.stderr)
    base = rows[1]["lines_per_second"]
    for row in rows:
        row["speedup_vs_drain3_masks"] = round(row["lines_per_second"] / base, 2)

    print(f"{'miner':16} {'lines/s':>10} {'vs drain3+masks':>16} {'templates':>10} {'GA':>7}")
    for r in rows:
        print(f"{r['miner']:16} {r['lines_per_second']:>10,} {r['speedup_vs_drain3_masks']:>15}x "
              f"{r['templates']:>10} {r['grouping_accuracy']:>7.3f}")
    out = {"lines": len(lines), "seed": args.seed, "true_templates": len(set(truth)),
           "results": rows}
    if args.check_cache:
        n = min(args.check_cache, len(lines))
        _, cached, _ = run_aiops(lines[:n])
        _, uncached, _ = run_aiops(lines[:n], cache_size=0)
        same = grouping_accuracy(cached, uncached)
        out["cache_check"] = {"lines": n, "same_grouping_fraction": round(same, 6)}
        print(f"cache on vs off, first {n:,} lines: {same:.4%} of lines in identical groups")
    if args.json:
        import orjson

        Path(args.json).write_bytes(orjson.dumps(out, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

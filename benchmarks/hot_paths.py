"""Per-record cost of the engine's hot paths, in CPU time, on real replay records.

    python benchmarks/hot_paths.py [--records 25000] [--repeat 15] [--json FILE]

A full replay's wall time drifts by tens of percent on a shared machine, which hides a
5-20 % change in one step. This times each step alone on the same records (the first
``--records`` of the 1.5 h benchmark scenario, all inputs merged in event-time order, as
the engine gets them), the best of ``--repeat`` runs in process time, with the cyclic
garbage collector tuned as the engine's processes tune it:

* ``parse JSON lines`` / ``parse header lines`` / ``parse metric CSV``: the readers on the
  scenario's first ``--records`` lines of ``logs/app.jsonl``, ``logs/postgres.log`` and a
  metrics CSV (the engine's process parses every input, with ``--workers`` too), per line;
* ``encode_batch`` / ``decode_batch``: the durable input log (every batch is encoded;
  the API's engine process decodes every batch), in 1000-record batches like the API's;
* ``pack_records`` / ``unpack_records``: the handoff to ``--workers`` processes;
* ``TemplateMiner.mine``: template mining (a fresh miner, so the first lines go to drain);
* ``LogDetector.observe``: the log detector's per-line counting (records mined first);
* ``fit_packed_forest`` / ``PackedForest.score_samples``: a detector's forest, 100 trees on
  256 of 2000 rows of 9 features (a metric series' shape; seeded normal data), fitted and
  packed (per forest), and scoring 24 rows per call (a series' points in one batch; per row);
* ``MetricScorer call, 6 h`` / ``2 d``: a metric series' streaming call with 29 new points
  (a replay batch's share of a 15 s series), on a seeded series 6.4 hours and 2 days old
  (per call: features, scoring, bookkeeping; no refit falls in the timed calls).

Reported as microseconds per unit (record, log line, forest or scored row). Nothing is
asserted; compare two checkouts by running the script in each, alternately.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402


def best_of(repeat: int, step) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        step()
        best = min(best, time.process_time() - started)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=25_000)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)

    import numpy as np

    from aiops.detect.forest import fit_packed_forest
    from aiops.detect.scorer import MetricScorer
    from aiops.detect.logs import LogDetector
    from aiops.runtime import tune_gc
    from aiops.handoff import pack_records, unpack_records
    from aiops.schema import LogRecord
    from aiops.store.codec import decode_batch, encode_batch
    from aiops.templates import TemplateMiner

    directory = common.scenario(1, 30, 1.5, 1.05)[0]
    records = common.merged_records(directory, args.records)
    logs = [r for r in records if type(r) is LogRecord]
    batches = [records[i:i + 1000] for i in range(0, len(records), 1000)]
    payloads = [encode_batch(b) for b in batches]
    packed = pack_records(records)
    mined = copy.deepcopy(logs)
    TemplateMiner().mine(mined)
    rng = np.random.default_rng(8)
    train = rng.normal(size=(2000, 9))
    fit_packed_forest(train, 100, 256, 0)  # scikit-learn's import and the fast-fit check
    forest = fit_packed_forest(train, 100, 256, 1)
    points = [rng.normal(size=(24, 9)) for _ in range(200)]
    from ingest.errors import lenient
    from ingest.logs import LogReader
    from ingest.metrics import read_metrics_csv

    def first_lines(path: Path) -> list[str]:
        with open(path, encoding="utf-8") as fh:
            return [line for _, line in zip(range(args.records), fh)]

    json_lines = first_lines(directory / "logs" / "app.jsonl")
    header_lines = first_lines(directory / "logs" / "postgres.log")
    csv_lines = first_lines(sorted((directory / "metrics").glob("*.csv"))[0])
    tune_gc()

    def parse(lines: list[str], fmt: str | None) -> None:
        for _ in LogReader(fmt, source="bench", policy=lenient()).read(lines):
            pass

    def scorer_calls(age: int, calls: int = 10):
        """A 15 s series ``age`` points long, and a step: its next ``calls`` 29-point calls
        (each repetition on its own copy of the scorer, made before timing)."""
        n = age + 29 * calls
        ts = 1.7e9 + 15.0 * np.arange(n)
        x = 10 + np.sin(np.arange(n) * 2 * np.pi / 5760) + rng.normal(scale=0.3, size=n)
        warm = MetricScorer()
        for i in range(0, age, 2000):
            warm.partial_score(ts[i:min(i + 2000, age)], x[i:min(i + 2000, age)])
        copies = [copy.deepcopy(warm) for _ in range(args.repeat)]

        def step() -> None:
            scorer = copies.pop()
            for i in range(age, n, 29):
                scorer.partial_score(ts[i:i + 29], x[i:i + 29])
        return calls, step

    steps = {
        "parse JSON lines": ("line", len(json_lines), lambda: parse(json_lines, None)),
        "parse header lines": ("line", len(header_lines), lambda: parse(
            header_lines, "<Date> <Time> <Level> <Component>: <Content>")),
        "parse metric CSV": ("line", len(csv_lines) - 1, lambda: sum(
            1 for _ in read_metrics_csv(csv_lines, source="bench"))),
        "encode_batch": ("record", len(records), lambda: [encode_batch(b) for b in batches]),
        "decode_batch": ("record", len(records), lambda: [decode_batch(p) for p in payloads]),
        "pack_records": ("record", len(records), lambda: pack_records(records)),
        "unpack_records": ("record", len(records), lambda: unpack_records(packed)),
        "TemplateMiner.mine": ("log line", len(logs),
                               lambda: TemplateMiner().mine(copy.copy(logs))),
        "LogDetector.observe": ("log line", len(logs),
                                lambda: LogDetector().observe(mined, mined[-1].ts)),
        "fit_packed_forest": ("forest", 10,
                              lambda: [fit_packed_forest(train, 100, 256, s) for s in range(10)]),
        "PackedForest.score": ("row", 24 * len(points),
                               lambda: [forest.score_samples(p) for p in points]),
        "MetricScorer call, 6 h": ("call", *scorer_calls(1530)),
        "MetricScorer call, 2 d": ("call", *scorer_calls(11520)),
    }
    rows = []
    print(f"{len(records):,} records ({len(logs):,} log lines), best of {args.repeat}, "
          f"process time", file=sys.stderr)
    print(f"{'step':22} {'us per':>10}")
    for name, (unit, count, step) in steps.items():
        seconds = best_of(args.repeat, step)
        us = round(seconds / count * 1e6, 3)
        rows.append({"step": name, "unit": unit, "count": count, "us_per_unit": us})
        print(f"{name:22} {us:>10.3f} {unit}")
    if args.json:
        common.write_json(args.json, {"records": len(records), "repeat": args.repeat,
                                      "steps": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())

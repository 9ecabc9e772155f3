"""Metric samples through the engine, by how many series share a batch.

    python benchmarks/metric_ingest.py [--series 50 200 1000] [--batch 1000] [--batches 30]
                                       [--json FILE]

The replay benchmarks hand the metric detector ~29 points per series per batch; a live
server gets a POST at a time, and a 1000-sample POST from a scrape of many series holds
one or a few points of each. The detector scores each series' new points in one streaming
call (features, the series' own forest, its threshold), whose cost is mostly fixed per
call, so samples per second depend on how many series a batch spreads over.

For each ``--series`` count: an in-memory engine (default config) is fed a seeded 15 s
series per "service" until every series is past its warm-up (800 points each; the first
forests are fitted there), then ``--batches`` batches of ``--batch`` samples (the next points
of every series, in time order) are timed in process time: the engine's whole path
(reorder buffer, detectors, correlator, store), as after a POST. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

START = datetime(2026, 3, 2, tzinfo=UTC)
STEP = 15.0
WARM_POINTS = 800


def samples(series: int, first: int, points: int, rng) -> list:
    from aiops.schema import MetricSample

    out = []
    for k in range(first, first + points):
        ts = START + timedelta(seconds=STEP * k)
        noise = rng.normal(scale=0.3, size=series)
        for s in range(series):
            out.append(MetricSample(ts, "http_request_duration_seconds_p99",
                                    10.0 + (s % 7) + float(noise[s]), {"service": f"svc-{s}"}))
    return out


def measure(series: int, batch: int, batches: int) -> dict:
    import numpy as np

    from aiops.engine import Engine
    from aiops.runtime import tune_gc

    tune_gc()
    rng = np.random.default_rng(series)
    engine = Engine()
    per = max(1, batch // series)  # points of each series in one batch
    point = 0
    started = time.perf_counter()
    while point < WARM_POINTS:
        engine.process(samples(series, point, per, rng))
        point += per
    warm_s = time.perf_counter() - started
    work = []
    for _ in range(batches):
        work.append(samples(series, point, per, rng))
        point += per
    cpu = time.process_time()
    for b in work:
        engine.process(b)
    cpu = time.process_time() - cpu
    n = sum(len(b) for b in work)
    metrics = next(d for d in engine.detectors if d.source == "detector:metrics")
    scored = sum(st.scored for st in metrics.series.values())
    return {"series": series, "points_per_series_per_batch": per, "batch": per * series,
            "batches": batches, "warmup_s": round(warm_s, 1),
            "samples_per_cpu_s": round(n / cpu), "ms_per_batch": round(cpu / batches * 1e3, 2),
            "us_per_series_call": round(cpu / batches / series * 1e6, 1),
            "scored_points": scored, "series_tracked": len(metrics.series)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", type=int, nargs="+", default=[50, 200, 1000])
    ap.add_argument("--batch", type=int, default=1000, help="samples per batch")
    ap.add_argument("--batches", type=int, default=30, help="timed batches per size")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    rows = []
    print(f"{'series':>7} {'pts/series':>10} {'samples/CPU s':>14} {'ms/batch':>9} "
          f"{'us/series':>10}")
    for series in args.series:
        r = measure(series, args.batch, args.batches)
        rows.append(r)
        print(f"{r['series']:>7} {r['points_per_series_per_batch']:>10} "
              f"{r['samples_per_cpu_s']:>14,} {r['ms_per_batch']:>9} "
              f"{r['us_per_series_call']:>10}", flush=True)
    if args.json:
        common.write_json(args.json, {"batch": args.batch, "results": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())

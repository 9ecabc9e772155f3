"""Per-record cost of the engine's hot paths, in CPU time, on real replay records.

    python benchmarks/hot_paths.py [--records 25000] [--repeat 15] [--json FILE]

A full replay's wall time drifts by tens of percent on a shared machine, which hides a
5-20 % change in one step. This times each step alone on the same records (the first
``--records`` of the 1.5 h benchmark scenario, all inputs merged in event-time order, as
the engine gets them), the best of ``--repeat`` runs in process time, with the cyclic
garbage collector tuned as the engine's processes tune it:

* ``encode_batch`` / ``decode_batch``: the durable input log (every batch is encoded;
  the API's engine process decodes every batch), in 1000-record batches like the API's;
* ``pack_records`` / ``unpack_records``: the handoff to ``--workers`` processes;
* ``TemplateMiner.mine``: template mining (a fresh miner, so the first lines go to drain);
* ``LogDetector.observe``: the log detector's per-line counting (records mined first).

Reported as microseconds per record. Nothing is asserted; compare two checkouts by
running the script in each, alternately.
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

    from aiops.detect.logs import LogDetector
    from aiops.engine import tune_gc
    from aiops.pool import pack_records, unpack_records
    from aiops.schema import LogRecord
    from aiops.store.codec import decode_batch, encode_batch
    from aiops.templates import TemplateMiner

    records = common.merged_records(common.scenario(1, 30, 1.5, 1.05)[0], args.records)
    logs = [r for r in records if type(r) is LogRecord]
    batches = [records[i:i + 1000] for i in range(0, len(records), 1000)]
    payloads = [encode_batch(b) for b in batches]
    packed = pack_records(records)
    mined = copy.deepcopy(logs)
    TemplateMiner().mine(mined)
    tune_gc()

    steps = {
        "encode_batch": (len(records), lambda: [encode_batch(b) for b in batches]),
        "decode_batch": (len(records), lambda: [decode_batch(p) for p in payloads]),
        "pack_records": (len(records), lambda: pack_records(records)),
        "unpack_records": (len(records), lambda: unpack_records(packed)),
        "TemplateMiner.mine": (len(logs), lambda: TemplateMiner().mine(copy.copy(logs))),
        "LogDetector.observe": (len(logs), lambda: LogDetector().observe(mined, mined[-1].ts)),
    }
    rows = []
    print(f"{len(records):,} records ({len(logs):,} log lines), best of {args.repeat}, "
          f"process time", file=sys.stderr)
    print(f"{'step':22} {'us/record':>10}")
    for name, (count, step) in steps.items():
        seconds = best_of(args.repeat, step)
        rows.append({"step": name, "records": count, "us_per_record": round(seconds / count * 1e6, 3)})
        print(f"{name:22} {rows[-1]['us_per_record']:>10.3f}")
    if args.json:
        common.write_json(args.json, {"records": len(records), "repeat": args.repeat,
                                      "steps": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())

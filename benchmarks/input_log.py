"""What the input log costs on disk, and what its retention costs a checkpoint.

    python benchmarks/input_log.py [--batches 12000] [--batch 1000] [--json FILE]

Commits ``--batches`` batches of ``--batch`` log records (API-like lines over 12
services, one second of event time per batch) to a fresh store with retention off,
reports the file's size per event, then reopens it with ``input_retention = 0`` and
times the checkpoints that prune it (``SQLiteStore.PRUNE_CHUNK`` batches each at most)
and one with nothing left to prune. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def measure(batches: int, batch: int) -> dict:
    from aiops.schema import LogRecord
    from aiops.store import append_records, open_store

    with tempfile.TemporaryDirectory(prefix="aiops-inputlog-") as tmp:
        path = os.path.join(tmp, "input.db")
        store = open_store(path, input_retention="forever")
        started = time.perf_counter()
        for b in range(batches):
            append_records(store, [LogRecord(
                ts=T0 + timedelta(seconds=b, microseconds=j * (1_000_000 // batch)),
                message=f"GET /api/v1/item/{b * batch + j} 200 {j % 97}ms",
                service=f"svc-{j % 12}", level="INFO") for j in range(batch)])
        append_s = time.perf_counter() - started
        store.close()
        size = sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
        store = open_store(path, input_retention=0)
        prunes = []
        while store._writer.execute("SELECT COUNT(*) FROM batches").fetchone()[0]:
            started = time.perf_counter()
            store.save_checkpoint(batches, {})
            prunes.append(round((time.perf_counter() - started) * 1e3, 1))
        started = time.perf_counter()
        store.save_checkpoint(batches, {})
        idle_ms = (time.perf_counter() - started) * 1e3
        store.close()
    events = batches * batch
    return {"batches": batches, "batch": batch, "append_s": round(append_s, 1),
            "file_mb": round(size / 1e6, 1), "bytes_per_event": round(size / events, 1),
            "gb_per_hour_at_75k_events_per_s": round(size / events * 75_000 * 3600 / 1e9, 2),
            "prune_chunk": store.PRUNE_CHUNK, "prune_checkpoints_ms": prunes,
            "us_per_batch_pruned": round(sum(prunes) * 1e3 / batches, 1),
            "checkpoint_with_nothing_to_prune_ms": round(idle_ms, 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=12000)
    ap.add_argument("--batch", type=int, default=1000, help="records per batch")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    result = measure(args.batches, args.batch)
    print(json.dumps(result, indent=2))
    if args.json:
        common.write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())

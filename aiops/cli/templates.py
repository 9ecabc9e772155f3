"""``aiops templates``: mine log templates from a file, one row per record plus a summary.

    aiops templates FILE --log-format FMT [--out lines.csv] [--json] [--config FILE]
                         [--state FILE]

``--out`` gets ``LineId,TemplateId,Template,Params`` (``Params`` a JSON list) for
every record, with each record's *final* template: ids merged while mining are
resolved, and the template text is the one at the end of the file (lines are
spooled to a temporary file, so memory stays flat on big files). ``--state``
keeps the miner between runs (drain3-style persistence): a second run continues
with the same ids.
"""

from __future__ import annotations

import argparse
import csv
import os
import pickle
import sys
import tempfile
import time
from typing import Any

import orjson

from aiops.cli.common import add_input_options, emit_json, guarded, resolve_inputs, stderr
from aiops.config import build_component
from aiops.templates import FilePersistence, TemplateMiner, build_miner
from ingest.errors import ParseError

BATCH = 10_000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("templates", help="mine log templates from a file",
                       description="Mine a template id and parameters for every record of FILE "
                                   "and print a template summary (id, template, count).")
    p.add_argument("paths", nargs=1, metavar="FILE")
    add_input_options(p)
    p.add_argument("--out", metavar="lines.csv",
                   help="write LineId,TemplateId,Template,Params for every record")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--state", metavar="FILE",
                   help="load the miner from FILE if it exists and save it there at the end")
    p.add_argument("--top", type=int, default=0,
                   help="text summary: show only the N most frequent templates")
    p.set_defaults(func=guarded(run))


def mine_file(args: argparse.Namespace) -> tuple[TemplateMiner, dict[str, Any]]:
    """Mine every record of the input; spool (line, id, params) rows when ``--out`` is set."""
    inputs = resolve_inputs(args)
    miner = build_component(build_miner, "templates", inputs.config.templates)
    if getattr(args, "state", None):
        folder = os.path.dirname(os.path.abspath(args.state))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            # checked before mining: the save at the end failed after all the work, naming
            # its temporary file
            raise ParseError("a --state path in an existing, writable directory",
                             source=args.state, field="state")
        miner.persistence = FilePersistence(args.state)
        state = miner.persistence.load_state()
        if state:
            try:
                miner.set_state(state)
            except (ValueError, pickle.UnpicklingError, EOFError) as exc:
                raise ParseError(f"a state file written by 'aiops templates --state' ({exc})",
                                 source=args.state, field="state") from None
    spool = tempfile.TemporaryFile() if args.out else None
    records = mined = 0
    seconds = 0.0
    batch: list = []

    def flush() -> None:
        nonlocal mined, seconds
        started = time.perf_counter()
        miner.mine(batch)
        seconds += time.perf_counter() - started
        mined += len(batch)
        if spool is not None:
            spool.write(b"".join(orjson.dumps([r.line, r.template_id, r.params]) + b"\n"
                                 for r in batch))
        batch.clear()

    for record in inputs.stream(strict=args.strict):
        if record.kind != "log":
            continue
        records += 1
        batch.append(record)
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    miner.save()
    if spool is not None:
        spool.seek(0)
        with open(args.out, "w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(["LineId", "TemplateId", "Template", "Params"])
            for raw in spool:
                line, tid, params = orjson.loads(raw)
                final = miner.resolve(tid)
                out.writerow([line, final, miner.template(final) or "",
                              orjson.dumps(params).decode()])
        spool.close()
    stats = {"records": records, "mine_seconds": round(seconds, 3),
             "lines_per_second": round(mined / seconds) if seconds else None,
             **inputs.report()}
    return miner, stats


def run(args: argparse.Namespace) -> int:
    miner, stats = mine_file(args)
    rows = sorted(miner.templates(), key=lambda r: (-r["count"], r["id"]))
    stderr.print(f"mined {stats['records']} records into {len(rows)} templates "
                 f"({stats['lines_per_second'] or 0:,} lines/s), rejected "
                 f"{stats['rejected']['count']}", highlight=False)
    if args.json:
        emit_json({**stats, "templates": rows, "history": miner.history()})
        return 0
    shown = rows[:args.top] if args.top else rows
    width = max((len(str(r["count"])) for r in shown), default=1)
    out = sys.stdout
    out.write(f"{'id':12}  {'count':>{width}}  template\n")
    for r in shown:
        out.write(f"{r['id']:12}  {r['count']:>{width}}  {r['template']}\n")
    out.flush()
    return 0

"""``aiops parse``: show what the ingesters make of a file, one JSON record per line."""

from __future__ import annotations

import argparse
import sys

import orjson

from aiops.cli.common import (add_input_options, at_least, emit_json, guarded, resolve_inputs,
                              stderr)
from aiops.schema import record_to_dict


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("parse", help="parse a file and print the records as JSON lines",
                       description="Parse FILE with the given (or detected) format and write one "
                                   "JSON record per line; a summary with rejected lines goes to "
                                   "stderr.")
    p.add_argument("paths", nargs=1, metavar="FILE")
    add_input_options(p)
    p.add_argument("--kind", choices=("log", "metric", "event", "alert"),
                   help="what the file holds (default: sniffed)")
    p.add_argument("--out", metavar="records.jsonl", help="write records here instead of stdout")
    p.add_argument("--limit", type=at_least(0), default=0, help="stop after N records (0: all)")
    p.set_defaults(func=guarded(run))


def run(args: argparse.Namespace) -> int:
    inputs = resolve_inputs(args)
    if args.kind:
        inputs.specs[0].kind = args.kind
    out = open(args.out, "wb") if args.out else sys.stdout.buffer
    n = 0
    try:
        for record in inputs.stream(strict=args.strict):
            out.write(orjson.dumps(record_to_dict(record), default=str) + b"\n")
            n += 1
            if args.limit and n >= args.limit:
                break
    finally:
        if args.out:
            out.close()
    report = inputs.report()
    stderr.print(f"parsed {n} records, rejected {report['rejected']['count']}", highlight=False)
    if args.out:
        emit_json({"records": n, **report})
    elif report["rejected"]["count"]:
        emit_json(report, out=sys.stderr.buffer)
    return 0

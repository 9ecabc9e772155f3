"""``aiops incidents``: the incidents in a store as JSON, as ``GET /api/v1/incidents`` gives
them (a filtered list, newest first, or one incident with its evidence), without a server."""

from __future__ import annotations

import argparse
import re

import orjson

from aiops.cli.common import (add_read_store_option, at_least, emit_json, event_time_arg, fail,
                              guarded)
from aiops.dashboards import incident_detail, incident_summary
from aiops.store import queries
from aiops.store.readonly import ReadOnlyStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("incidents", help="list a store's incidents, or show one, as JSON",
                       description="The incidents of a store (by default the last `aiops "
                                   "replay`'s) as JSON: a list of summaries, newest first, or "
                                   "with ID one incident with every alert's join evidence, its "
                                   "root cause, owner and timeline. The shapes of GET "
                                   "/api/v1/incidents and /api/v1/incidents/ID.")
    p.add_argument("incident_id", nargs="?", metavar="ID", help="show this incident whole")
    add_read_store_option(p)
    p.add_argument("--status", action="append", choices=("open", "acknowledged", "resolved"),
                   help="only these (repeatable)")
    p.add_argument("--service", action="append", metavar="NAME",
                   help="only incidents with alerts on this service or host (repeatable: any)")
    p.add_argument("--severity", action="append",
                   choices=("info", "warning", "error", "critical"), help="repeatable")
    p.add_argument("--owner", action="append", metavar="LAYER",
                   help="owning layer: infrastructure, application, model serving (repeatable)")
    p.add_argument("--scope", action="append", metavar="KEY=VALUE",
                   help="the incident's scope has it, e.g. cluster=eu-1 (repeatable: all)")
    p.add_argument("--since", type=event_time_arg, metavar="TIME", help="opened at or after")
    p.add_argument("--until", type=event_time_arg, metavar="TIME", help="opened before")
    p.add_argument("--limit", type=at_least(1), default=100, help="at most N (default 100)")
    p.add_argument("--cursor", help="the next_cursor of a previous page")
    p.add_argument("--order", choices=("desc", "asc"), default="desc",
                   help="by opening time (default: newest first)")
    p.set_defaults(func=guarded(run))


def run(args: argparse.Namespace) -> int:
    for item in args.scope or ():
        if not re.match(queries.SCOPE_ITEM, item):
            return fail(f"--scope: expected KEY=VALUE (cluster=eu-1), got {item!r}")
    with ReadOnlyStore(args.store) as store:
        if args.incident_id is not None:
            incident = incident_detail(store, args.incident_id)
            if incident is None:
                return fail(f"no incident {args.incident_id!r} in {args.store}", code=1)
            emit_json(incident)
            return 0
        flt = queries.incident_filter(status=args.status, service=args.service,
                                      severity=args.severity, owner=args.owner,
                                      since=args.since, until=args.until, scope=args.scope)
        try:
            page = queries.list_incidents(store, flt, limit=args.limit, cursor=args.cursor,
                                          desc=args.order == "desc")
        except queries.CursorError as err:
            return fail(f"--cursor: expected {err}")
        items = [incident_summary(orjson.loads(d)) for d in page.docs]
    emit_json({"items": items, "count": len(items), "next_cursor": page.next_cursor})
    return 0

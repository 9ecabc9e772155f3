"""``aiops dashboard``: the incident and alert-reduction dashboards of a store as JSON, the
same documents as ``GET /api/v1/dashboards/...``, without a server."""

from __future__ import annotations

import argparse

from aiops.cli.common import add_read_store_option, emit_json, event_time_arg, guarded
from aiops.dashboards import incident_dashboard, reduction_dashboard
from aiops.store.readonly import ReadOnlyStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dashboard", help="a store's incident or alert-reduction dashboard as "
                                         "JSON",
                       description="incidents: MTTD/MTTA/MTTR overall, per service and per "
                                   "owning layer, open incidents by severity and owner, "
                                   "counts per hour and day. alert-reduction: raw signals -> "
                                   "alerts -> incidents, dedup, suppression, the noisiest "
                                   "alerts, per service and over time. Event time throughout; "
                                   "the documents GET /api/v1/dashboards/NAME serves.")
    p.add_argument("name", choices=("incidents", "alert-reduction"))
    add_read_store_option(p)
    p.add_argument("--since", type=event_time_arg, metavar="TIME", help="window start")
    p.add_argument("--until", type=event_time_arg, metavar="TIME", help="window end, exclusive")
    p.add_argument("--bucket", choices=("hour", "day"), default="hour",
                   help="alert-reduction's over_time buckets (default hour)")
    p.set_defaults(func=guarded(run))


def run(args: argparse.Namespace) -> int:
    with ReadOnlyStore(args.store) as store:
        if args.name == "incidents":
            doc = incident_dashboard(store, args.since, args.until)
        else:
            doc = reduction_dashboard(store, args.since, args.until, args.bucket)
    emit_json(doc)
    return 0

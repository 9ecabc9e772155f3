"""``/api/v1/dashboards``: incident KPIs (MTTD/MTTA/MTTR) and the alert-noise funnel.

Aggregates come from light indexed columns (``aiops.store.queries``), never the
JSON documents, so both answer in milliseconds with 100k alerts stored. All
times are event time: MTTD is first alert start -> incident opened, MTTA opened
-> acknowledged, MTTR opened -> resolved.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import Annotated, Any, Iterable, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from aiops.store import queries
from api.auth import READ
from api.common import READ_ERRORS, time_bound
from api.errors import json_response
from api.models import IncidentDashboard, ReductionDashboard

router = APIRouter(prefix="/api/v1/dashboards", tags=["dashboards"])
Since = Annotated[str | None, Query(max_length=64, description="window start (event time)")]
Until = Annotated[str | None, Query(max_length=64, description="window end, exclusive")]


def stat(values: Iterable[float | None]) -> dict[str, Any]:
    xs = sorted(max(0.0, v) for v in values if v is not None)
    if not xs:
        return {"n": 0, "mean": None, "median": None, "p90": None}
    p90 = xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]
    return {"n": len(xs), "mean": round(statistics.fmean(xs), 3),
            "median": round(statistics.median(xs), 3), "p90": round(p90, 3)}


def _ratio(part: float, whole: float) -> float | None:
    return round(1 - part / whole, 4) if whole else None


def _service(row: dict[str, Any]) -> str:
    return row["root_service"] or (row["services"][0] if row["services"] else "")


def incident_dashboard(store: Any, since: str | None, until: str | None) -> dict[str, Any]:
    rows = queries.incident_rows(store, since, until)
    by_status = Counter(r["status"] for r in rows)
    open_rows = [r for r in rows if r["status"] != "resolved"]
    per_service: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        per_service[_service(r)].append(r)
    hours: dict[str, Counter] = defaultdict(Counter)
    days: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        for event, ts in (("opened", r["opened_at"]), ("resolved", r["resolved_at"])):
            if ts:
                hours[ts[:13] + ":00:00Z"][event] += 1
                days[ts[:10]][event] += 1
    return {
        "window": {"since": since, "until": until},
        "incidents": {"total": len(rows), "open": by_status.get("open", 0),
                      "acknowledged": by_status.get("acknowledged", 0),
                      "resolved": by_status.get("resolved", 0)},
        "mttd_s": stat(r["detect_s"] for r in rows),
        "mtta_s": stat(r["ack_s"] for r in rows),
        "mttr_s": stat(r["resolve_s"] for r in rows),
        "per_service": [
            {"service": svc, "incidents": len(rs),
             "open": sum(1 for r in rs if r["status"] != "resolved"),
             "mttd_s": stat(r["detect_s"] for r in rs), "mtta_s": stat(r["ack_s"] for r in rs),
             "mttr_s": stat(r["resolve_s"] for r in rs)}
            for svc, rs in sorted(per_service.items(), key=lambda kv: (-len(kv[1]), kv[0]))],
        "open_by_severity": dict(Counter(r["severity"] or "unknown" for r in open_rows)),
        "open_by_owner": dict(Counter(r["owner_layer"] or "unknown" for r in open_rows)),
        "per_hour": [{"bucket": b, "opened": c["opened"], "resolved": c["resolved"]}
                     for b, c in sorted(hours.items())],
        "per_day": [{"bucket": b, "opened": c["opened"], "resolved": c["resolved"]}
                    for b, c in sorted(days.items())],
    }


def reduction_dashboard(store: Any, since: str | None, until: str | None,
                        bucket: str) -> dict[str, Any]:
    signals = queries.signal_rows(store, since, until)
    by_kind: Counter = Counter()
    by_service: Counter = Counter()
    over: dict[str, Counter] = defaultdict(Counter)
    width = 13 if bucket == "hour" else 10
    for hour, kind, service, n in signals:
        by_kind[kind] += n
        by_service[service] += n
        over[hour[:width]]["raw_signals"] += n
    totals = queries.alert_totals(store, since, until)
    incidents = queries.incident_rows(store, since, until)
    inc_by_service = Counter(_service(r) for r in incidents)
    for r in incidents:
        if r["opened_at"]:
            over[r["opened_at"][:width]]["incidents"] += 1
    for b, c in queries.alerts_over_time(store, bucket, since, until).items():
        over[b]["alerts"] += c["alerts"]
        over[b]["notifications"] += c["notifications"]
    raw = sum(by_kind.values())
    unique, notes, n_inc = totals["unique"], totals["notifications"], len(incidents)
    alert_services = queries.per_service_alerts(store, since, until)
    services = sorted(set(by_service) | set(alert_services) | set(inc_by_service))
    suppressed = {k: totals["suppressed"].get(k, 0)
                  for k in ("silenced", "inhibited", "flapping", "transient")}
    for k, v in totals["suppressed"].items():
        suppressed.setdefault(k, v)
    suffix = ":00:00Z" if bucket == "hour" else ""
    return {
        "window": {"since": since, "until": until, "bucket": bucket},
        "raw_signals": raw, "raw_signals_by_kind": dict(by_kind),
        "alerts": unique, "notifications": notes, "incidents": n_inc,
        "reduction": {"signals_to_alerts": _ratio(unique, raw),
                      "alerts_to_incidents": _ratio(n_inc, unique),
                      "notifications_to_incidents": _ratio(n_inc, notes),
                      "signals_to_incidents": _ratio(n_inc, raw)},
        "dedup_ratio": _ratio(unique, notes),
        "suppressed": {**suppressed, "total": sum(totals["suppressed"].values())},
        "noisiest_alerts": queries.noisiest_alerts(store, since, until),
        "per_service": [
            {"service": s, "raw_signals": by_service.get(s, 0),
             "alerts": alert_services.get(s, {}).get("alerts", 0),
             "notifications": alert_services.get(s, {}).get("notifications", 0),
             "suppressed": alert_services.get(s, {}).get("suppressed", 0),
             "incidents": inc_by_service.get(s, 0),
             "alerts_to_incidents": _ratio(inc_by_service.get(s, 0),
                                           alert_services.get(s, {}).get("alerts", 0))}
            for s in services],
        "over_time": [{"bucket": b + suffix, "raw_signals": c["raw_signals"],
                       "alerts": c["alerts"], "notifications": c["notifications"],
                       "incidents": c["incidents"]} for b, c in sorted(over.items())],
    }


@router.get("/incidents", response_model=IncidentDashboard, dependencies=[READ],
            responses=READ_ERRORS, summary="MTTD, MTTA, MTTR overall and per service; open "
                                           "incidents by severity and owner; counts per hour/day")
async def incidents(request: Request, since: Since = None, until: Until = None) -> Response:
    store = request.app.state.backend.store
    return json_response(await run_in_threadpool(
        incident_dashboard, store, time_bound(since, "since"), time_bound(until, "until")))


@router.get("/alert-reduction", response_model=ReductionDashboard, dependencies=[READ],
            responses=READ_ERRORS, summary="Raw signals -> alerts -> incidents, dedup, "
                                           "suppression, noisiest alerts, per service and time")
async def alert_reduction(request: Request, since: Since = None, until: Until = None,
                          bucket: Literal["hour", "day"] = "hour") -> Response:
    store = request.app.state.backend.store
    return json_response(await run_in_threadpool(
        reduction_dashboard, store, time_bound(since, "since"), time_bound(until, "until"),
        bucket))

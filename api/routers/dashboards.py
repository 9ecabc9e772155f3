"""``/api/v1/dashboards``: incident KPIs (MTTD/MTTA/MTTR) and the alert-noise funnel, as
``aiops.dashboards`` computes them (``aiops dashboard`` prints the same)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from aiops.dashboards import incident_dashboard, reduction_dashboard
from api.auth import READ
from api.common import READ_ERRORS, time_bound
from api.errors import json_response
from api.models import IncidentDashboard, ReductionDashboard

router = APIRouter(prefix="/api/v1/dashboards", tags=["dashboards"])
Since = Annotated[str | None, Query(max_length=64, description="window start (event time)")]
Until = Annotated[str | None, Query(max_length=64, description="window end, exclusive")]


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

"""``/api/v1/alerts``: alert instances, filtered like incidents, up to 100,000 per page.

Documents are spliced into the answer as stored (no decode/encode per alert),
which keeps a 100k-alert page a copy rather than a rebuild.
"""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from aiops.store import queries
from api.auth import READ
from api.common import READ_ERRORS, error_responses, time_bound
from api.errors import ApiError
from api.models import AlertDoc, AlertPage
from api.routers.incidents import Severity, cursor_error

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])
Text = Annotated[str, Query(max_length=200)]
Suppressed = Literal["silenced", "inhibited", "flapping", "transient", "any", "none"]


@router.get("", response_model=AlertPage, dependencies=[READ], responses=READ_ERRORS,
            summary="List alerts (oldest first by startsAt), filtered, with a cursor")
async def list_alerts(
        request: Request,
        status: Annotated[list[Literal["firing", "resolved"]] | None, Query()] = None,
        service: Annotated[list[Text] | None, Query()] = None,
        severity: Annotated[list[Severity] | None, Query()] = None,
        owner: Annotated[list[Text] | None, Query(description="owning layer of the alert's "
                                                              "incident")] = None,
        source: Annotated[list[Text] | None, Query(description="alertmanager, generic, "
                                                               "detector:logs, ...")] = None,
        incident_id: Annotated[str | None, Query(max_length=200)] = None,
        fingerprint: Annotated[str | None, Query(max_length=64)] = None,
        alertname: Annotated[str | None, Query(max_length=200)] = None,
        suppressed: Annotated[Suppressed | None, Query(
            description="a reason, 'any' (suppressed at all) or 'none'")] = None,
        since: Annotated[str | None, Query(max_length=64, description="started at or after")]
        = None,
        until: Annotated[str | None, Query(max_length=64, description="started before")]
        = None,
        limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
        cursor: Annotated[str | None, Query(max_length=2000)] = None,
        order: Literal["asc", "desc"] = "asc") -> Response:
    flt = queries.alert_filter(status=status, service=service, severity=severity, owner=owner,
                               source=source, incident_id=incident_id, fingerprint=fingerprint,
                               name=alertname, suppressed=suppressed,
                               since=time_bound(since, "since"),
                               until=time_bound(until, "until"))
    store = request.app.state.backend.store
    try:
        page = await run_in_threadpool(queries.list_alerts, store, flt, limit=limit,
                                       cursor=cursor, desc=order == "desc")
    except queries.CursorError as err:
        raise cursor_error(err) from None
    body = b"".join((b'{"items":[', b",".join(page.docs), b'],"count":',
                     str(len(page.docs)).encode(), b',"next_cursor":',
                     orjson.dumps(page.next_cursor), b"}"))
    return Response(body, media_type="application/json")


@router.get("/{alert_id}", response_model=AlertDoc, dependencies=[READ],
            responses={**READ_ERRORS, **error_responses(404)}, summary="One alert instance")
async def get_alert(request: Request,
                    alert_id: Annotated[str, Path(max_length=300,
                                                  description="fingerprint@startsAt")]
                    ) -> Response:
    doc = await run_in_threadpool(queries.get_alert, request.app.state.backend.store, alert_id)
    if doc is None:
        raise ApiError(404, "not_found", f"no alert {alert_id!r}", field="id", got=alert_id)
    return Response(doc, media_type="application/json")

"""``/api/v1/incidents``: filtered pages, one incident with its evidence, ack and resolve."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from aiops.dashboards import incident_detail, incident_summary
from aiops.store import notes, queries
from api.auth import READ, WRITE
from api.common import READ_ERRORS, error_responses, parse_time, time_bound
from api.errors import ApiError, json_response
from api.models import IncidentAction, IncidentDetail, IncidentNote, IncidentPage

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])

Status = Literal["open", "acknowledged", "resolved"]
Severity = Literal["info", "warning", "error", "critical"]
Since = Annotated[str | None, Query(max_length=64, description="opened at or after (a "
                                                               "timestamp)")]
Until = Annotated[str | None, Query(max_length=64, description="opened before")]
IncidentId = Annotated[str, Path(max_length=200)]


def cursor_error(err: queries.CursorError) -> ApiError:
    return ApiError(422, "invalid_parameter", f"cursor: expected {err}", field="cursor",
                    expected=str(err))


@router.get("", response_model=IncidentPage, dependencies=[READ], responses=READ_ERRORS,
            summary="List incidents (newest first), filtered, with a cursor")
async def list_incidents(
        request: Request,
        status: Annotated[list[Status] | None, Query()] = None,
        service: Annotated[list[Annotated[str, Query(max_length=200)]] | None, Query(
            description="any of the incident's services")] = None,
        severity: Annotated[list[Severity] | None, Query()] = None,
        owner: Annotated[list[Annotated[str, Query(max_length=100)]] | None, Query(
            description="owning layer: infrastructure, application, model")] = None,
        scope: Annotated[list[Annotated[str, Query(max_length=200, pattern=queries.SCOPE_ITEM)]]
                         | None, Query(description="key=value of the incident's scope "
                                                   "(cluster=eu-1); repeated: all of them")] = None,
        since: Since = None, until: Until = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(max_length=2000)] = None,
        order: Literal["desc", "asc"] = "desc") -> Response:
    flt = queries.incident_filter(status=status, service=service, severity=severity,
                                  owner=owner, since=time_bound(since, "since"),
                                  until=time_bound(until, "until"), scope=scope)
    store = request.app.state.backend.store
    try:
        page = await run_in_threadpool(queries.list_incidents, store, flt, limit=limit,
                                       cursor=cursor, desc=order == "desc")
    except queries.CursorError as err:
        raise cursor_error(err) from None
    items = [incident_summary(orjson.loads(d)) for d in page.docs]
    return json_response({"items": items, "count": len(items), "next_cursor": page.next_cursor})


def _detail(store: Any, incident_id: str) -> dict[str, Any]:
    incident = incident_detail(store, incident_id)
    if incident is None:
        raise _not_found(incident_id)
    return incident


@router.get("/{incident_id}", response_model=IncidentDetail, dependencies=[READ],
            responses={**READ_ERRORS, **error_responses(404)},
            summary="One incident: alerts with join evidence, timeline, root cause, owner")
async def get_incident(request: Request, incident_id: IncidentId) -> Response:
    store = request.app.state.backend.store
    return json_response(await run_in_threadpool(_detail, store, incident_id))


def incident_exists(backend: Any, incident_id: str) -> bool:
    """Is ``incident_id`` an incident, stored or processed but not checkpointed yet?"""
    if queries.get_incident(backend.store, incident_id) is not None:
        return True
    backend.checkpoint_now()  # it may exist but not be checkpointed yet
    return queries.get_incident(backend.store, incident_id) is not None


def _when(backend: Any, incident_id: str, at: str | None) -> datetime:
    """An action's time on an existing incident: ``at``, else the engine's event time (a 422
    if it has seen none yet); a 404 if there is no such incident."""
    when = parse_time(at, "at") if at else None
    if not incident_exists(backend, incident_id):
        raise _not_found(incident_id)
    when = when or backend.max_ts
    if when is None:
        raise ApiError(422, "invalid_parameter", "at: no event time seen yet; pass 'at'",
                       field="at", expected="a timestamp")
    return when


def _not_found(incident_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no incident {incident_id!r}", field="id",
                    got=incident_id)


def _act(request: Request, incident_id: str, action: str, body: IncidentAction) -> dict:
    backend = request.app.state.backend
    at = _when(backend, incident_id, body.at)
    if not backend.supports(action):
        raise ApiError(501, "not_implemented", f"this correlator does not support {action}")
    try:
        backend.call(action, incident_id, body.by, at, body.note)
    except KeyError:
        raise _not_found(incident_id) from None
    except ValueError as err:
        raise ApiError(409, "conflict", f"cannot {action} {incident_id}: {err}") from None
    except NotImplementedError:
        raise ApiError(501, "not_implemented",
                       f"this correlator does not support {action}") from None
    return _detail(backend.store, incident_id)


_ACTION_ERRORS = {**error_responses(401, 403, 404, 409, 422, 501)}


@router.post("/{incident_id}/ack", response_model=IncidentDetail, dependencies=[WRITE],
             responses=_ACTION_ERRORS, summary="Acknowledge an incident (who, when, note)")
async def ack(request: Request, incident_id: IncidentId, body: IncidentAction) -> Response:
    """``at`` defaults to the latest event time the engine has seen (event time, not wall
    clock, so MTTA means the same in a replay); pass it explicitly for live wall-clock acks."""
    return json_response(await run_in_threadpool(_act, request, incident_id, "ack", body))


@router.post("/{incident_id}/resolve", response_model=IncidentDetail, dependencies=[WRITE],
             responses=_ACTION_ERRORS, summary="Resolve an incident (who, when, note)")
async def resolve(request: Request, incident_id: IncidentId, body: IncidentAction) -> Response:
    return json_response(await run_in_threadpool(_act, request, incident_id, "resolve", body))


def _note(request: Request, incident_id: str, body: IncidentNote) -> dict:
    backend = request.app.state.backend
    at = _when(backend, incident_id, body.at)
    return notes.add(backend.store, incident_id, at, body.by, body.text)


@router.post("/{incident_id}/notes", status_code=201, dependencies=[WRITE],
             responses=error_responses(401, 403, 404, 422),
             summary="Write a note on an incident (who, what; kept with it, shown in its "
                     "detail)")
async def add_note(request: Request, incident_id: IncidentId, body: IncidentNote) -> Response:
    """A responder's note ("rolled back deploy 142"): stored at once, on any incident the
    store holds, resolved ones included; not a status change and not a notification."""
    return json_response(await run_in_threadpool(_note, request, incident_id, body), 201)

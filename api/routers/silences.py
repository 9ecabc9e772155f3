"""``/api/v1/silences``: create, list and expire silences (Alertmanager-style matchers).

The correlator owns silences (they suppress alerts from incidents while
active, in event time); this router only validates and forwards. A correlator
without silence support answers 501.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.auth import READ, WRITE
from api.common import error_responses, parse_time
from api.errors import ApiError, json_response

router = APIRouter(prefix="/api/v1/silences", tags=["silences"])


class Matcher(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, examples=["service"])
    value: str = Field(max_length=1000, examples=["checkout"])
    isRegex: bool = False
    isEqual: bool = True


class SilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "matchers": [{"name": "service", "value": "checkout"},
                     {"name": "alertname", "value": "HighLatency.*", "isRegex": True}],
        "startsAt": "2026-11-28T18:00:00Z", "endsAt": "2026-11-28T20:00:00Z",
        "createdBy": "alice", "comment": "maintenance window"}]})
    matchers: list[Matcher | Annotated[str, Field(max_length=1000)]] = Field(
        min_length=1, max_length=50,
        description='Alertmanager API matchers, or strings like \'service="checkout"\', '
                    '\'alertname=~"High.*"\', \'env!="dev"\'')
    startsAt: str = Field(max_length=64)
    endsAt: str = Field(max_length=64)
    createdBy: str = Field(min_length=1, max_length=200)
    comment: str = Field("", max_length=4000)


class SilenceOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    matchers: list[Any]
    starts_at: str | None = None
    ends_at: str | None = None
    created_by: str | None = None
    comment: str | None = None
    expired_at: str | None = None


def _support(backend: Any) -> Any:
    if not backend.supports("add_silence"):
        raise ApiError(501, "not_implemented", "silences need a correlator with silence "
                       "support (add/list/expire)")
    return backend


_ERRORS = error_responses(401, 403, 422, 501)


@router.post("", status_code=201, response_model=SilenceOut, dependencies=[WRITE],
             responses=_ERRORS, summary="Create a silence")
async def create(request: Request, body: SilenceIn) -> Response:
    starts = parse_time(body.startsAt, "startsAt")
    ends = parse_time(body.endsAt, "endsAt")
    for name, value in (("startsAt", starts), ("endsAt", ends)):
        if value is None:
            raise ApiError(422, "invalid_parameter", f"{name}: expected a timestamp",
                           field=name, expected="a timestamp such as 2026-11-28T18:00:00Z",
                           got="")
    if ends <= starts:
        raise ApiError(422, "invalid_parameter", "endsAt must be after startsAt", field="endsAt",
                       expected="a time after startsAt", got=body.endsAt)
    backend = await run_in_threadpool(_support, request.app.state.backend)
    matchers = [m.model_dump() if isinstance(m, Matcher) else m for m in body.matchers]
    try:
        doc = await run_in_threadpool(backend.call, "add_silence", matchers, starts, ends,
                                      body.createdBy, body.comment)
    except ValueError as err:
        raise ApiError(422, "invalid_parameter", f"matchers: {err}", field="matchers",
                       expected='matchers like service="checkout"') from None
    return json_response(doc, 201)


@router.get("", response_model=list[SilenceOut], dependencies=[READ], responses=_ERRORS,
            summary="List silences")
async def list_all(request: Request) -> Response:
    backend = await run_in_threadpool(_support, request.app.state.backend)
    return json_response(await run_in_threadpool(backend.call, "list_silences"))


@router.delete("/{silence_id}", response_model=SilenceOut, dependencies=[WRITE],
               responses={**_ERRORS, **error_responses(404)}, summary="Expire a silence")
async def expire(request: Request, silence_id: Annotated[str, Path(max_length=200)]
                 ) -> Response:
    backend = await run_in_threadpool(_support, request.app.state.backend)
    try:
        doc = await run_in_threadpool(backend.call, "expire_silence", silence_id)
    except KeyError:
        raise ApiError(404, "not_found", f"no silence {silence_id!r}", field="id",
                       got=silence_id) from None
    return json_response(doc)

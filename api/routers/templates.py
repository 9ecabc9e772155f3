"""``/api/v1/templates``: mined log templates, most frequent first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from aiops.store import queries
from api.auth import READ
from api.common import READ_ERRORS
from api.errors import json_response
from api.models import TemplatePage
from api.routers.incidents import cursor_error

router = APIRouter(prefix="/api/v1/templates", tags=["templates"])


@router.get("", response_model=TemplatePage, dependencies=[READ], responses=READ_ERRORS,
            summary="List templates (template, count, first/last seen, source)")
async def list_templates(
        request: Request,
        source: Annotated[list[Annotated[str, Query(max_length=500)]] | None, Query(
            description="the service (or input) the template was mined from")] = None,
        contains: Annotated[str | None, Query(max_length=500, description="substring of "
                                                                          "the template")] = None,
        min_count: Annotated[int | None, Query(ge=0)] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
        cursor: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    store = request.app.state.backend.store
    try:
        items, nxt = await run_in_threadpool(queries.list_templates, store, source=source,
                                             contains=contains, min_count=min_count,
                                             limit=limit, cursor=cursor)
    except queries.CursorError as err:
        raise cursor_error(err) from None
    return json_response({"items": items, "count": len(items), "next_cursor": nxt})

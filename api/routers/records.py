"""``/api/v1/records``: what the store committed, batch by batch (to check what arrived)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from aiops.schema import record_to_dict
from aiops.store import decode_batch, queries
from api.auth import READ
from api.common import READ_ERRORS
from api.errors import json_response
from api.models import RecordPage

router = APIRouter(prefix="/api/v1/records", tags=["control"])


def _page(store: Any, after: int, kind: str | None, service: str | None, limit: int
          ) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    last = None
    while len(items) < limit:
        rows = queries.batches(store, after=after, limit=20)
        if not rows:
            last = None
            break
        for offset, batch_kind, _, payload in rows:
            # a clock tick (api.worker) is event time passing, not a record that arrived
            for r in decode_batch(payload) if batch_kind != "clock" else ():
                if kind and r.kind != kind:
                    continue
                if service is not None and r.service != service:
                    continue
                d = record_to_dict(r)
                d["offset"] = offset
                items.append(d)
            after = last = offset
            if len(items) >= limit:
                break
    return {"items": items, "next_after": last}


@router.get("", response_model=RecordPage, dependencies=[READ], responses=READ_ERRORS,
            summary="Committed records in input-log order, whole batches at a time")
async def list_records(
        request: Request,
        after: Annotated[int, Query(ge=0, description="input-log offset to start after")] = 0,
        kind: Literal["log", "metric", "event", "alert"] | None = None,
        service: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=10_000, description="stop after the batch that "
                                                                 "reaches this many")] = 1000
) -> Response:
    store = request.app.state.backend.store
    return json_response(await run_in_threadpool(_page, store, after, kind, service, limit))

"""``POST /api/v2/alerts``: Alertmanager's own alerts API, so Prometheus' ``alerting:``
section (and vmalert, Loki's, Mimir's and Thanos' rulers, Grafana's external Alertmanager)
can point at aiops directly, with or without an Alertmanager beside it."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api import parsing
from api.auth import WRITE
from api.common import INGEST_ERRORS, Ingest, request_body
from api.models import IngestResult

router = APIRouter(tags=["ingest"])


@router.post("/api/v2/alerts", status_code=202, response_model=IngestResult,
             dependencies=[WRITE], responses=INGEST_ERRORS,
             summary="Alerts as Prometheus sends them to an Alertmanager (its API v2)",
             openapi_extra=request_body(
                 {"application/json": {"schema": {"type": "array", "items": {"type": "object"}},
                                       "example": [{
                                           "labels": {"alertname": "HighErrorRate",
                                                      "service": "checkout",
                                                      "severity": "critical"},
                                           "annotations": {"summary": "5xx above 5%"},
                                           "startsAt": "2026-11-28T17:50:17Z",
                                           "endsAt": "2026-11-28T17:54:17Z",
                                           "generatorURL": "http://prometheus:9090/graph"}]}},
                 "A JSON array of alerts. A firing alert's endsAt is its validity: it stays "
                 "firing until event time passes it (Prometheus re-sends every minute to "
                 "extend it); a resolved one carries its end."))
async def post_alerts_v2(request: Request) -> Response:
    parse = partial(_parse, request)
    return await Ingest(request).run("alertmanager-api", parsing.JSON_TYPES | {"": ""}, parse,
                                     request.headers.get("idempotency-key"), False)


def _parse(request: Request, data: bytes, fmt: str):
    return parsing.parse_alertmanager_api(data, fmt, request.app.state.settings)

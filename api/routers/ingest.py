"""``POST /api/v1/{logs,metrics,events,alerts,alertmanager}``, ``/flush`` and ``/status``.

Every ingest answers 202 once the accepted records are committed (durable), with
counts and the first rejections; 422 when nothing in the batch was valid.
Re-deliveries are harmless: the same content (or the same ``Idempotency-Key``)
is recognised as a duplicate batch and adds nothing.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from aiops import __version__
from aiops.schema import iso
from aiops.store import queries
from api.auth import READ, WRITE
from api.common import INGEST_ERRORS, Ingest, error_responses, json_response, now_utc, \
    parse_time, request_body
from api.models import FlushResult, IngestResult, StatusReport
from api import parsing

router = APIRouter(prefix="/api/v1", tags=["ingest"])

IdemKey = Annotated[str | None, Header(
    alias="Idempotency-Key", max_length=256,
    description="makes retries safe: a second request with the same key (per endpoint) is "
                "answered as a duplicate and stores nothing. Without it, identical batch "
                "content is recognised instead.")]
Wait = Annotated[bool, Query(description="answer only after the engine processed the batch "
                                         "(for tests and scripted replays; max 30 s)")]
Source = Annotated[str, Query(max_length=500, description="where the records come from "
                                                          "(kept on each record)")]
Tz = Annotated[str | None, Query(max_length=64, description="zone of naive timestamps, e.g. "
                                                            "'UTC', 'Europe/Paris', '+02:00'")]

_LOG_EXAMPLE = [{"ts": "2026-11-28T17:00:01Z", "level": "ERROR", "service": "checkout",
                 "msg": "db timeout after 5000 ms", "trace_id": "abc1"}]
_JSON_LINES = {"type": "string", "description": "one JSON object per line"}
_TEXT = {"type": "string"}
_OBJECTS = {"oneOf": [{"type": "array", "items": {"type": "object"}}, {"type": "object"}]}


def _content(json_example, ndjson_example: str, text: dict | None = None) -> dict:
    content = {"application/json": {"schema": _OBJECTS, "example": json_example},
               "application/x-ndjson": {"schema": _JSON_LINES, "example": ndjson_example}}
    if text:
        content["text/plain"] = text
    return content


@router.post(
    "/logs", status_code=202, response_model=IngestResult, responses=INGEST_ERRORS,
    dependencies=[WRITE], summary="Ingest log records",
    openapi_extra=request_body(_content(
        _LOG_EXAMPLE,
        '{"ts":"2026-11-28T17:00:01Z","level":"ERROR","service":"checkout","msg":"db timeout"}\n',
        {"schema": _TEXT, "example": "081109 203615 148 INFO dfs.DataNode$PacketResponder: "
                                     "PacketResponder 1 for block blk_38865049064139660 "
                                     "terminating\n"}),
        "A JSON array of log objects (syslog-ng's format-json, ECS, bunyan, Docker json-file; "
        "a `_raw`-only item is parsed as text), NDJSON, or raw text lines in `?format=`."))
async def post_logs(
        request: Request, idempotency_key: IdemKey = None, wait: Wait = False,
        format: Annotated[str | None, Query(
            max_length=2000, description="layout of text/plain lines: auto (default), json, "
                                         "logfmt, cri, syslog, rfc3164, rfc5424, a loghub header format "
                                         "like '<Date> <Time> <Level> <Content>', or a regex "
                                         "with named groups")] = None,
        service: Annotated[str, Query(max_length=200, description="service of records that "
                                                                  "name none")] = "",
        source: Source = "api", timezone: Tz = None,
        year: Annotated[int | None, Query(ge=1970, le=2199, description="year of timestamps "
                                                                        "without one")] = None,
) -> Response:
    parse = partial(_call, parsing.parse_logs, request, log_format=format, service=service,
                    source=source, timezone=timezone, year=year)
    return await Ingest(request).run("logs", parsing.LOG_TYPES, parse, idempotency_key, wait)


@router.post(
    "/metrics", status_code=202, response_model=IngestResult, responses=INGEST_ERRORS,
    dependencies=[WRITE], summary="Ingest metric samples",
    openapi_extra=request_body(_content(
        [{"name": "http_latency_ms", "value": 182.5, "ts": "2026-11-28T17:00:00Z",
          "labels": {"service": "checkout"}}],
        '{"name":"http_latency_ms","value":182.5,"ts":1795885200,"service":"checkout"}\n',
        {"schema": _TEXT, "example": 'http_requests_total{service="checkout",code="500"} 1027 '
                                     '1795885200000\n'}),
        "JSON samples ({name, value, ts, labels}) or Prometheus query-style series, as an "
        "array or NDJSON; or Prometheus / OpenMetrics text exposition (text/plain)."))
async def post_metrics(
        request: Request, idempotency_key: IdemKey = None, wait: Wait = False,
        source: Source = "api", timezone: Tz = None,
        name: Annotated[str, Query(max_length=200, description="series name for JSON samples "
                                                               "without one")] = "",
        timestamp: Annotated[str | None, Query(
            max_length=64, description="scrape time of exposition-format samples without a "
                                       "timestamp (default: the time the request arrived)")] = None,
) -> Response:
    default_ts = parse_time(timestamp, "timestamp")
    parse = partial(_call, parsing.parse_metrics, request, source=source, name=name,
                    timezone=timezone, default_ts=default_ts, now=now_utc)
    return await Ingest(request).run("metrics", parsing.METRIC_TYPES, parse, idempotency_key,
                                     wait)


@router.post(
    "/events", status_code=202, response_model=IngestResult, responses=INGEST_ERRORS,
    dependencies=[WRITE], summary="Ingest change events (deploys, config changes, restarts, "
                                  "drift)",
    openapi_extra=request_body(_content(
        [{"ts": "2026-11-28T16:58:00Z", "type": "deploy", "service": "checkout",
          "message": "deploy v142", "version": "142"}],
        '{"ts":"2026-11-28T16:58:00Z","type":"deploy","service":"checkout"}\n'),
        "Event objects: a timestamp, a type (deploy, rollback, config_change, restart, scale, "
        "maintenance, drift, prediction_quality, ...), service, message; other keys are kept."))
async def post_events(request: Request, idempotency_key: IdemKey = None, wait: Wait = False,
                      source: Source = "api", timezone: Tz = None) -> Response:
    parse = partial(_call, parsing.parse_events, request, source=source, timezone=timezone)
    return await Ingest(request).run("events", parsing.DOC_TYPES, parse, idempotency_key, wait)


@router.post(
    "/alerts", status_code=202, response_model=IngestResult, responses=INGEST_ERRORS,
    dependencies=[WRITE], summary="Ingest generic alerts",
    openapi_extra=request_body(_content(
        [{"name": "HighErrorRate", "service": "checkout", "severity": "critical",
          "startsAt": "2026-11-28T17:50:17Z", "summary": "5xx above 5%",
          "labels": {"instance": "10.0.0.5:8080"}}],
        '{"name":"DiskFull","service":"node-3","severity":"warning","ts":"2026-11-28T17:00:00Z"}'
        '\n'),
        "Alert objects (labels/annotations, or flat name/service/severity/summary), with "
        "startsAt (or ts), optional endsAt and status firing|resolved. Alertmanager webhook "
        "bodies are recognised here too."))
async def post_alerts(request: Request, idempotency_key: IdemKey = None, wait: Wait = False,
                      source: Source = "api", timezone: Tz = None) -> Response:
    parse = partial(_call, parsing.parse_alerts, request, source=source, timezone=timezone)
    return await Ingest(request).run("alerts", parsing.DOC_TYPES, parse, idempotency_key, wait)


@router.post(
    "/alertmanager", status_code=202, response_model=IngestResult, responses=INGEST_ERRORS,
    dependencies=[WRITE], summary="Alertmanager webhook receiver (webhook v4)",
    openapi_extra=request_body(
        {"application/json": {"schema": {"type": "object"}, "example": {
            "receiver": "aiops", "status": "firing", "version": "4",
            "groupKey": "{}:{alertname=\"HighErrorRate\"}", "alerts": [{
                "status": "firing", "labels": {"alertname": "HighErrorRate",
                                               "service": "checkout", "severity": "critical"},
                "annotations": {"summary": "Error rate above 5%"},
                "startsAt": "2026-11-28T17:50:17Z", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "", "fingerprint": "4324684e1c3ca260"}]}}},
        "The body Alertmanager's webhook receiver sends, as is. Re-sends (retries, every "
        "group_interval) are duplicates and store nothing new; an alert instance is "
        "fingerprint + startsAt."))
async def post_alertmanager(request: Request, idempotency_key: IdemKey = None,
                            wait: Wait = False, source: Source = "alertmanager") -> Response:
    parse = partial(_call, parsing.parse_alertmanager, request, source=source)
    return await Ingest(request).run("alertmanager", parsing.JSON_TYPES | {"": ""}, parse,
                                     idempotency_key, wait)


def _call(fn, request: Request, data: bytes, fmt: str, **kw):
    return fn(data, fmt, request.app.state.settings, **kw)


@router.post("/flush", response_model=FlushResult, dependencies=[WRITE],
             responses=error_responses(401, 403), tags=["control"],
             summary="End of input: process everything and close all event-time windows")
async def flush(request: Request) -> Response:
    """Processes every committed batch, then releases the reorder buffers, closes detector
    windows and correlation groups as at the end of a file replay, and checkpoints. Use it
    after replaying files over HTTP. Records posted later still count; ones older than the
    watermark are counted as late."""
    backend = request.app.state.backend
    await run_in_threadpool(backend.flush)
    return json_response({"processed_offset": backend.processed_offset,
                          "head_offset": backend.store.head_offset(),
                          "watermark": iso(backend.watermark), "summary": backend.summary()})


@router.get("/status", response_model=StatusReport, dependencies=[READ],
            responses=error_responses(401, 403), tags=["control"],
            summary="Processing progress, lag and engine counters")
async def status(request: Request) -> Response:
    state = request.app.state
    backend = state.backend
    lag = await run_in_threadpool(backend.lag)
    totals = await run_in_threadpool(queries.batch_totals, backend.store)
    input_log = await run_in_threadpool(queries.input_log, backend.store)
    if input_log["oldest_age_s"] is not None:
        input_log["oldest_age_s"] = round(input_log["oldest_age_s"], 3)
    return json_response({
        "version": __version__, "processed_offset": lag["processed_offset"],
        "head_offset": lag["head_offset"], "lag_batches": lag["batches"],
        "lag_seconds": lag["seconds"], "worker_running": backend.running,
        "worker_errors": backend.errors, "last_error": backend.last_error,
        "auth": state.settings.auth_enabled, "batches": totals, "input_log": input_log,
        "engine": backend.summary(),
        "notify": await run_in_threadpool(state.notifier.status)
        if state.notifier is not None else {}})

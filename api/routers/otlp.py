"""OTLP/HTTP receiver: ``POST /v1/logs`` and ``/v1/metrics``, protobuf or JSON, gzip or not.

Answers as the OTLP/HTTP spec says: 200 with an ``Export*ServiceResponse`` in the
request's encoding, whose ``partial_success`` counts records that were decoded
but refused (each reason summarised in ``error_message``); 400 with a
``google.rpc.Status`` body when the request cannot be decoded (or nothing in it
was usable), 413 / 415 likewise. Exporters do not retry 400s; they retry 5xx, so
a 5xx is never the answer to bad input.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.auth import WRITE
from api.common import admit, read_body, submit
from api.errors import ApiError
from api.parsing import check_limits
from ingest import otlp
from ingest.bodies import BodyError, MediaType, check_media_type, decompress
from ingest.errors import ErrorPolicy, ParseError

router = APIRouter(tags=["otlp"])

_TYPES = {"application/x-protobuf": "protobuf", "application/protobuf": "protobuf",
          "application/json": "json"}
_MEDIA = {"protobuf": "application/x-protobuf", "json": "application/json"}
_STATUS_SCHEMA = {"type": "object", "properties": {"code": {"type": "integer"},
                                                   "message": {"type": "string"}}}
_GRPC_INVALID_ARGUMENT = 3


def _docs(kind: str, example: dict) -> dict:
    name = "ExportLogsServiceRequest" if kind == "logs" else "ExportMetricsServiceRequest"
    body = {"application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": {"type": "object"}, "example": example}}
    status = {"application/json": {"schema": _STATUS_SCHEMA},
              "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}}}
    return {
        "requestBody": {"required": True, "content": body,
                        "description": f"An OTLP {name}, binary protobuf or OTLP JSON; "
                                       f"Content-Encoding gzip allowed."},
        "responses": {
            "200": {"description": "Accepted (with partial_success counting refused records)",
                    "content": {"application/json": {"schema": {"type": "object"}},
                                "application/x-protobuf": {"schema": {"type": "string",
                                                                      "format": "binary"}}}},
            **{str(c): {"description": d, "content": status} for c, d in (
                (400, "undecodable request, or no usable record (google.rpc.Status)"),
                (413, "body over the size limit"), (415, "not protobuf or JSON"),
                (503, "processing is behind: retry after Retry-After seconds"))},
            "401": {"description": "missing or invalid token"},
            "403": {"description": "token lacks the write scope"},
        },
    }


_LOG_EXAMPLE = {"resourceLogs": [{"resource": {"attributes": [
    {"key": "service.name", "value": {"stringValue": "checkout"}}]},
    "scopeLogs": [{"scope": {"name": "checkout.db"}, "logRecords": [{
        "timeUnixNano": "1795888459585392896", "severityNumber": 17, "severityText": "ERROR",
        "body": {"stringValue": "db timeout after 5000 ms"}}]}]}]}
_METRIC_EXAMPLE = {"resourceMetrics": [{"resource": {"attributes": [
    {"key": "service.name", "value": {"stringValue": "checkout"}}]},
    "scopeMetrics": [{"metrics": [{"name": "http.server.duration", "gauge": {"dataPoints": [
        {"timeUnixNano": "1795888459585392896", "asDouble": 182.5}]}}]}]}]}

IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=256)]


@router.post("/v1/logs", dependencies=[WRITE], summary="OTLP/HTTP logs",
             response_class=Response, openapi_extra=_docs("logs", _LOG_EXAMPLE))
async def otlp_logs(request: Request, idempotency_key: IdemKey = None) -> Response:
    return await _export(request, "logs", idempotency_key)


@router.post("/v1/metrics", dependencies=[WRITE], summary="OTLP/HTTP metrics",
             response_class=Response, openapi_extra=_docs("metrics", _METRIC_EXAMPLE))
async def otlp_metrics(request: Request, idempotency_key: IdemKey = None) -> Response:
    return await _export(request, "metrics", idempotency_key)


def _status(fmt: str, http_status: int, message: str) -> Response:
    return Response(otlp.encode_status(fmt, _GRPC_INVALID_ARGUMENT, message), http_status,
                    media_type=_MEDIA[fmt])


async def _export(request: Request, kind: str, idem_key: str | None) -> Response:
    settings = request.app.state.settings
    media = MediaType.parse(request.headers.get("content-type"))
    try:
        fmt = check_media_type(media, _TYPES, f"/v1/{kind}")
    except BodyError as err:
        return _status("json", err.status, err.message)
    try:
        raw = await read_body(request, settings.max_body_bytes)
        data = await run_in_threadpool(decompress, raw, request.headers.get("content-encoding"),
                                       settings.max_decompressed_bytes)
    except BodyError as err:
        return _status(fmt, err.status, err.message)
    try:
        await admit(request.app)
    except ApiError as err:  # 503 is retryable for OTLP exporters
        resp = _status(fmt, err.status, err.message)
        resp.headers["Retry-After"] = "2"
        return resp
    return await run_in_threadpool(_commit, request, kind, fmt, data, idem_key)


def _commit(request: Request, kind: str, fmt: str, data: bytes, idem_key: str | None
            ) -> Response:
    state = request.app.state
    settings = state.settings
    policy = ErrorPolicy(strict=False, keep=settings.max_errors)
    try:
        message = otlp.decode_request(data, kind, fmt)
        if kind == "logs":
            found = list(otlp.log_records(message, policy=policy,
                                          max_attributes=settings.max_labels))
        else:
            found = list(otlp.metric_samples(message, policy=policy,
                                             max_labels=settings.max_labels))
    except ParseError as err:
        state.telemetry.count("log" if kind == "logs" else "metric", f"otlp-{kind}", 0, 0,
                              "rejected")
        return _status(fmt, 400, str(err))
    records = check_limits(found, policy, settings, "otlp")
    record_kind = "log" if kind == "logs" else "metric"
    summary = "; ".join(str(e) for e in policy.first[:5])
    if policy.count > len(policy.first[:5]):
        summary += f"; ... {policy.count} refused in all"
    if not records and policy.count:
        state.telemetry.count(record_kind, f"otlp-{kind}", 0, policy.count, "rejected")
        return _status(fmt, 400, f"no usable record: {summary}")
    outcome = "accepted"
    if records:
        key = f"key:otlp-{kind}:{idem_key}" if idem_key else None
        if submit(request.app, records, key).duplicate:
            outcome = "duplicate"
    state.telemetry.count(record_kind, f"otlp-{kind}",
                          len(records) if outcome == "accepted" else 0, policy.count, outcome)
    body = otlp.encode_response(kind, fmt, policy.count, summary)
    return Response(body, 200, media_type=_MEDIA[fmt])

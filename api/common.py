"""Plumbing every router shares: reading bodies under limits, the ingest flow, OpenAPI snippets."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any, Callable

import orjson
from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from aiops.store import queries
from api.errors import ApiError, json_response
from api.models import ErrorBody, IngestRejected
from api.parsing import Parsed, check_limits
from ingest.bodies import (BodyError, MediaType, check_declared_length, check_media_type,
                           decompress, too_large)
from ingest.errors import ErrorPolicy, ParseError
from ingest.timestamps import TimestampParser

#: bodies this much over the limit are still read (and dropped) so the client sees the 413
_DRAIN_FACTOR = 4


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "malformed body or parameter", 401: "missing or invalid token",
            403: "token lacks the scope", 404: "not found", 409: "conflict",
            413: "body over the size limit (or inflates past it)",
            415: "unsupported Content-Type, charset or Content-Encoding",
            422: "well-formed but invalid", 501: "not available in this build",
            503: "processing is behind or unavailable: retry after Retry-After seconds"}
    return {c: {"model": ErrorBody, "description": text.get(c, "error")} for c in codes}


INGEST_ERRORS = {**error_responses(400, 401, 403, 413, 415, 503),
                 422: {"model": IngestRejected | ErrorBody,
                       "description": "no record in the batch was valid (each rejection is "
                                      "listed), or a parameter is invalid"}}
READ_ERRORS = error_responses(401, 403, 422)


def request_body(content: dict[str, dict[str, Any]], description: str) -> dict[str, Any]:
    """``openapi_extra`` for handlers that read the raw body themselves."""
    return {"requestBody": {"required": True, "description": description, "content": content}}


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw body, refusing more than ``max_bytes`` (413) after draining a bounded excess."""
    declared = request.headers.get("content-length")
    try:
        check_declared_length(declared, max_bytes * _DRAIN_FACTOR)
    except BodyError as err:
        if err.status == 413:
            raise too_large(declared, max_bytes) from None
        raise
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            if size > max_bytes * _DRAIN_FACTOR:
                break
            chunks.clear()
            continue
        chunks.append(chunk)
    if size > max_bytes:
        raise too_large(declared or f"more than {max_bytes}", max_bytes)
    return b"".join(chunks)


def parse_time(value: str | None, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return TimestampParser().parse(value)
    except ParseError as err:
        raise ApiError(422, "invalid_parameter", f"{name}: expected {err.expected}", field=name,
                       expected=err.expected, got=value) from None


def time_bound(value: str | None, name: str) -> str | None:
    """A since/until parameter as the text form stored columns compare against."""
    ts = parse_time(value, name)
    return None if ts is None else queries.bound_text(ts)


def ingest_result(parsed: Parsed, *, duplicate: bool, offset: int | None,
                  processed: bool | None) -> dict[str, Any]:
    return {"kind": parsed.kind, "accepted": len(parsed.records), "rejected": parsed.rejected,
            "duplicate": duplicate, "offset": offset, "errors": parsed.rejections(),
            "errors_truncated": parsed.rejected > len(parsed.policy.first),
            "processed": processed}


async def admit(app: Any) -> None:
    """Backpressure: while the engine is more than ``max_lag_batches`` behind, hold the request
    (up to ``max_lag_wait_s``), then answer 503 + Retry-After, which every real shipper retries.
    Without it a client faster than processing grows the input log without bound."""
    settings = app.state.settings
    backend = app.state.backend
    limit = settings.max_lag_batches
    if backend.head_hint - backend.processed_offset <= limit:
        return
    backend.notify()
    deadline = time.monotonic() + settings.max_lag_wait_s
    while backend.head_hint - backend.processed_offset > limit:
        if time.monotonic() >= deadline or not backend.running:
            raise ApiError(503, "processing_behind",
                           f"processing is {backend.head_hint - backend.processed_offset} "
                           f"batches behind (limit {limit}); retry later",
                           headers={"Retry-After": "2"})
        await asyncio.sleep(0.01)


class Ingest:
    """The shared ingest flow: media type -> body -> parse -> commit -> 202 (or 4xx)."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.app = request.app
        self.settings = request.app.state.settings

    def media(self, accepted: dict[str, str], endpoint: str) -> str:
        return check_media_type(MediaType.parse(self.request.headers.get("content-type")),
                                accepted, endpoint)

    async def body(self) -> bytes:
        raw = await read_body(self.request, self.settings.max_body_bytes)
        encoding = self.request.headers.get("content-encoding")
        if not encoding and not raw.startswith(b"\x1f\x8b"):
            return raw
        return await run_in_threadpool(decompress, raw, encoding,
                                       self.settings.max_decompressed_bytes)

    async def run(self, endpoint: str, accepted: dict[str, str],
                  parse: Callable[[bytes, str], Parsed], idem_key: str | None,
                  wait: bool = False) -> Response:
        fmt = self.media(accepted, endpoint)
        data = await self.body()
        await admit(self.app)
        parsed, submitted = await run_in_threadpool(self._commit, parse, data, fmt, endpoint,
                                                    idem_key)
        processed = None
        if wait and submitted is not None:
            processed = await run_in_threadpool(self.app.state.backend.wait_for,
                                                submitted.offset, 30.0)
        self.app.state.telemetry.count(
            parsed.kind, endpoint, 0 if submitted is None or submitted.duplicate
            else len(parsed.records), parsed.rejected,
            "rejected" if submitted is None and parsed.rejected else
            "duplicate" if submitted is not None and submitted.duplicate else "accepted")
        body = ingest_result(parsed, duplicate=bool(submitted and submitted.duplicate),
                             offset=submitted.offset if submitted else None, processed=processed)
        if not parsed.records and parsed.rejected:
            first = body["errors"][0] if body["errors"] else {}
            raise ApiError(422, "no_valid_records",
                           f"none of the {parsed.rejected} record(s) in the batch is valid; "
                           f"first: {first.get('message', '')}", field=first.get("field"),
                           line=first.get("line"), expected=first.get("expected"),
                           got=first.get("got"),
                           extra={k: body[k] for k in ("kind", "accepted", "rejected", "errors",
                                                       "errors_truncated")})
        return Response(orjson.dumps(body), 202, media_type="application/json")

    def _commit(self, parse: Callable[[bytes, str], Parsed], data: bytes, fmt: str,
                endpoint: str, idem_key: str | None):
        try:
            parsed = parse(data, fmt)
        except ParseError as err:
            raise ApiError.from_parse_error(err) from None
        if not parsed.records:
            return parsed, None
        key = f"key:{endpoint}:{idem_key}" if idem_key else None
        return parsed, submit(self.app, parsed.records, key)


def now_utc() -> datetime:
    """Receive time, used only for Prometheus samples that carry no timestamp."""
    from aiops.schema import UTC

    return datetime.now(UTC)


def submit(app: Any, records: list, key: str | None) -> Any:
    """Commit a batch to the input log (durable when this returns) and wake the engine for
    it; a duplicate (a re-send, a repeated key) commits nothing and wakes nobody."""
    submitted = app.state.backend.submit(records, key)
    if not submitted.duplicate:
        app.state.backend.notify()
    return submitted


def commit_or_refuse(request: Request, kind: str, endpoint: str, noun: str,
                     read: Callable[[ErrorPolicy, Any], list]) -> Response:
    """The answer of receivers whose senders know no partial success (Prometheus remote
    write, Loki push): ``read(policy, settings)`` the body's records (a ``ParseError`` for a
    body that cannot be read at all is a 400), commit the valid ones (keyed by content: a
    re-send is a no-op), then 204 when nothing was refused, else 400 naming the refused ones:
    a sender drops a 4xx batch rather than retry it, so the good part must not wait on the
    bad."""
    state = request.app.state
    settings = state.settings
    policy = ErrorPolicy(strict=False, keep=settings.max_errors)
    try:
        found = read(policy, settings)
    except ParseError as err:
        state.telemetry.count(kind, endpoint, 0, 0, "rejected")
        raise ApiError.from_parse_error(err, 400, "invalid_body") from None
    records = check_limits(found, policy, settings, endpoint)
    outcome = "accepted"
    if records and submit(request.app, records, None).duplicate:
        outcome = "duplicate"
    state.telemetry.count(kind, endpoint, len(records) if outcome == "accepted" else 0,
                          policy.count, outcome if not policy.count or records else "rejected")
    if policy.count:
        shown = "; ".join(str(e) for e in policy.first[:5])
        more = f"; ... {policy.count} refused in all" if policy.count > 5 else ""
        raise ApiError(400, "invalid_records",
                       f"took {len(records)} {noun}, refused {policy.count}: {shown}{more}",
                       field=policy.first[0].field if policy.first else None)
    return Response(status_code=204)


__all__ = ["Ingest", "error_responses", "INGEST_ERRORS", "READ_ERRORS", "request_body",
           "read_body", "parse_time", "time_bound", "json_response", "now_utc",
           "commit_or_refuse", "submit"]

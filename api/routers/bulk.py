"""``POST /_bulk`` (and ``/{index}/_bulk``): the Elasticsearch bulk API, for rsyslog and friends.

rsyslog's omelasticsearch (and Fluent Bit's / Vector's ES outputs) post NDJSON
pairs: an action line (``{"index": {...}}`` or ``create``) then the document.
Each document becomes a log record (a ``message`` that is itself a JSON object,
as rsyslog forwards app logs, is unwrapped so its level/service/msg count).
The reply is what those clients parse: ``{"took", "errors", "items": [...]}``
with a per-item status, HTTP 200 even when some items failed, as Elasticsearch
does; the failed items are the rejected ones.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.auth import WRITE
from api.common import INGEST_ERRORS, Ingest, admit, submit
from api.errors import ApiError
from api.parsing import NDJSON_TYPES, check_limits
from ingest.bodies import split_lines
from ingest.errors import ErrorPolicy, ParseError
from ingest.jsonlogs import record_from_object
from ingest.logs import make_line_parser
from ingest.timestamps import TimestampParser

router = APIRouter(tags=["compat"])
_TYPES = {"application/json": "ndjson", **NDJSON_TYPES, "": "ndjson"}
_ACTIONS = ("index", "create", "update", "delete")
_EXAMPLE = ('{"index":{"_index":"aiops-logs"}}\n'
            '{"@timestamp":"2026-11-28T17:55:09.808089+00:00","host":"vm","tag":"app:",'
            '"message":"{\\"level\\":\\"ERROR\\",\\"service\\":\\"payments\\",'
            '\\"msg\\":\\"card declined 1\\"}"}\n')
_DOC = {
    "requestBody": {"required": True, "description": "Elasticsearch bulk NDJSON: action line, "
                    "document line, ...", "content": {"application/x-ndjson": {
                        "schema": {"type": "string"}, "example": _EXAMPLE}}},
}
_REPLY = {200: {"description": "Elasticsearch-style bulk reply", "content": {
    "application/json": {"schema": {"type": "object", "required": ["took", "errors", "items"],
                                    "properties": {"took": {"type": "integer"},
                                                   "errors": {"type": "boolean"},
                                                   "items": {"type": "array",
                                                             "items": {"type": "object"}}}}}}}}


@router.post("/_bulk", dependencies=[WRITE], response_class=Response, openapi_extra=_DOC,
             responses={**_REPLY, **INGEST_ERRORS}, summary="Elasticsearch bulk API (logs)")
async def bulk(request: Request,
               service: Annotated[str, Query(max_length=200)] = "",
               idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key",
                                                             max_length=256)] = None
               ) -> Response:
    return await _bulk(request, "", service, idempotency_key)


@router.post("/{index}/_bulk", dependencies=[WRITE], response_class=Response,
             openapi_extra=_DOC, responses={**_REPLY, **INGEST_ERRORS},
             summary="Elasticsearch bulk API with a default index")
async def bulk_index(request: Request, index: Annotated[str, Path(max_length=255)],
                     service: Annotated[str, Query(max_length=200)] = "",
                     idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key",
                                                                   max_length=256)] = None
                     ) -> Response:
    return await _bulk(request, index, service, idempotency_key)


async def _bulk(request: Request, index: str, service: str, idem_key: str | None) -> Response:
    started = time.perf_counter()
    ingest = Ingest(request)
    ingest.media(_TYPES, "/_bulk")
    data = await ingest.body()
    await admit(request.app)
    reply = await run_in_threadpool(_commit, request, data, index, service, idem_key)
    reply["took"] = int((time.perf_counter() - started) * 1000)
    return Response(orjson.dumps(reply), 200, media_type="application/json")


def _unwrap(doc: dict[str, Any]) -> dict[str, Any]:
    """rsyslog forwards JSON app logs as a string ``message``: merge its fields in."""
    message = doc.get("message")
    if isinstance(message, str) and message.startswith("{") and message.endswith("}"):
        try:
            inner = orjson.loads(message)
        except orjson.JSONDecodeError:
            return doc
        if isinstance(inner, dict):
            outer = {k: v for k, v in doc.items() if k != "message"}
            return {**outer, **inner}
    return doc


def _commit(request: Request, data: bytes, index: str, service: str,
            idem_key: str | None) -> dict[str, Any]:
    state = request.app.state
    settings = state.settings
    source = f"bulk:{index}" if index else "bulk"
    policy = ErrorPolicy(strict=False, keep=settings.max_errors)
    lines, bad = split_lines(data)
    bad_lines = dict(bad)
    timestamps = TimestampParser()
    fallback = getattr(make_line_parser("json", service=service, source=source,
                                        timestamps=timestamps), "raw_fallback", None)
    items: list[tuple[str, dict[str, Any], Any]] = []  # (action, meta, record or error)
    i, n = 0, len(lines)
    while i < n:
        lineno = i + 1
        text = lines[i].strip()
        i += 1
        if not text:
            continue
        if lineno in bad_lines:
            raise ApiError(400, "invalid_utf8", bad_lines[lineno].message, line=lineno,
                           field="line", expected="UTF-8 text")
        try:
            action = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, "malformed_body", f"line {lineno}: expected a bulk action line "
                           f"({exc.msg})", line=lineno, expected="an action line like "
                           '{"index":{...}}', got=text[:80]) from None
        if not (isinstance(action, dict) and len(action) == 1 and next(iter(action)) in _ACTIONS
                and isinstance(next(iter(action.values())), dict)):
            raise ApiError(400, "malformed_body", f"line {lineno}: expected a bulk action line",
                           line=lineno, expected='{"index":{...}} or {"create":{...}}',
                           got=text[:80])
        name, meta = next(iter(action.items()))
        if name == "delete":
            items.append((name, meta, ParseError("index or create actions (aiops only appends)",
                                                 line=lineno, field="action", got=name)))
            continue
        while i < n and not lines[i].strip():
            i += 1
        if i >= n:
            items.append((name, meta, ParseError("a document line after the action",
                                                 line=lineno, field="document")))
            continue
        doc_line = i + 1
        doc_text = lines[i]
        i += 1
        if name == "update":
            items.append((name, meta, ParseError("index or create actions (aiops only appends)",
                                                 line=doc_line, field="action", got=name)))
            continue
        try:
            if doc_line in bad_lines:
                raise ParseError("UTF-8 text", line=doc_line, field="document")
            try:
                doc = orjson.loads(doc_text)
            except orjson.JSONDecodeError as exc:
                raise ParseError(f"a JSON document ({exc.msg})", line=doc_line,
                                 got=doc_text) from None
            if not isinstance(doc, dict):
                raise ParseError("a JSON object", line=doc_line, got=doc_text)
            record = record_from_object(_unwrap(doc), location=f"line {doc_line}",
                                        source=source, service=service, timestamps=timestamps,
                                        raw_fallback=fallback)
            kept = check_limits([record], policy, settings, source)
            items.append((name, meta, kept[0] if kept else policy.first[-1]))
        except ParseError as err:
            err.located(source=source, line=doc_line)
            policy.report(err)
            items.append((name, meta, err))
    records = [r for _, _, r in items if not isinstance(r, ParseError)]
    offset = None
    duplicate = False
    if records:
        key = f"key:bulk:{idem_key}" if idem_key else None
        submitted = submit(request.app, records, key)
        offset, duplicate = submitted.offset, submitted.duplicate
    rejected = sum(1 for _, _, r in items if isinstance(r, ParseError))
    state.telemetry.count("log", "bulk", 0 if duplicate else len(records), rejected,
                          "duplicate" if duplicate else "accepted" if records else "rejected")
    out = []
    for k, (name, meta, result) in enumerate(items):
        entry: dict[str, Any] = {"_index": meta.get("_index") or index or "aiops",
                                 "_id": meta.get("_id") or f"{offset}-{k}"}
        if isinstance(result, ParseError):
            entry.update(status=400, error={"type": "mapper_parsing_exception",
                                            "reason": str(result), "line": result.line,
                                            "field": result.field})
        else:
            entry.update(status=201, result="created", _version=1)
        out.append({name: entry})
    return {"took": 0, "errors": rejected > 0, "items": out}

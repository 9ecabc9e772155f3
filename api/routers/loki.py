"""``POST /loki/api/v1/push``: Loki's push API (JSON or snappy protobuf), for Promtail,
Grafana Alloy, Fluent Bit, Vector and Docker's Loki driver.

Answers as Loki does: 204 when every entry was taken; 400 naming what was refused (the rest
committed); 503 + Retry-After while processing is behind, which the senders retry. A
re-sent batch is recognised by its content and not counted twice.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.auth import WRITE
from api.common import admit, commit_or_refuse, error_responses, read_body, request_body
from ingest import loki
from ingest.bodies import MediaType, check_media_type, decompress
from ingest.errors import ErrorPolicy

router = APIRouter(tags=["ingest"])
ENDPOINT = "loki"
_TYPES = {"application/json": "json", "application/x-protobuf": "protobuf",
          "application/protobuf": "protobuf"}


@router.post("/loki/api/v1/push", dependencies=[WRITE], status_code=204,
             response_class=Response, summary="Loki push API (JSON or snappy protobuf)",
             responses={204: {"description": "every entry taken"},
                        **error_responses(400, 401, 403, 413, 415, 503)},
             openapi_extra=request_body(
                 {"application/json": {"schema": {"type": "object"}},
                  "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}}},
                 "{\"streams\": [{\"stream\": {labels}, \"values\": [[\"<unix ns>\", "
                 "\"<line>\"]]}]} (gzip allowed), or a snappy-compressed logproto.PushRequest"))
async def push(request: Request) -> Response:
    settings = request.app.state.settings
    fmt = check_media_type(MediaType.parse(request.headers.get("content-type")), _TYPES,
                           "/loki/api/v1/push")
    raw = await read_body(request, settings.max_body_bytes)
    if fmt == "json":  # a BodyError (a bad or unknown encoding) answers for itself
        raw = await run_in_threadpool(decompress, raw, request.headers.get("content-encoding"),
                                      settings.max_decompressed_bytes)
    await admit(request.app)
    return await run_in_threadpool(_commit, request, fmt, raw)


def _commit(request: Request, fmt: str, raw: bytes) -> Response:
    def read(policy: ErrorPolicy, settings: Any) -> list:
        streams = loki.streams_from_json(raw) if fmt == "json" else \
            loki.streams_from_protobuf(raw, settings.max_decompressed_bytes)
        return list(loki.records(streams, policy=policy, max_labels=settings.max_labels))
    return commit_or_refuse(request, "log", ENDPOINT, "entries", read)

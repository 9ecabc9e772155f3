"""``POST /api/v1/write``: Prometheus remote write 1.0 (snappy-compressed protobuf).

Answers as Prometheus' own receiver does: 204 when every sample was taken; 400 naming
what was refused (the rest committed: a sender drops a 4xx batch rather than retry it, so
the good part must not wait on the bad); 503 + Retry-After while processing is behind,
which senders retry. A re-sent batch (a timeout on the sender's side) is recognised by
its content and not counted twice.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.auth import WRITE
from api.common import admit, commit_or_refuse, error_responses, read_body, request_body
from api.errors import ApiError
from ingest import promwrite
from ingest.bodies import MediaType, check_media_type
from ingest.errors import ErrorPolicy

router = APIRouter(tags=["ingest"])
ENDPOINT = "remote-write"
_TYPES = {"application/x-protobuf": "protobuf", "application/protobuf": "protobuf"}


@router.post("/api/v1/write", dependencies=[WRITE], status_code=204, response_class=Response,
             summary="Prometheus remote write 1.0 (snappy-compressed prometheus.WriteRequest)",
             responses={204: {"description": "every sample taken"},
                        **error_responses(400, 401, 403, 413, 415, 503)},
             openapi_extra=request_body(
                 {"application/x-protobuf": {"schema": {"type": "string", "format": "binary"}}},
                 "prometheus.WriteRequest, snappy block-compressed (Content-Encoding: snappy)"))
async def remote_write(request: Request) -> Response:
    settings = request.app.state.settings
    media = MediaType.parse(request.headers.get("content-type"))
    check_media_type(media, _TYPES, "/api/v1/write")
    # remote write 2.0 says proto=io.prometheus.write.v2.Request; 1.0 senders say nothing
    message = media.params.get("proto", "")
    if message not in ("", "prometheus.WriteRequest"):
        # remote write 2.0's sender falls back to 1.0 on a 415, as its specification requires
        raise ApiError(415, "unsupported_media_type",
                       f"remote write message {message} is not read here: send remote write 1.0 "
                       f"(protobuf_message: prometheus.WriteRequest, Prometheus' default)",
                       field="content-type", expected="proto=prometheus.WriteRequest",
                       got=message)
    encoding = (request.headers.get("content-encoding") or "").strip().lower()
    if encoding != "snappy":
        raise ApiError(415, "unsupported_media_type",
                       "remote write expects Content-Encoding: snappy (block format)",
                       field="content-encoding", expected="snappy", got=encoding or None)
    raw = await read_body(request, settings.max_body_bytes)
    await admit(request.app)
    return await run_in_threadpool(_commit, request, raw)


def _commit(request: Request, raw: bytes) -> Response:
    def read(policy: ErrorPolicy, settings: Any) -> list:
        message = promwrite.decode(promwrite.decompress(raw, settings.max_decompressed_bytes))
        return promwrite.samples(message, policy=policy, max_labels=settings.max_labels)[0]
    return commit_or_refuse(request, "metric", ENDPOINT, "samples", read)


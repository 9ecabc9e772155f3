"""One error envelope for every 4xx/5xx: ``{"error": {status, code, message, field, line, expected, got}}``.

Client mistakes map to 400 (malformed), 401/403 (auth), 404, 413 (too large),
415 (media type / encoding), 422 (well-formed but invalid); a store that cannot be
written (disk full, I/O error) is a 503 with Retry-After; a 500 is a bug of ours,
logged with its traceback, never the answer to bad input.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from aiops.store import is_storage_error
from ingest.bodies import BodyError
from ingest.errors import ParseError

log = logging.getLogger("aiops.api")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *, field: str | None = None,
                 line: int | None = None, expected: str | None = None, got: Any = None,
                 extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.line = line
        self.expected = expected
        self.got = got
        self.extra = extra or {}
        self.headers = headers

    @classmethod
    def from_body_error(cls, err: BodyError) -> "ApiError":
        return cls(err.status, err.code, err.message, field=err.field, line=err.line,
                   expected=err.expected, got=err.got)

    @classmethod
    def from_parse_error(cls, err: ParseError, status: int = 400,
                         code: str = "malformed_body") -> "ApiError":
        return cls(status, code, str(err), field=err.field, line=err.line,
                   expected=err.expected, got=err.got)

    def body(self) -> dict[str, Any]:
        return {"error": {"status": self.status, "code": self.code, "message": self.message,
                          "field": self.field, "line": self.line, "expected": self.expected,
                          "got": self.got}, **self.extra}

    def response(self) -> Response:
        return json_response(self.body(), self.status, headers=self.headers)


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS, default=str), status,
                    headers=headers, media_type="application/json")


def _loc(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("query", "path", "header", "body")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> Response:
        return exc.response()

    @app.exception_handler(BodyError)
    async def _body(request: Request, exc: BodyError) -> Response:
        return ApiError.from_body_error(exc).response()

    @app.exception_handler(ParseError)
    async def _parse(request: Request, exc: ParseError) -> Response:
        return ApiError.from_parse_error(exc).response()

    from api.backend import Unavailable

    @app.exception_handler(Unavailable)
    async def _unavailable(request: Request, exc: Unavailable) -> Response:
        return ApiError(503, "processing_unavailable", str(exc),
                        headers={"Retry-After": "5"}).response()

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = _loc(tuple(first.get("loc", ())))
        got = first.get("input")
        err = ApiError(422, "invalid_parameter", f"{where}: {first.get('msg', 'invalid')}",
                       field=where, expected=first.get("msg"),
                       got=None if got is None else str(got)[:80],
                       extra={"errors": [{"field": _loc(tuple(e.get("loc", ()))),
                                          "message": e.get("msg")} for e in errors[:20]]})
        return err.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized",
                 403: "forbidden"}
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.method} {request.url.path} (see /docs)"
        return ApiError(exc.status_code, codes.get(exc.status_code, "http_error"), detail,
                        headers=getattr(exc, "headers", None)).response()

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return ApiError(500, "internal_error",
                        f"internal error ({type(exc).__name__}); this is a bug in aiops, the "
                        f"request was not accepted").response()

    last_logged = [0.0]

    @app.exception_handler(sqlite3.Error)
    async def _storage(request: Request, exc: sqlite3.Error) -> Response:
        if not is_storage_error(exc):
            return await _bug(request, exc)
        # a full disk fails every request: one line per 10 s, not a traceback per request
        if time.monotonic() - last_logged[0] >= 10.0:
            last_logged[0] = time.monotonic()
            log.error("the store cannot be written (%s): requests get 503 until it can", exc)
        return ApiError(503, "store_unavailable",
                        f"the store cannot be written ({exc}): the request was not accepted; "
                        f"retry later (if the disk is full, free space on it)",
                        headers={"Retry-After": "5"}).response()

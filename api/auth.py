"""API tokens with ``read`` and ``write`` scopes.

Clients send ``Authorization: Bearer TOKEN`` (Alertmanager's ``http_config.authorization``,
OTel exporters' headers, curl), ``X-API-Key: TOKEN``, or HTTP Basic with the token
as the password (rsyslog's omelasticsearch ``uid``/``pwd``). With no token
configured every request is allowed, and ``aiops serve`` binds loopback only.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from fastapi import Depends, Request, Security
from fastapi.security import HTTPBearer

from api.errors import ApiError
from api.settings import ApiSettings, Token

bearer = HTTPBearer(auto_error=False, description="an API token with the read and/or write "
                    "scope ([api] tokens or $AIOPS_API_TOKENS)")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="aiops"'}


def credential(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            return value.strip()
        if scheme == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return ""
            return decoded.partition(":")[2]
        return ""
    return request.headers.get("x-api-key")


def authenticate(settings: ApiSettings, secret: str | None, scope: str) -> Token | None:
    if not settings.auth_enabled:
        return None
    if not secret:
        raise ApiError(401, "unauthorized", "missing credentials: send 'Authorization: Bearer "
                       "TOKEN' (or X-API-Key, or Basic auth with the token as password)",
                       field="Authorization", expected="an API token", headers=_CHALLENGE)
    found = None
    encoded = secret.encode()
    for token in settings.tokens:
        if hmac.compare_digest(token.secret.encode(), encoded):
            found = token
    if found is None:
        raise ApiError(401, "unauthorized", "invalid API token", field="Authorization",
                       expected="a configured API token", headers=_CHALLENGE)
    if scope not in found.scopes:
        raise ApiError(403, "forbidden", f"this token lacks the '{scope}' scope",
                       field="Authorization", expected=f"a token with the '{scope}' scope",
                       got=",".join(sorted(found.scopes)))
    return found


def require(scope: str):
    """A dependency that admits requests whose token has ``scope``."""

    def check(request: Request, _: object = Security(bearer)) -> Token | None:
        return authenticate(request.app.state.settings, credential(request), scope)

    return Depends(check)


READ = require("read")
WRITE = require("write")

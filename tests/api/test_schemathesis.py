"""schemathesis over /openapi.json: every operation, bounded examples, fixed seed.

No answer may be a server error, and every answer must match its documented status code,
content type and schema.
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="pip install schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (content_type_conformance,  # noqa: E402
                                               response_schema_conformance,
                                               status_code_conformance)

from aiops.config import Config  # noqa: E402
from api import create_app  # noqa: E402



@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx, value):
    if isinstance(value, bytes):
        return {"data": value}
    return {"data": str(value).encode("utf-8", "surrogatepass")}


@schemathesis.serializer("application/x-protobuf")
def _protobuf(ctx, value):
    if isinstance(value, bytes):
        return {"data": value}
    return {"data": str(value).encode("utf-8", "surrogatepass")}


app = create_app(Config(), close_store=False)  # the transport runs the lifespan per call
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@schema.parametrize()
@settings(max_examples=12, derandomize=True, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_openapi_operations(case):
    case.call_and_validate(checks=CHECKS)

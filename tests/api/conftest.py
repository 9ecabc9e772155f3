"""Fixtures for the HTTP service: an app over an in-memory store, a TestClient, client payloads."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

warnings.filterwarnings("ignore", message=".*httpx.*")


def pytest_configure(config):
    # starlette's TestClient warns that it prefers httpx2; httpx is what the project pins
    config.addinivalue_line("filterwarnings", "ignore:.*httpx.*")

from fastapi.testclient import TestClient  # noqa: E402

from aiops.config import Config  # noqa: E402
from api import create_app  # noqa: E402
from api.settings import ApiSettings  # noqa: E402
from tests.conftest import shared  # noqa: E402

JSON = {"content-type": "application/json"}
NDJSON = {"content-type": "application/x-ndjson"}
TEXT = {"content-type": "text/plain"}


def client_payload(name: str) -> bytes:
    """A payload captured from a real client, as it was sent."""
    return Path(shared("clients", name)).read_bytes()


def make_client(config: Config | None = None, *, environ: dict[str, str] | None = None,
                **settings: Any) -> TestClient:
    config = config or Config()
    api = dict(config.api)
    api.update(settings)
    config.api = api
    app = create_app(config, settings=ApiSettings.from_config(api, environ or {}))
    return TestClient(app)


@pytest.fixture
def client():
    with make_client() as c:
        yield c


def post(c: TestClient, path: str, body: bytes | str, headers: dict | None = None, **params):
    data = body.encode() if isinstance(body, str) else body
    return c.post(path, content=data, headers=headers or JSON, params=params)


def assert_error(resp, status: int, *fragments: str) -> dict:
    """A 4xx in the shared envelope whose message (or field/expected) names the problem."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    err = body["error"]
    assert err["status"] == status and err["code"] and err["message"]
    text = " ".join(str(err.get(k) or "") for k in ("message", "field", "expected", "got"))
    for fragment in fragments:
        assert fragment.lower() in text.lower(), (fragment, err)
    return body


def healthy(c: TestClient) -> None:
    """The service keeps serving after bad input."""
    assert c.get("/healthz").json() == {"status": "ok"}
    ok = post(c, "/api/v1/logs", '[{"ts":"2026-11-28T17:00:00Z","msg":"still alive"}]')
    assert ok.status_code == 202, ok.text

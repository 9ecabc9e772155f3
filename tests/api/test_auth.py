"""API tokens: read/write scopes from config or environment; loopback-only without tokens."""

from __future__ import annotations

import base64

import pytest

from aiops.cli import main
from aiops.config import Config, ConfigError
from api.settings import ApiSettings
from tests.api.conftest import assert_error, make_client, post

WRITER = "w-secret-123"
READER = "r-secret-456"
BODY = '[{"ts":"2026-11-28T17:00:00Z","msg":"hello"}]'


@pytest.fixture
def secured():
    config = Config(api={"tokens": [f"{WRITER}:write", {"token": READER, "scopes": ["read"],
                                                         "name": "grafana"}]})
    with make_client(config) as c:
        yield c


def bearer(token):
    return {"authorization": f"Bearer {token}", "content-type": "application/json"}


def test_scopes(secured):
    c = secured
    assert post(c, "/api/v1/logs", BODY, bearer(WRITER)).status_code == 202
    assert_error(post(c, "/api/v1/logs", BODY, bearer(READER)), 403, "write")
    assert c.get("/api/v1/incidents", headers=bearer(READER)).status_code == 200
    assert_error(c.get("/api/v1/incidents", headers=bearer(WRITER)), 403, "read")
    assert c.get("/metrics", headers=bearer(READER)).status_code == 200


def test_missing_or_wrong_credentials(secured):
    c = secured
    resp = post(c, "/api/v1/logs", BODY)
    assert_error(resp, 401, "Authorization")
    assert resp.headers["www-authenticate"].startswith("Bearer")
    assert_error(post(c, "/api/v1/logs", BODY, bearer("not-a-token")), 401, "invalid")
    assert_error(c.get("/api/v1/alerts"), 401)
    assert_error(c.get("/metrics"), 401)
    resp = post(c, "/v1/logs", b"{}", {"content-type": "application/json"})
    assert resp.status_code == 401
    # health and the docs stay open (probes and humans)
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        assert c.get(path).status_code == 200, path


def test_other_ways_to_send_the_token(secured):
    c = secured
    headers = {"x-api-key": WRITER, "content-type": "application/json"}
    assert post(c, "/api/v1/logs", BODY, headers).status_code == 202
    basic = base64.b64encode(f"rsyslog:{WRITER}".encode()).decode()
    bulk = b'{"index":{}}\n{"@timestamp":"2026-11-28T17:00:00Z","message":"hi"}\n'
    resp = post(c, "/_bulk", bulk, {"authorization": f"Basic {basic}",
                                    "content-type": "application/x-ndjson"})
    assert resp.status_code == 200 and resp.json()["errors"] is False
    assert_error(post(c, "/api/v1/logs", BODY, {"authorization": "Basic !!!",
                                                "content-type": "application/json"}), 401)


def test_tokens_from_the_environment():
    settings = ApiSettings.from_config({}, {"AIOPS_API_TOKENS": f"{WRITER}:write {READER}:read"})
    assert [(t.secret, sorted(t.scopes)) for t in settings.tokens] == \
        [(WRITER, ["write"]), (READER, ["read"])]
    everything = ApiSettings.from_config({}, {"AIOPS_API_TOKENS": "all-scopes-token"})
    assert everything.tokens[0].scopes == {"read", "write"}


@pytest.mark.parametrize("section, fragment", [
    ({"tokens": ["short"]}, "at least 8"),
    ({"tokens": ["long-enough:admin"]}, "scopes"),
    ({"tokens": "x"}, "list"),
    ({"max_body_bytes": True}, "positive integer"),
    ({"worker": "fiber"}, "worker"),
    ({"colour": "red"}, "unknown key"),
])
def test_bad_api_config(section, fragment):
    with pytest.raises(ConfigError, match=fragment):
        ApiSettings.from_config(section, {})


def test_serve_refuses_non_loopback_without_tokens(capsys, monkeypatch):
    monkeypatch.delenv("AIOPS_API_TOKENS", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "refusing to bind 0.0.0.0" in err and "AIOPS_API_TOKENS" in err

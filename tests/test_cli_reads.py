"""``aiops incidents`` and ``aiops dashboard``: a replay's results read from its store without
a server, the same documents the API serves, read-only beside a running service."""

from __future__ import annotations

import json
import sqlite3

import pytest
from fastapi.testclient import TestClient

from aiops.cli import main
from aiops.config import Config
from aiops.store import open_store
from api import create_app
from tests.conftest import SAMPLES


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    store = tmp_path_factory.mktemp("reads") / "s.db"
    assert main(["replay", str(SAMPLES / "db-pool-exhaustion"), "--no-progress",
                 "--store", str(store)]) == 0
    return store


def cli(capsys, *argv: str) -> tuple[int, object, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), " ".join(err.split())  # unwrapped


def test_the_cli_prints_what_the_api_serves_while_the_api_has_the_store(replayed, capsys):
    store = open_store(str(replayed))
    try:
        with TestClient(create_app(Config(), store)) as c:  # a running service holds it
            for argv, path in (
                    (("dashboard", "incidents"), "/api/v1/dashboards/incidents"),
                    (("dashboard", "alert-reduction", "--bucket", "day"),
                     "/api/v1/dashboards/alert-reduction?bucket=day"),
                    (("dashboard", "incidents", "--since", "2026-03-02T10:30:00Z"),
                     "/api/v1/dashboards/incidents?since=2026-03-02T10:30:00Z"),
                    (("incidents",), "/api/v1/incidents"),
                    (("incidents", "--status", "resolved", "--service", "checkout"),
                     "/api/v1/incidents?status=resolved&service=checkout")):
                code, got, err = cli(capsys, *argv, "--store", str(replayed))
                assert code == 0, err
                assert got == c.get(path).json(), argv
            (incident,) = c.get("/api/v1/incidents").json()["items"]
            code, got, _ = cli(capsys, "incidents", incident["id"], "--store", str(replayed))
            assert code == 0 and got == c.get(f"/api/v1/incidents/{incident['id']}").json()
    finally:
        store.close()
    # what the replay found, as an SRE reads it
    assert got["root_cause"]["service"] == "postgres" and got["alert_count"] == 52
    assert {a["rule"] for a in got["alerts"]} >= {"seed", "merged", "topology"}
    code, none, _ = cli(capsys, "incidents", "--status", "open", "--store", str(replayed))
    assert none == {"items": [], "count": 0, "next_cursor": None}
    code, later, _ = cli(capsys, "dashboard", "incidents", "--since", "2026-03-02T11:00:00Z",
                         "--store", str(replayed))
    assert later["incidents"]["total"] == 0 and later["window"]["since"] == "2026-03-02T11:00:00"


def test_reading_never_creates_or_changes_a_store(replayed, tmp_path, capsys):
    before = replayed.read_bytes()
    assert cli(capsys, "dashboard", "alert-reduction", "--store", str(replayed))[0] == 0
    assert replayed.read_bytes() == before
    missing = tmp_path / "typo.db"
    code, _, err = cli(capsys, "incidents", "--store", str(missing))
    assert code == 2 and "typo.db: no such file" in err and not missing.exists()
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    code, _, err = cli(capsys, "dashboard", "incidents", "--store", str(other))
    assert code == 2 and "not an aiops store" in err


def test_bad_arguments_are_named(replayed, capsys):
    code, _, err = cli(capsys, "incidents", "inc-000000000000", "--store", str(replayed))
    assert code == 1 and "no incident 'inc-000000000000'" in err
    code, _, err = cli(capsys, "incidents", "--scope", "eu-1", "--store", str(replayed))
    assert code == 2 and "--scope: expected KEY=VALUE" in err
    code, _, err = cli(capsys, "incidents", "--cursor", "nonsense", "--store", str(replayed))
    assert code == 2 and "--cursor: expected" in err
    with pytest.raises(SystemExit) as exit_:
        main(["dashboard", "incidents", "--since", "last tuesday", "--store", str(replayed)])
    assert exit_.value.code == 2
    assert "--since: expected a timestamp" in " ".join(capsys.readouterr().err.split())

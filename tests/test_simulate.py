"""The scenario generator: deterministic, Alertmanager-exact bodies, readable by the ingesters."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from aiops.schema import fingerprint
from aiops.simulate import Spec, generate, random_spec
from aiops.simulate.alerting import go_time
from aiops.simulate.topology import shop_topology
from ingest.errors import ErrorPolicy
from ingest.scenario import load_inputs
from ingest.files import read_input

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def small(seed=5) -> Spec:
    return Spec(
        "t",
        "test",
        shop_topology(True),
        T0,
        1200.0,
        [("db_pool_exhaustion", "postgres", 400.0, 300.0)],
        seed=seed,
        log_rate=0.05,
    )


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    out = tmp_path_factory.mktemp("sc")
    truth = generate(small(), out)
    return out, truth


def test_same_seed_same_bytes(scenario, tmp_path):
    out, _ = scenario
    generate(small(), tmp_path)
    for f in out.rglob("*"):
        if f.is_file():
            assert f.read_bytes() == (tmp_path / f.relative_to(out)).read_bytes(), f


def test_alertmanager_bodies_look_like_alertmanager(scenario):
    out, truth = scenario
    bodies = [json.loads(line) for line in (out / "alerts" / "alertmanager.ndjson").read_text().splitlines()]
    assert bodies
    keys = [
        "receiver",
        "status",
        "alerts",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "version",
        "groupKey",
        "truncatedAlerts",
    ]
    for b in bodies:
        assert list(b) == keys and b["version"] == "4"
        assert b["groupKey"].startswith("{}:{") and b["status"] in ("firing", "resolved")
        for a in b["alerts"]:
            assert a["fingerprint"] == fingerprint(a["labels"])
            if a["status"] == "firing":
                assert a["endsAt"] == "0001-01-01T00:00:00Z"
            else:
                assert a["endsAt"] > a["startsAt"]
        assert b["status"] == ("firing" if any(a["status"] == "firing" for a in b["alerts"]) else "resolved")
    sent = {(a["fingerprint"], a["startsAt"]) for b in bodies for a in b["alerts"]}
    for f in truth["faults"]:
        for a in f["alerts"]:
            assert (a["fingerprint"], a["startsAt"]) in sent or a["alertname"] == "ModelFeatureDrift"


def test_every_input_parses_without_rejects(scenario):
    out, _ = scenario
    specs, sections = load_inputs(out)
    assert "correlate" in sections and sections["correlate"]["graph"]
    assert {s.kind for s in specs} == {"log", "metric", "event", "alert"}
    for spec in specs:
        policy = ErrorPolicy(strict=True)
        n = sum(1 for _ in read_input(spec, policy))
        assert n > 0 and policy.count == 0, spec.path


def test_go_time_trims_like_rfc3339nano():
    assert go_time(datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=timezone.utc)) == "2026-01-01T00:00:00.5Z"
    assert go_time(datetime(2026, 1, 1, tzinfo=timezone.utc)) == "2026-01-01T00:00:00Z"


def test_random_spec_scales():
    spec = random_spec(seed=3, services=30, hours=6)
    assert len(spec.topology.services) == 30
    assert len(spec.faults) >= 4
    kinds = {k for k, *_ in spec.faults}
    assert len(kinds) >= 3
    # roots exist in the topology (services or hosts)
    for _kind, root, *_ in spec.faults:
        assert root in spec.topology.services or root in spec.topology.hosts


@pytest.mark.parametrize("args, says", [
    (["--hours", "0"], "argument --hours: expected a number above 0, got '0'"),
    (["--hours", "-1"], "argument --hours: expected a number above 0"),
    (["--services", "3"], "argument --services: expected at least 6, got '3'"),
    (["--log-rate", "0"], "argument --log-rate: expected a number above 0"),
])
def test_simulate_refuses_sizes_that_give_no_scenario(tmp_path, capsys, args, says):
    """0 or -1 hours wrote a scenario with no data; --services 3 was quietly made 6 while the
    scenario's name said 3."""
    from aiops.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["simulate", *args, "--out", str(tmp_path / "sim")])
    assert exit_.value.code == 2 and says in capsys.readouterr().err
    assert not (tmp_path / "sim").exists()

"""The alert-reduction dashboard over the bundled sample scenario, replayed: what an SRE
reads per service must add up with the files that went in and the incident that came out."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest
from fastapi.testclient import TestClient

from aiops.cli import main
from aiops.config import Config
from aiops.store import open_store
from api import create_app
from tests.conftest import SAMPLES

SCENARIO = SAMPLES / "db-pool-exhaustion"


@pytest.fixture(scope="module")
def reduction(tmp_path_factory):
    store_path = tmp_path_factory.mktemp("replayed") / "s.db"
    assert main(["replay", str(SCENARIO), "--no-progress", "--store", str(store_path)]) == 0
    store = open_store(str(store_path))
    try:
        with TestClient(create_app(Config(), store)) as c:
            yield c.get("/api/v1/dashboards/alert-reduction").json(), \
                c.get("/api/v1/incidents").json()["items"]
    finally:
        store.close()


def test_host_metrics_count_for_their_host_not_for_no_service(reduction):
    """node.jsonl's samples carry a host and no service: they were counted under the
    service "" while the alerts on those hosts were filed under host-1 / host-2."""
    d, _ = reduction
    per = {s["service"]: s for s in d["per_service"]}
    hosts = Counter()
    for line in (SCENARIO / "metrics" / "node.jsonl").read_bytes().splitlines():
        labels = orjson.loads(line)["labels"]
        if not any(labels.get(k) for k in ("service", "app", "job")):
            hosts[labels["host"]] += 1
    assert hosts and "" not in per
    assert all(per[host]["raw_signals"] >= n for host, n in hosts.items()), per
    assert any(per[host]["alerts"] for host in hosts)  # the alerts on a host meet its signals
    assert sum(s["raw_signals"] for s in d["per_service"]) == d["raw_signals"]


def test_a_service_whose_alerts_joined_another_root_counts_that_incident(reduction):
    d, incidents = reduction
    per = {s["service"]: s for s in d["per_service"]}
    (incident,) = incidents
    root = incident["root_cause"]["service"]
    assert root == "postgres" and len(incident["services"]) >= 3
    for service in incident["services"]:
        row = per[service]
        assert row["incidents"] == 1, row
        assert row["root_cause_of"] == (1 if service == root else 0)
        assert row["alerts_to_incidents"] == round(1 - 1 / row["alerts"], 4)
    quiet = [s for s in d["per_service"] if s["service"] not in incident["services"]]
    assert quiet and all(s["incidents"] == s["root_cause_of"] == 0 for s in quiet)

"""Grouping rules and their evidence: group key, topology, similarity, mention, burst."""

from __future__ import annotations

from tests.correlate.helpers import SHOP, Feeder, alert


def evidence(f: Feeder, name: str, **labels) -> dict:
    row = f.alert_row(name, **labels)
    return f.members(f.incidents[row["incident_id"]])[row["id"]]


def test_cascade_joins_by_topology_with_evidence():
    f = Feeder(SHOP).feed(
        [
            alert("DatabaseConnectionsNearLimit", 0, severity="critical", service="postgres"),
            alert("HighErrorRate", 20, severity="critical", service="checkout", instance="a"),
            alert("HighErrorRate", 25, severity="critical", service="checkout", instance="b"),
            alert("HighErrorRate", 40, severity="critical", service="api-gateway"),
            alert("HighRequestLatency", 60, service="frontend"),
        ],
        until=300,
    )
    assert len(f.incidents) == 1
    first = f.alert_row("DatabaseConnectionsNearLimit")
    assert evidence(f, "DatabaseConnectionsNearLimit")["rule"] == "seed"
    ev = evidence(f, "HighErrorRate", instance="a")
    assert ev["rule"] == "topology" and ev["score"] == 0.9 and ev["matched"] == first["id"]
    ev = evidence(f, "HighErrorRate", instance="b")
    assert ev["rule"] == "group_key" and ev["score"] == 1.0 and "service=checkout" in ev["detail"]
    assert evidence(f, "HighRequestLatency")["rule"] == "topology"


def test_unrelated_service_in_the_graph_opens_its_own_incident():
    cfg = {**SHOP, "graph": {**SHOP["graph"], "batch": []}}
    f = Feeder(cfg).feed(
        [
            alert("HighErrorRate", 0, severity="critical", service="checkout"),
            alert("HighErrorRate", 10, severity="critical", service="batch"),
        ],
        until=100,
    )
    # same text, but the graph knows both and does not connect them
    assert len(f.incidents) == 2


def test_similarity_joins_services_the_graph_does_not_know():
    f = Feeder({}).feed(
        [
            alert(
                "HighErrorRate",
                0,
                severity="critical",
                service="cart",
                summary="cart 5xx ratio 12% on 10.0.0.1",
            ),
            alert(
                "HighErrorRate",
                200,
                severity="critical",
                service="wishlist",
                summary="wishlist 5xx ratio 31%",
            ),
        ],
        until=400,
    )
    assert len(f.incidents) == 1
    ev = evidence(f, "HighErrorRate", service="wishlist")
    assert ev["rule"] == "similarity" and ev["score"] >= 0.6


def test_mention_and_burst_for_unknown_services():
    f = Feeder({}).feed(
        [
            alert("QueueBacklog", 0, severity="critical", service="ingest-worker"),
            alert(
                "UpstreamErrors",
                300,
                severity="critical",
                service="api",
                summary="api cannot reach ingest-worker: connection refused",
            ),
            alert("CertRotation", 320, severity="critical", service="vault"),
        ],
        until=600,
    )
    assert evidence(f, "UpstreamErrors")["rule"] == "mention"
    assert evidence(f, "CertRotation")["rule"] == "burst"
    assert len(f.incidents) == 1


def test_info_alerts_are_recorded_but_never_grouped():
    f = Feeder(SHOP).feed(
        [
            alert("HighErrorRate", 0, severity="critical", service="checkout"),
            alert("CertificateExpiringSoon", 10, severity="info", service="checkout"),
        ],
        until=100,
    )
    assert f.alert_row("CertificateExpiringSoon")["incident_id"] is None
    assert len(f.incidents) == 1


def test_node_alert_relates_only_to_what_runs_on_it():
    f = Feeder(SHOP).feed(
        [
            alert("HighErrorRate", 0, severity="critical", service="frontend"),
            alert(
                "NodeHighCPU", 10, severity="critical", instance="host-3:9100", job="node"
            ),  # runs postgres/redis
            alert(
                "NodeHighCPU", 20, severity="critical", instance="host-1:9100", job="node"
            ),  # runs frontend
        ],
        until=200,
    )
    assert (
        f.alert_row("NodeHighCPU", instance="host-3:9100")["incident_id"]
        != f.alert_row("HighErrorRate")["incident_id"]
    )
    assert (
        f.alert_row("NodeHighCPU", instance="host-1:9100")["incident_id"]
        == f.alert_row("HighErrorRate")["incident_id"]
    )
    assert f.alert_row("NodeHighCPU", instance="host-1:9100")["service"] == "host-1"


def test_late_node_alert_is_not_linked_to_long_running_service_trouble():
    f = Feeder(SHOP).feed(
        [
            alert("HighErrorRate", 0, severity="critical", service="frontend"),
            alert("NodeMemoryPressure", 900, severity="critical", instance="host-1:9100", job="node"),
        ],
        until=1000,
    )
    assert len(f.incidents) == 2


def test_placement_is_learned_from_instance_labels():
    f = Feeder({}).feed(
        [
            alert("NodeDiskFull", 0, severity="critical", instance="10.0.0.9:9100", job="node"),
            alert("WriteErrors", 400, severity="critical", service="ledger", instance="10.0.0.9:8080"),
        ],
        until=600,
    )
    ev = evidence(f, "WriteErrors")
    assert ev["rule"] == "topology" and "runs on" in ev["detail"]


def test_detector_alert_on_a_node_metric_is_about_the_host():
    from aiops.correlate.graph import ServiceGraph
    from aiops.correlate.config import CorrelateConfig

    g = ServiceGraph(CorrelateConfig.from_dict(SHOP))
    labels = {
        "alertname": "MetricAnomaly",
        "service": "node_cpu_utilisation",
        "metric": "node_cpu_utilisation",
        "host": "host-3",
        "instance": "host-3:9100",
    }
    assert g.entity_of(labels) == ("host-3", True)
    assert g.entity_of(
        {"alertname": "HighErrorRate", "service": "checkout", "instance": "10.0.0.5:8080"}
    ) == ("checkout", False)
    assert g.entity_of({"alertname": "NodeDown", "job": "node", "instance": "10.0.0.5:9100"}) == (
        "10.0.0.5",
        True,
    )
    assert g.entity_of({"alertname": "Up", "job": "checkout", "instance": "10.0.0.5:8080"}) == (
        "checkout",
        False,
    )


def test_the_same_service_in_two_clusters_is_two_incidents():
    """checkout failing in eu-1 and us-1 at once: one service name, two problems (they were
    one incident: same service, same group key)."""
    f = Feeder(SHOP).feed(
        [
            alert("HighErrorRate", 0, severity="critical", service="checkout", cluster="eu-1"),
            alert("HighErrorRate", 30, severity="critical", service="checkout", cluster="us-1"),
            alert("DatabaseConnectionsNearLimit", 40, severity="critical", service="postgres",
                  cluster="eu-1"),
            alert("HighRequestLatency", 50, severity="critical", service="checkout"),  # no cluster
        ],
        until=300,
    )
    by_cluster = {i["scope"].get("cluster"): i for i in f.incidents.values()}
    assert sorted(by_cluster) == ["eu-1", "us-1"]
    eu, us = by_cluster["eu-1"], by_cluster["us-1"]
    assert eu["title"].endswith("[cluster=eu-1]") and us["title"].endswith("[cluster=us-1]")
    assert f.alert_row("DatabaseConnectionsNearLimit")["incident_id"] == eu["id"]
    assert f.alert_row("HighErrorRate", cluster="us-1")["incident_id"] == us["id"]
    # an alert naming no cluster fits either: it joins the strongest link, as before
    assert f.alert_row("HighRequestLatency")["incident_id"] in (eu["id"], us["id"])


def test_environments_do_not_mix_and_the_scope_labels_are_configurable():
    alerts = [alert("HighErrorRate", 0, severity="critical", service="checkout", env="prod"),
              alert("HighErrorRate", 30, severity="critical", service="checkout", env="staging")]
    assert len(Feeder(SHOP).feed(alerts, until=300).incidents) == 2
    merged = Feeder({**SHOP, "scope_labels": []}).feed(alerts, until=300)
    (incident,) = merged.incidents.values()
    assert incident["scope"] == {} and "[" not in incident["title"]


def test_a_resolved_incident_is_not_reopened_from_another_cluster():
    f = Feeder(SHOP).feed(
        [
            alert("HighErrorRate", 0, severity="critical", service="checkout", cluster="eu-1"),
            alert("HighErrorRate", 0, 120, severity="critical", service="checkout",
                  cluster="eu-1"),
            alert("HighErrorRate", 900, severity="critical", service="checkout", cluster="us-1"),
        ],
        until=1200,
    )
    eu = f.alert_row("HighErrorRate", cluster="eu-1")["incident_id"]
    us = f.alert_row("HighErrorRate", cluster="us-1")["incident_id"]
    assert eu and us and eu != us
    assert f.incidents[eu]["status"] == "resolved"

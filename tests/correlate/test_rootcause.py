"""Root cause (most upstream, cause before effect, change events) and owning layer/team."""

from __future__ import annotations

from tests.correlate.helpers import SHOP, Feeder, alert, event


def only(f: Feeder) -> dict:
    (inc,) = f.incidents.values()
    return inc


def test_most_upstream_service_is_the_root_even_when_not_first():
    f = Feeder(SHOP).feed(
        [
            alert("HighErrorRate", 0, severity="critical", service="frontend"),
            alert("HighErrorRate", 10, severity="critical", service="checkout"),
            alert("DatabaseConnectionsNearLimit", 30, severity="critical", service="postgres"),
        ],
        until=200,
    )
    inc = only(f)
    assert inc["root_cause"]["service"] == "postgres"
    assert inc["root_cause"]["alert_id"] == f.alert_row("DatabaseConnectionsNearLimit")["id"]
    assert "depend on postgres" in inc["root_cause"]["reason"]
    assert inc["owner"] == {
        "layer": "application",
        "team": "application team",
        "reason": "postgres is an application service",
    }
    assert inc["title"].startswith("DatabaseConnectionsNearLimit on postgres")


def test_upstream_alert_long_after_the_effects_is_not_the_root():
    f = Feeder(SHOP).feed(
        [
            alert("HighErrorRate", 0, severity="critical", service="checkout"),
            alert("HighErrorRate", 20, severity="critical", service="api-gateway"),
            alert("SlowQueries", 600, severity="critical", service="postgres"),
        ],
        until=700,
    )
    assert only(f)["root_cause"]["service"] == "checkout"


def test_change_event_breaks_ties():
    cfg = {"graph": {"a": [], "b": []}}
    f = Feeder(cfg).feed(
        [
            event("deploy", 0, service="b", message="Deployed b 1.2"),
            alert("Errors", 60, severity="critical", service="a", summary="errors on a and b"),
            alert("Errors", 61, severity="critical", service="b"),
        ],
        until=200,
    )
    inc = f.incidents[f.alert_row("Errors", service="b")["incident_id"]]
    assert inc["root_cause"]["service"] == "b"
    assert "deploy" in inc["root_cause"]["reason"]


def test_node_root_is_infrastructure_owned_by_sre():
    f = Feeder(SHOP).feed(
        [
            alert(
                "NodeFilesystemAlmostOutOfSpace", 0, severity="critical", instance="host-3:9100", job="node"
            ),
            alert("DatabaseErrors", 200, severity="critical", service="postgres"),
            alert("HighErrorRate", 230, severity="critical", service="checkout"),
        ],
        until=400,
    )
    inc = only(f)
    assert inc["root_cause"]["service"] == "host-3"
    assert inc["owner"]["layer"] == "infrastructure" and inc["owner"]["team"] == "SRE"


def test_model_endpoint_slow_because_of_its_node_is_infrastructure():
    cfg = {
        **SHOP,
        "hosts": {**SHOP["hosts"], "ml-1": ["recommender"]},
        "graph": {**SHOP["graph"], "frontend": ["api-gateway", "recommender"]},
    }
    f = Feeder(cfg).feed(
        [
            alert("NodeHighCPU", 0, severity="critical", instance="ml-1:9100", job="node"),
            alert("ModelInferenceLatencyHigh", 20, severity="critical", service="recommender"),
            alert("HighRequestLatency", 40, severity="critical", service="frontend"),
        ],
        until=200,
    )
    inc = only(f)
    assert inc["root_cause"]["service"] == "ml-1" and inc["owner"]["layer"] == "infrastructure"


def test_model_drift_is_model_serving_owned_by_ml_engineering():
    cfg = {**SHOP, "graph": {**SHOP["graph"], "frontend": ["api-gateway", "recommender"]}}
    f = Feeder(cfg).feed(
        [
            alert("ModelInferenceLatencyHigh", 0, severity="critical", service="recommender"),
            event("drift", 20, service="recommender", message="PSI 0.4 on basket_size"),
            alert("HighRequestLatency", 40, severity="critical", service="frontend"),
        ],
        until=200,
    )
    inc = only(f)
    assert inc["root_cause"]["service"] == "recommender"
    assert inc["owner"]["layer"] == "model serving" and inc["owner"]["team"] == "ML engineering"


def test_drift_event_makes_an_undeclared_service_model_serving():
    f = Feeder({}).feed(
        [
            event("drift", 0, service="scorer", message="feature drift"),
            alert("Slow", 30, severity="critical", service="scorer"),
        ],
        until=100,
    )
    assert only(f)["owner"]["layer"] == "model serving"


def test_configured_layers_and_teams():
    cfg = {**SHOP, "layers": {"postgres": "infrastructure"}, "teams": {"infrastructure": "DBA on-call"}}
    f = Feeder(cfg).feed([alert("DatabaseDown", 0, severity="critical", service="postgres")], until=10)
    assert only(f)["owner"]["layer"] == "infrastructure" and only(f)["owner"]["team"] == "DBA on-call"


def test_the_reason_names_the_alert_that_decided_and_the_anomaly_that_came_first():
    """Anomalies support and alerts decide, but an SRE reading "first signal" must see the
    detector's lead (the MTTD), not only the alert that made the root."""
    f = Feeder(SHOP).feed(
        [
            alert("LogAnomaly", 100, source="detector:logs", service="checkout"),  # other entity
            alert("NewLogTemplate", 130, source="detector:logs", service="postgres"),
            alert("HighErrorRate", 150, severity="critical", service="checkout"),
            alert("DatabaseConnectionsNearLimit", 160, severity="critical", service="postgres"),
        ],
        until=300,
    )
    reason = only(f)["root_cause"]["reason"]
    assert only(f)["root_cause"]["service"] == "postgres"
    assert "first alert DatabaseConnectionsNearLimit at 2026-03-02T10:02:40Z" in reason
    assert reason.endswith("first signal NewLogTemplate at 2026-03-02T10:02:10Z (30s earlier)")


def test_an_incident_of_anomalies_alone_says_its_first_is_an_anomaly():
    f = Feeder(SHOP).feed(
        [alert(name, at, source="detector:logs", service="checkout")
         for name, at in (("LogAnomaly", 0), ("LogErrorBurst", 20), ("NewLogTemplate", 40))]
        + [alert("MetricAnomaly", 30, source="detector:metrics", service="checkout")],
        until=900,
    )
    reason = only(f)["root_cause"]["reason"]
    assert "first anomaly LogAnomaly at" in reason and "first signal" not in reason

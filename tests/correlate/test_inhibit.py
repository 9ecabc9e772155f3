"""Inhibition as Alertmanager defines it; inhibited alerts join the source's incident."""

from __future__ import annotations

from tests.correlate.helpers import SHOP, Feeder, alert

RULES = {
    **SHOP,
    "inhibit_rules": [
        {
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['severity="warning"'],
            "equal": ["alertname", "service"],
        }
    ],
}


def test_critical_inhibits_warning_with_equal_labels():
    f = Feeder(RULES).feed(
        [
            alert("DiskFull", 0, severity="critical", service="postgres"),
            alert("DiskFull", 10, severity="warning", service="postgres", mountpoint="/data"),
            alert("DiskFull", 20, severity="warning", service="redis"),  # different service: not inhibited
        ],
        until=300,
    )
    inh = f.alert_row("DiskFull", severity="warning", service="postgres")
    src = f.alert_row("DiskFull", severity="critical")
    assert inh["suppressed"] == f"inhibited by {src['id']}"
    assert inh["incident_id"] == src["incident_id"]
    inc = f.incidents[src["incident_id"]]
    ev = f.members(inc)[inh["id"]]
    assert ev["rule"] == "inhibited" and ev["matched"] == src["id"]
    assert inc["root_cause"]["service"] == "postgres"
    assert f.alert_row("DiskFull", service="redis")["suppressed"] is None


def test_no_inhibition_without_a_firing_source_or_by_itself():
    rules = {
        **SHOP,
        "inhibit_rules": [
            {"source_matchers": ['alertname="NodeDown"'], "target_matchers": ['alertname=~".+"'], "equal": []}
        ],
    }
    f = Feeder(rules).feed(
        [
            alert("NodeDown", 0, 30, severity="critical", instance="host-2:9100", job="node"),
            alert("HighErrorRate", 60, severity="critical", service="checkout"),
        ],
        until=400,
    )
    assert f.alert_row("NodeDown")["suppressed"] is None  # an alert never inhibits itself
    assert f.alert_row("HighErrorRate")["suppressed"] is None  # the source had resolved


def test_missing_equal_labels_count_as_equal():
    rules = {
        **SHOP,
        "inhibit_rules": [
            {
                "source_match": {"alertname": "ClusterDown"},
                "target_match_re": {"alertname": "High.*"},
                "target_matchers": [],
                "equal": ["cluster"],
            }
        ],
    }
    f = Feeder(rules).feed(
        [
            alert("ClusterDown", 0, severity="critical", service="checkout"),
            alert("HighLatency", 5, severity="warning", service="frontend"),
        ],
        until=200,
    )
    assert f.alert_row("HighLatency")["suppressed"].startswith("inhibited by")

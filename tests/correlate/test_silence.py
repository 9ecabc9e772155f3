"""Silences and maintenance windows: Alertmanager matchers over a time range."""

from __future__ import annotations

import pytest

from aiops.correlate.silence import Matcher, parse_matchers
from tests.correlate.helpers import SHOP, Feeder, alert, event, t


@pytest.mark.parametrize(
    "text,labels,hit",
    [
        ('service="checkout"', {"service": "checkout"}, True),
        ('service="checkout"', {"service": "payments"}, False),
        ('service!="checkout"', {"service": "payments"}, True),
        ('service=~"check.*"', {"service": "checkout"}, True),
        ('service=~"check"', {"service": "checkout"}, False),  # anchored, like Alertmanager
        ('service!~"pay.*|check.*"', {"service": "frontend"}, True),
        ('env=""', {"service": "x"}, True),  # a missing label is the empty string
        ("severity=critical", {"severity": "critical"}, True),
        ('summary="a \\"quoted\\" word"', {"summary": 'a "quoted" word'}, True),
    ],
)
def test_matchers(text, labels, hit):
    assert Matcher.parse(text).matches(labels) is hit


def test_matcher_forms_and_errors():
    assert [str(m) for m in parse_matchers('{service="a", env=~"prod|stage"}')] == [
        'service="a"',
        'env=~"prod|stage"',
    ]
    assert [str(m) for m in parse_matchers({"service": "a"})] == ['service="a"']
    assert (
        str(Matcher.parse({"name": "job", "value": "x.*", "isRegex": True, "isEqual": False})) == 'job!~"x.*"'
    )
    with pytest.raises(ValueError, match="bad matcher"):
        Matcher.parse("no operator")
    with pytest.raises(ValueError, match="invalid regex"):
        Matcher.parse('a=~"("')


def test_configured_silence_suppresses_only_inside_its_window():
    cfg = {
        **SHOP,
        "silences": [
            {
                "matchers": ['service="checkout"'],
                "starts_at": "2026-03-02T10:05:00Z",
                "ends_at": "2026-03-02T10:10:00Z",
                "created_by": "ops",
                "comment": "upgrade",
            }
        ],
    }
    f = Feeder(cfg).feed(
        [
            alert("HighErrorRate", 400, severity="critical", service="checkout"),
            alert("HighErrorRate", 700, severity="critical", service="payments"),
            alert("Other", 900, severity="critical", service="checkout"),
        ],
        until=1000,
    )
    assert f.alert_row("HighErrorRate", service="checkout")["suppressed"].startswith("silenced by sil-")
    assert f.alert_row("HighErrorRate", service="checkout")["incident_id"] is None
    assert f.alert_row("Other")["suppressed"] is None and f.alert_row("Other")["incident_id"]
    silences = f.corr.list_silences()
    assert len(silences) == 1 and silences[0]["comment"] == "upgrade"


def test_api_silence_add_list_expire():
    f = Feeder()
    row = f.corr.add_silence(['alertname="Noisy"'], t(0), t(3600), "me", "shh")
    assert row["id"].startswith("sil-") and row["matchers"] == ['alertname="Noisy"']
    f.feed([alert("Noisy", 60, severity="critical", service="frontend")])
    assert f.alert_row("Noisy")["suppressed"] == f"silenced by {row['id']}"
    expired = f.corr.expire_silence(row["id"], t(120))
    assert expired["expired_at"].startswith("2026-03-02T10:02:00")
    f.feed([alert("Noisy", 180, severity="critical", service="frontend", instance="b")])
    assert f.alert_row("Noisy", instance="b")["suppressed"] is None
    with pytest.raises(ValueError):
        f.corr.add_silence([], t(0), t(10))
    with pytest.raises(KeyError):
        f.corr.expire_silence("sil-nope", t(0))


def test_maintenance_event_silences_its_service():
    f = Feeder().feed(
        [
            event("maintenance", 0, service="reporting", until="2026-03-02T10:20:00Z"),
            alert("KubeJobFailed", 300, severity="critical", service="reporting"),
            alert("KubeJobFailed", 1500, severity="critical", service="reporting", job_name="b"),
        ],
        until=1600,
    )
    rows = sorted((r for r in f.alerts.values()), key=lambda r: r["starts_at"])
    assert rows[0]["suppressed"].startswith("silenced") and rows[0]["incident_id"] is None
    assert rows[1]["suppressed"] is None and rows[1]["incident_id"] is not None

"""MetricDetector in the engine's shape: samples in, firing/resolved alerts out."""

from __future__ import annotations

from datetime import timedelta, timezone

from detect_helpers import nab_frame

from aiops.detect import MetricDetector
from aiops.schema import MetricSample


def _samples(name="ec2_request_latency_system_failure", labels=None):
    df = nab_frame(name)
    return [MetricSample(ts=t.to_pydatetime().replace(tzinfo=timezone.utc), name="latency_ms",
                         value=float(v), labels=dict(labels or {"service": "checkout"}))
            for t, v in zip(df["timestamp"], df["value"])]


def run(samples, step, reload_every=None):
    det, alerts = MetricDetector(warmup=600), []
    for n, i in enumerate(range(0, len(samples), step)):
        if reload_every and n and n % reload_every == 0:
            state, det = det.get_state(), MetricDetector(warmup=600)
            det.set_state(state)
        chunk = samples[i:i + step]
        alerts += det.observe(chunk, chunk[-1].ts - timedelta(minutes=5))
    return alerts + det.flush(samples[-1].ts)


def test_episodes_become_firing_then_resolved_alerts():
    samples = _samples()
    alerts = run(samples, 4032)
    firing = [a for a in alerts if a.status == "firing"]
    resolved = [a for a in alerts if a.status == "resolved"]
    assert 1 <= len(firing) <= 20 and len(firing) == len(resolved)
    for f, r in zip(firing, resolved):
        assert f.fingerprint == r.fingerprint and f.starts_at == r.starts_at <= r.ends_at
    a = firing[0]
    assert a.source == "detector:metrics"
    assert a.labels == {"service": "checkout", "alertname": "MetricAnomaly",
                        "metric": "latency_ms"}
    assert {"summary", "description", "feature", "value", "score"} <= set(a.annotations)
    assert float(a.annotations["score"]) >= float(a.annotations["threshold"])
    # the labelled failure at the end of the series is among the episodes
    assert any(f.starts_at.isoformat() >= "2014-03-20T21:26" for f in firing)


def test_chunking_and_restarts_do_not_change_alerts():
    samples = _samples()
    key = [(a.status, a.starts_at, a.ends_at, a.annotations["score"])
           for a in run(samples, 4032)]
    assert key == [(a.status, a.starts_at, a.ends_at, a.annotations["score"])
                   for a in run(samples, 500, reload_every=3)]


def test_series_are_separate_and_other_records_ignored():
    a = _samples(labels={"service": "a"})[:1200]
    b = _samples("rogue_agent_key_hold", labels={"job": "b"})[:1200]
    det = MetricDetector(warmup=300)
    mixed = sorted(a + b, key=lambda s: s.ts)
    det.observe(mixed + ["not a record"], mixed[-1].ts)
    assert len(det.series) == 2
    assert {s.service for s in det.series.values()} == {"a", "b"}

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


def test_a_series_is_its_labels_whatever_their_order_or_values():
    """The per-batch key memo: labels given in another order are the same series; an
    unhashable label value (labels from an embedding caller) is keyed, not a crash."""
    samples = _samples(labels={"service": "a", "instance": "h1"})[:400]
    for i, s in enumerate(samples):
        if i % 2:
            s.labels = {"instance": "h1", "service": "a"}
    odd = [MetricSample(ts=s.ts, name="latency_ms", value=s.value,
                        labels={"service": "a", "zones": ["z1"]}) for s in samples[:50]]
    det = MetricDetector(warmup=300)
    det.observe(samples + odd, samples[-1].ts)
    assert sorted(det.series) == ['latency_ms{instance="h1",service="a"}',
                                  "latency_ms{service=\"a\",zones=\"['z1']\"}"]
    assert det.series['latency_ms{instance="h1",service="a"}'].scorer.n_seen_ == 400


def test_recent_scores_ring_keeps_the_last_points_in_order_across_pickling():
    import pickle
    import random
    from collections import deque

    from aiops.detect.metrics import RecentScores
    rng = random.Random(7)
    for maxlen in (0, 1, 5, 64, 100, 1000):
        for n in (0, 1, 63, 64, 65, 100, 101, 2500):
            ring, ref = RecentScores(maxlen), deque(maxlen=maxlen)
            for _ in range(n):
                v = rng.random()
                ring.append(v)
                ref.append(v)
            assert ring.values().tolist() == list(ref) and len(ring) == len(ref)
            ring = pickle.loads(pickle.dumps(ring))
            for _ in range(70):  # appending after a reload continues the same ring
                v = rng.random()
                ring.append(v)
                ref.append(v)
            assert ring.values().tolist() == list(ref) and len(ring) == len(ref)


def test_a_state_with_the_old_deque_of_scores_resumes_the_same():
    """States written before RecentScores kept a deque of numpy scalars."""
    from collections import deque

    samples = _samples()
    params = dict(warmup=600, calibration_points=400, recalibrate_every=50)
    whole = MetricDetector(**params)
    expected = whole.observe(samples, samples[-1].ts) + whole.flush(samples[-1].ts)
    det, half = MetricDetector(**params), len(samples) // 2
    got = det.observe(samples[:half], samples[half - 1].ts)
    for st in det.series.values():
        assert len(st.recent) == 400  # the ring has wrapped
        st.recent = deque(st.recent.values().tolist(), maxlen=st.recent.maxlen)
    resumed = MetricDetector(**params)
    resumed.set_state(det.get_state())
    got += resumed.observe(samples[half:], samples[-1].ts) + resumed.flush(samples[-1].ts)
    key = [(a.status, a.starts_at, a.ends_at, a.annotations["score"]) for a in got]
    assert key == [(a.status, a.starts_at, a.ends_at, a.annotations["score"]) for a in expected]
    assert len(expected) >= 2

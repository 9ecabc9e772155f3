"""Episodes: hysteresis, minimum duration and quiet periods turn scores into one alert each."""

from __future__ import annotations

from aiops.detect.alerting import Episodes, seconds


def feed(ep: Episodes, points, high=1.0, low=0.5, key="k"):
    out = []
    for t, s in points:
        out += ep.update(key, t, s, high, low, info=s)
    return out


def test_one_episode_fires_once_and_resolves_after_quiet_period():
    ep = Episodes(resolve_after=600, stale_after=None)
    # above, dips between low and high (stays open), below briefly, back above, then quiet
    points = [(0, 0.1), (60, 1.2), (120, 0.7), (180, 0.3), (240, 1.1), (300, 0.2),
              (600, 0.2), (960, 0.2)]
    out = feed(ep, points)
    assert [(t.status, t.starts_at, t.ends_at) for t in out] == [
        ("firing", 60, None), ("resolved", 60, 300)]
    assert out[1].score == 1.2  # the peak of the episode


def test_minimum_duration_drops_a_one_sample_blip():
    ep = Episodes(min_duration=120, resolve_after=0, stale_after=None)
    assert feed(ep, [(0, 2.0), (60, 0.1)]) == []
    out = feed(ep, [(600, 2.0), (660, 0.9), (720, 0.8), (780, 0.1)])
    assert [(t.status, t.starts_at) for t in out] == [("firing", 720), ("resolved", 720)]


def test_time_passing_resolves_and_stale_keys_end():
    ep = Episodes(resolve_after=300, stale_after=900)
    feed(ep, [(0, 2.0), (60, 0.1)], key="a")
    feed(ep, [(0, 2.0)], key="b")
    assert ep.advance(200) == []
    first = ep.advance(400)
    assert [(t.key, t.ends_at) for t in first] == [("a", 60)]
    second = ep.advance(1000)
    assert [(t.key, t.ends_at) for t in second] == [("b", 0)]
    assert not ep.active("a") and not ep.active("b")


def test_same_transitions_whatever_the_watermarks():
    points = [(i * 60, s) for i, s in enumerate([0, 2, 2, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0])]
    a = Episodes(resolve_after=180, stale_after=None)
    b = Episodes(resolve_after=180, stale_after=None)
    got_a = feed(a, points) + a.close(10_000)
    got_b = []
    for t, s in points:
        got_b += b.advance(t) + b.update("k", t, s, 1.0, 0.5, info=s)
    got_b += b.close(10_000)
    assert [(x.status, x.starts_at, x.ends_at) for x in got_a] == \
        [(x.status, x.starts_at, x.ends_at) for x in got_b]
    assert len(got_a) == 4


def test_durations():
    assert seconds("90s") == 90 and seconds("30m") == 1800 and seconds("1h") == 3600
    assert seconds("1d") == 86400 and seconds(15) == 15.0

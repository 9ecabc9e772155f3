"""build_detectors: the engine's [detect] section -> detector instances, strict about keys."""

from __future__ import annotations

import pytest

from aiops.detect import (KubernetesDetector, LogDetector, MetricDetector, SessionDetector,
                          build_detectors)


def test_defaults_are_metrics_logs_and_kubernetes():
    kinds = [type(d) for d in build_detectors({})]
    assert kinds == [MetricDetector, LogDetector, KubernetesDetector]


def test_tables_configure_and_enable():
    dets = build_detectors({"metrics": {"budget": 0.001, "smooth": "30m"},
                            "sessions": {"id_pattern": r"req-\d+", "warmup_sessions": 50}})
    assert [type(d) for d in dets] == [MetricDetector, LogDetector, SessionDetector,
                                       KubernetesDetector]
    assert dets[0].budget == 0.001 and dets[2].id_pattern == r"req-\d+"
    only = build_detectors({"enabled": ["logs"]})
    assert [type(d) for d in only] == [LogDetector]
    assert [type(d) for d in build_detectors({"logs": {"enabled": False}})] == [
        MetricDetector, KubernetesDetector]


@pytest.mark.parametrize("config, needle", [
    ({"metric": {}}, "unknown key 'metric'"),
    ({"metrics": {"bugdet": 0.1}}, "unknown parameter 'bugdet'"),
    ({"metrics": {"budget": 3}}, "budget must be a fraction"),
    ({"logs": {"window": "soon"}}, "window"),
    ({"sessions": {"id_pattern": "("}}, "not a valid regex"),
    ({"enabled": "metrics"}, "must be a list"),
    # accepted before stop 21, then failed at the first fit or threshold, mid-replay
    ({"logs": {"n_estimators": 0}}, "n_estimators must be a whole number of trees, at least 1"),
    ({"metrics": {"calibration_points": -1}}, "calibration_points must be at least 1"),
    ({"metrics": {"recalibrate_every": 0}}, "recalibrate_every must be at least 1"),
    ({"kubernetes": {"reasons": "BackOff"}}, "reasons must be a list of Event reasons"),
    ({"kubernetes": {"resolve_after": "0s"}}, "resolve_after must be positive"),
])
def test_bad_config_is_a_clear_type_error(config, needle):
    with pytest.raises(TypeError, match="detect") as info:
        build_detectors(config)
    assert needle in str(info.value)

"""Anomaly detectors: IsolationForest over metric series, log-template windows and sessions,
and the Warning Events a Kubernetes cluster reports.

The engine builds them with :func:`build_detectors` from the ``[detect]`` config
section; each has ``observe(records, watermark) -> list[Alert]``, ``flush``,
``get_state`` / ``set_state`` (see docs/engine-contracts.md and the README, "Anomaly detection").
"""

from __future__ import annotations

import inspect
from typing import Any

from aiops.detect.kubernetes import KubernetesDetector
from aiops.detect.logs import LogDetector
from aiops.detect.metrics import MetricDetector
from aiops.detect.scorer import MetricScorer
from aiops.detect.sessions import SessionDetector, SessionModel

__all__ = ["DETECTORS", "KubernetesDetector", "LogDetector", "MetricDetector", "MetricScorer",
           "SessionDetector", "SessionModel", "build_detectors"]

#: ``[detect.<name>]`` table -> detector class; parameters are its ``__init__`` arguments.
DETECTORS: dict[str, type] = {
    "metrics": MetricDetector,
    "logs": LogDetector,
    "sessions": SessionDetector,
    "kubernetes": KubernetesDetector,
}
#: Enabled when ``[detect]`` does not mention them.
DEFAULT_ON = ("metrics", "logs", "kubernetes")


def build_detectors(config: dict[str, Any]) -> list:
    """Detectors for the ``[detect]`` section.

    ``[detect] enabled = ["metrics", "logs", "sessions", "kubernetes"]`` picks detectors
    (default: metrics, logs and kubernetes); ``[detect.metrics]``, ``[detect.logs]``, ``[detect.sessions]``
    hold each one's parameters (a table there also enables it; ``enabled = false``
    inside a table disables it). Unknown keys raise ``TypeError`` naming the key and
    the accepted ones, which the engine reports as a config error.
    """
    config = dict(config or {})
    enabled = config.pop("enabled", None)
    if enabled is not None and (isinstance(enabled, str)
                                or not all(isinstance(n, str) for n in enabled)):
        raise TypeError("[detect] enabled must be a list of detector names, "
                        f"e.g. [\"metrics\", \"logs\"], got {enabled!r}")
    unknown = [k for k in list(config) + list(enabled or ()) if k not in DETECTORS]
    if unknown:
        raise TypeError(f"[detect]: unknown key {unknown[0]!r}; expected 'enabled' or one of "
                        f"{', '.join(DETECTORS)}")
    wanted = set(enabled) if enabled is not None else set(DEFAULT_ON) | set(config)
    detectors = []
    for name, cls in DETECTORS.items():
        params = config.get(name, {})
        if params is True or params is False:
            params = {"enabled": params}
        if not isinstance(params, dict):
            raise TypeError(f"[detect.{name}] must be a table of parameters, got {params!r}")
        params = dict(params)
        flag = params.pop("enabled", None)
        if flag is False or (name not in wanted and flag is not True):
            continue
        detectors.append(_build(name, cls, params))
    return detectors


def _build(name: str, cls: type, params: dict[str, Any]) -> Any:
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    for key in params:
        if key not in accepted:
            raise TypeError(f"[detect.{name}]: unknown parameter {key!r}; accepted: "
                            f"{', '.join(accepted)}")
    try:
        return cls(**params)
    except TypeError as exc:
        raise TypeError(f"[detect.{name}]: {exc}") from None

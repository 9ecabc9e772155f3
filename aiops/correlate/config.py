"""The ``[correlate]`` config section: every key optional, validated up front so a
typo fails at start-up with the key named, not silently mid-replay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import timedelta

from aiops.schema import HOST_LABELS, SEVERITIES

_DUR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}

LAYERS = ("infrastructure", "application", "model serving")
DEFAULT_TEAMS = {
    "infrastructure": "SRE",
    "application": "application team",
    "model serving": "ML engineering",
}


def duration(value, key: str = "duration") -> timedelta:
    """``"90s"``, ``"15m"``, ``"2h"`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"correlate.{key}: expected a duration like '30s' or '15m', got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:  # a negative window or hold accepted nothing, silently
            raise ValueError(f"correlate.{key}: a duration cannot be negative, got {value!r}")
        return timedelta(seconds=float(value))
    m = _DUR.match(str(value))
    if not m:
        raise ValueError(f"correlate.{key}: expected a duration like '30s' or '15m', got {value!r}")
    return timedelta(seconds=float(m.group(1)) * _UNIT[m.group(2)])


@dataclass
class CorrelateConfig:
    """Parameters of the correlation pipeline (defaults are the documented ones)."""

    group_by: list[str] = field(default_factory=lambda: ["service"])
    #: alerts whose values of one of these labels differ never share an incident (checkout
    #: failing in two clusters at once is two incidents); an alert without the label fits any
    scope_labels: list[str] = field(default_factory=lambda: ["cluster", "env", "environment"])
    group_window: timedelta = timedelta(minutes=15)
    hold_time: timedelta = timedelta(minutes=2)
    join_hold: timedelta = timedelta(seconds=30)
    min_severity: str = "warning"
    immediate_severity: str = "error"
    resolve_quiet: timedelta = timedelta(minutes=5)
    reopen_window: timedelta = timedelta(minutes=30)
    flap_window: timedelta = timedelta(minutes=15)
    flap_count: int = 3
    similarity_threshold: float = 0.6
    burst_window: timedelta = timedelta(seconds=60)
    max_hops: int = 2
    change_window: timedelta = timedelta(minutes=15)
    root_cause_lead: timedelta = timedelta(minutes=2)
    learn_cooccurrence: bool = True
    cooccurrence_min: int = 2
    dedup_by: list[str] = field(default_factory=list)
    retention: timedelta = timedelta(hours=24)
    detector_min_alerts: int = 3
    detector_hold: timedelta = timedelta(minutes=5)
    detector_lead: timedelta = timedelta(minutes=3)
    host_labels: list[str] = field(default_factory=lambda: list(HOST_LABELS))
    host_jobs: list[str] = field(default_factory=lambda: ["node", "node-exporter", "node_exporter", "nodes"])
    graph: dict[str, list[str]] = field(default_factory=dict)
    hosts: dict[str, list[str]] = field(default_factory=dict)
    model_endpoints: list[str] = field(default_factory=list)
    layers: dict[str, str] = field(default_factory=dict)
    teams: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_TEAMS))
    silences: list[dict] = field(default_factory=list)
    inhibit_rules: list[dict] = field(default_factory=list)

    @classmethod
    def from_dict(cls, raw: dict | None) -> "CorrelateConfig":
        raw = dict(raw or {})
        cfg = cls()
        known = {f.name: f for f in fields(cls)}
        for key, value in raw.items():
            name = key.replace("-", "_")
            if name not in known:
                raise ValueError(f"correlate.{key}: unknown key (known: {', '.join(sorted(known))})")
            default = getattr(cfg, name)
            if isinstance(default, timedelta):
                value = duration(value, key)
            elif isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"correlate.{key}: expected true or false, got {value!r}")
            elif isinstance(default, (int, float)):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError(f"correlate.{key}: expected a number, got {value!r}")
                value = type(default)(value)
            elif isinstance(default, list):
                if isinstance(value, str) and name not in ("silences", "inhibit_rules"):
                    value = [value]
                if not isinstance(value, list):
                    raise ValueError(f"correlate.{key}: expected a list, got {value!r}")
            elif isinstance(default, dict):
                if not isinstance(value, dict):
                    raise ValueError(f"correlate.{key}: expected a table, got {value!r}")
                if name == "teams":
                    value = {**DEFAULT_TEAMS, **value}
            elif isinstance(default, str) and not isinstance(value, str):
                raise ValueError(f"correlate.{key}: expected a string, got {value!r}")
            setattr(cfg, name, value)
        for key in ("min_severity", "immediate_severity"):
            if getattr(cfg, key) not in SEVERITIES:
                raise ValueError(f"correlate.{key}: expected one of {', '.join(SEVERITIES)}")
        for svc, layer in cfg.layers.items():
            if layer not in LAYERS:
                raise ValueError(
                    f"correlate.layers.{svc}: expected one of {', '.join(LAYERS)}, got {layer!r}"
                )
        for name, deps in {**cfg.graph, **cfg.hosts}.items():
            if isinstance(deps, str):
                deps = [deps]
            if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
                raise ValueError(f"correlate.graph/hosts.{name}: expected a list of names, got {deps!r}")
        cfg.graph = {k: [v] if isinstance(v, str) else list(v) for k, v in cfg.graph.items()}
        cfg.hosts = {k: [v] if isinstance(v, str) else list(v) for k, v in cfg.hosts.items()}
        if cfg.flap_count < 2:
            raise ValueError("correlate.flap_count: must be at least 2")
        return cfg

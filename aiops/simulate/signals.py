"""Metric series of a simulated system and the fault effects laid over them.

A series is baseline + seasonal wobble + noise; a fault adds ``Impact``s (move a
series towards a value, multiply it, add to it) with a ramp-in and a decay, so
alert rules evaluated on the series fire the way they would in production.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from aiops.simulate.topology import Topology

SCRAPE = 15.0  # seconds between samples


@dataclass
class Impact:
    metric: str
    entity: str  # service name or host name
    start: float  # seconds from scenario start
    end: float
    mode: str  # "mul" | "add" | "toward"
    mag: float
    ramp: float = 20.0
    decay: float = 45.0
    fault: str = ""

    def factor(self, t: float) -> float:
        if t < self.start or t >= self.end + self.decay:
            return 0.0
        if t < self.end:
            return min(1.0, (t - self.start) / self.ramp) if self.ramp > 0 else 1.0
        peak = min(1.0, (self.end - self.start) / self.ramp) if self.ramp > 0 else 1.0
        return peak * (1.0 - (t - self.end) / self.decay)

    def apply(self, v: float, t: float) -> float:
        f = self.factor(t)
        if f <= 0.0:
            return v
        if self.mode == "mul":
            return v * (1.0 + (self.mag - 1.0) * f)
        if self.mode == "add":
            return v + self.mag * f
        return v + (self.mag - v) * f  # toward


@dataclass
class Series:
    metric: str
    labels: dict[str, str]
    entity: str
    base: float
    noise: float  # relative sd
    fmt: str = "csv"  # csv (app metrics) | json (node metrics)
    lo: float = 0.0
    hi: float = math.inf
    period: float = 1800.0
    phase: float = 0.0
    offset: float = 0.0  # scrape offset within the interval
    drift: float = 0.0  # per hour, e.g. a disk slowly filling
    wobble: float = 0.06  # relative amplitude of the daily-traffic-like seasonal swing
    impacts: list[Impact] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def render(self, duration: float, rng: random.Random) -> None:
        t = self.offset
        times, values = [], []
        while t < duration:
            v = self.base * (1.0 + self.wobble * math.sin(2 * math.pi * t / self.period + self.phase))
            v += self.drift * t / 3600.0
            v *= 1.0 + rng.gauss(0.0, self.noise)
            for imp in self.impacts:
                v = imp.apply(v, t)
            times.append(t)
            values.append(min(self.hi, max(self.lo, v)))
            t += SCRAPE
        self.times, self.values = times, values

    def at(self, t: float) -> float | None:
        """Latest sample at or before ``t`` (what a Prometheus instant query returns)."""
        if not self.times or t < self.times[0]:
            return None
        i = min(len(self.times) - 1, int((t - self.offset) // SCRAPE))
        return self.values[i]

    def window(self, t: float, span: float) -> list[tuple[float, float]]:
        j = min(len(self.times) - 1, int((t - self.offset) // SCRAPE))
        out = []
        while j >= 0 and self.times[j] > t - span:
            out.append((self.times[j], self.values[j]))
            j -= 1
        return out[::-1]


APP_KINDS = ("web", "gateway", "app", "model")


def series_for(topo: Topology, rng: random.Random) -> list[Series]:
    """Every series the monitoring of ``topo`` would scrape."""
    out: list[Series] = []

    def add(metric, labels, entity, base, noise, **kw):
        out.append(
            Series(
                metric,
                labels,
                entity,
                base,
                noise,
                offset=rng.uniform(0, SCRAPE),
                phase=rng.uniform(0, 6.28),
                period=rng.uniform(1200, 3600),
                **kw,
            )
        )

    for s in topo.services.values():
        for inst, _host in s.instances():
            lab = {"service": s.name, "instance": inst}
            if s.kind in APP_KINDS:
                add("http_requests_per_second", lab, s.name, rng.uniform(15, 90), 0.05)
                add("http_request_duration_seconds_p99", lab, s.name, rng.uniform(0.08, 0.3), 0.06)
                add("http_requests_error_ratio", lab, s.name, rng.uniform(0.001, 0.006), 0.25, hi=1.0)
            if s.kind == "db":
                add("db_connections_used_ratio", lab, s.name, rng.uniform(0.3, 0.45), 0.05, hi=1.0)
                add("db_query_duration_seconds_p99", lab, s.name, rng.uniform(0.01, 0.03), 0.08)
                add("db_errors_per_second", lab, s.name, 0.02, 0.5)
            if s.kind == "cache":
                add("cache_memory_used_ratio", lab, s.name, rng.uniform(0.4, 0.6), 0.02, hi=1.0)
                add("cache_command_duration_seconds_p99", lab, s.name, 0.002, 0.08)
            if s.kind == "model":
                add("model_inference_duration_seconds_p99", lab, s.name, rng.uniform(0.04, 0.08), 0.06)
                add("model_feature_drift_psi", lab, s.name, 0.04, 0.15, hi=5.0)
                add("model_prediction_confidence_mean", lab, s.name, 0.82, 0.01, hi=1.0)
    for h in topo.hosts:
        lab = {"host": h, "instance": f"{h}:9100"}
        add("node_cpu_utilisation", lab, h, rng.uniform(0.2, 0.45), 0.06, fmt="json", hi=1.0)
        add("node_memory_utilisation", lab, h, rng.uniform(0.45, 0.6), 0.02, fmt="json", hi=1.0)
        add(
            "node_filesystem_avail_ratio",
            {**lab, "mountpoint": "/"},
            h,
            rng.uniform(0.45, 0.6),
            0.002,
            fmt="json",
            hi=1.0,
            drift=-0.002,
            wobble=0.0,
        )
    return out


def attach(series: list[Series], impacts: list[Impact]) -> None:
    by_key: dict[tuple[str, str], list[Series]] = {}
    for s in series:
        by_key.setdefault((s.metric, s.entity), []).append(s)
    for imp in impacts:
        for s in by_key.get((imp.metric, imp.entity), []):
            s.impacts.append(imp)

"""Prometheus alert rules evaluated over the simulated series, then Alertmanager's
grouping/throttling, producing webhook v4 bodies exactly as Alertmanager sends them.

Prometheus: every ``eval_interval`` a rule's condition is checked per series;
true -> pending (activeAt), firing after ``for`` (StartsAt = FiredAt), false ->
resolved (EndsAt = ResolvedAt). Alertmanager: alerts are grouped by
``group_by``; a new group is flushed after ``group_wait``, then re-checked every
``group_interval``; a notification is sent when the firing set changed, alerts
resolved, or ``repeat_interval`` passed (the "repeats" noise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from aiops.schema import fingerprint
from aiops.simulate.signals import Series

GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def go_time(ts: datetime) -> str:
    """Go's RFC3339Nano as Alertmanager writes it: UTC, trailing fraction zeros trimmed."""
    s = ts.strftime("%Y-%m-%dT%H:%M:%S")
    if ts.microsecond:
        s += "." + f"{ts.microsecond:06d}".rstrip("0")
    return s + "Z"


@dataclass
class Rule:
    name: str
    metric: str
    cond: Callable[[Series, float], bool]
    for_s: float
    severity: str
    summary: str  # format fields: service, instance, host, value
    keep_labels: tuple[str, ...] = ("service", "instance")
    extra: dict[str, str] = field(default_factory=dict)
    job: str = ""


def above(th: float) -> Callable[[Series, float], bool]:
    return lambda s, t: (v := s.at(t)) is not None and v > th


def below(th: float) -> Callable[[Series, float], bool]:
    return lambda s, t: (v := s.at(t)) is not None and v < th


def predict_below(th: float, span: float, horizon: float) -> Callable[[Series, float], bool]:
    """``predict_linear(metric[span], horizon) < th`` by least squares, as Prometheus does."""

    def cond(s: Series, t: float) -> bool:
        pts = s.window(t, span)
        if len(pts) < 3:
            return False
        n = len(pts)
        mx = sum(p[0] for p in pts) / n
        my = sum(p[1] for p in pts) / n
        sxx = sum((p[0] - mx) ** 2 for p in pts)
        if sxx == 0:
            return False
        slope = sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx
        return my + slope * (t - mx + horizon) < th

    return cond


@dataclass
class AlertInstance:
    labels: dict[str, str]
    annotations: dict[str, str]
    fired_at: float
    resolved_at: float | None
    active_at: float
    fault: str = ""  # id of the fault whose impact caused it; "" = background noise
    noise: str = ""  # flapping | transient | low_severity | silenced | unrelated
    visible: bool = False  # reached the receiver (Alertmanager may never send short alerts)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)


def evaluate_rules(
    rules: list[Rule],
    series: list[Series],
    duration: float,
    eval_interval: float = 15.0,
    offset: float = 7.558,
) -> list[AlertInstance]:
    """Run each rule over each matching series like the Prometheus rule manager."""
    out: list[AlertInstance] = []
    by_metric: dict[str, list[Series]] = {}
    for s in series:
        by_metric.setdefault(s.metric, []).append(s)
    for rule in rules:
        for s in by_metric.get(rule.metric, []):
            labels = {"alertname": rule.name, "severity": rule.severity, **rule.extra}
            labels.update({k: v for k, v in s.labels.items() if k in rule.keep_labels})
            if rule.job:
                labels["job"] = rule.job
            active = fired = None
            t = offset
            while t < duration:
                if rule.cond(s, t):
                    if active is None:
                        active = t
                    if fired is None and t - active >= rule.for_s:
                        fired = t
                        value = s.at(t) or 0.0
                        fmt = {**s.labels, "value": value, "pct": value * 100}
                        ann = {"summary": rule.summary.format(**fmt)}
                        cur = AlertInstance(labels, ann, fired, None, active, _cause(s, active, t))
                        out.append(cur)
                elif active is not None:
                    if fired is not None:
                        cur.resolved_at = t
                        cur.fault = cur.fault or _cause(s, active, t)
                    active = fired = None
                t += eval_interval
    return out


def _cause(s: Series, start: float, end: float) -> str:
    """The fault whose impact was acting on the series while the alert was pending/firing."""
    for imp in s.impacts:
        if imp.fault and imp.start - 30 <= end and start <= imp.end + imp.decay:
            return imp.fault
    return ""


def alertmanager_bodies(
    instances: list[AlertInstance],
    t0: datetime,
    group_by: tuple[str, ...],
    group_wait: float = 30.0,
    group_interval: float = 300.0,
    repeat_interval: float = 1200.0,
    receiver: str = "aiops",
    external_url: str = "http://alertmanager.example:9093",
    generator: str = "http://prometheus.example:9090",
) -> list[tuple[float, dict]]:
    """Webhook bodies (send time in seconds, body) for every notification Alertmanager makes.

    Follows Alertmanager 0.25: one alert per fingerprint in a group (a re-fire replaces the
    resolved instance), the dedup stage's ``needsUpdate`` (nothing is sent for a group whose
    alerts all resolved before its first flush), resolved alerts dropped after a flush, the
    notification log kept per group key across group re-creation. Instances that reach the
    webhook get ``visible = True``.
    """
    groups: dict[tuple, list[AlertInstance]] = {}
    for a in instances:
        key = tuple((k, a.labels[k]) for k in sorted(group_by) if k in a.labels)
        groups.setdefault(key, []).append(a)
    sends: list[tuple[float, dict]] = []
    delay = 0.9  # Prometheus -> Alertmanager delivery
    horizon = max(((a.resolved_at or a.fired_at) for a in instances), default=0.0) + group_interval
    for key, members in groups.items():
        members.sort(key=lambda a: a.fired_at)
        entry: tuple[frozenset, frozenset, float] | None = None  # nflog: firing, resolved, sent at
        i = 0
        while i < len(members):
            store: dict[str, AlertInstance] = {}
            t = members[i].fired_at + delay + group_wait
            while True:
                while i < len(members) and members[i].fired_at + delay <= t:
                    store[members[i].fingerprint] = members[i]
                    i += 1
                if not store:
                    break  # group emptied: Alertmanager drops it; the next alert makes a new one
                done = [a for a in store.values() if a.resolved_at is not None and a.resolved_at + delay <= t]
                firing = frozenset(fp for fp, a in store.items() if a not in done)
                resolved = frozenset(a.fingerprint for a in done)
                if _needs_update(entry, firing, resolved, t, repeat_interval):
                    sends.append(
                        (t, _body(key, list(store.values()), t, t0, receiver, external_url, generator))
                    )
                    for a in store.values():
                        a.visible = True
                    entry = (firing, resolved, t)
                for a in done:
                    del store[a.fingerprint]
                t += group_interval
                if t > horizon and i >= len(members):
                    break  # the input ends; still-firing alerts stay firing
    sends.sort(key=lambda x: x[0])
    return sends


def _needs_update(entry, firing: frozenset, resolved: frozenset, now: float, repeat: float) -> bool:
    if entry is None:
        return bool(firing)
    e_firing, e_resolved, sent = entry
    if not firing <= e_firing:
        return True
    if not firing:
        return bool(e_firing)
    if not resolved <= e_resolved:
        return True
    return sent < now - repeat


def _body(
    key: tuple,
    alerts: list[AlertInstance],
    t: float,
    t0: datetime,
    receiver: str,
    external_url: str,
    generator: str,
) -> dict:
    alerts = sorted(alerts, key=lambda a: sorted(a.labels.items()))
    rows = []
    for a in alerts:
        firing = a.resolved_at is None or a.resolved_at + 0.9 > t
        rows.append(
            {
                "status": "firing" if firing else "resolved",
                "labels": dict(sorted(a.labels.items())),
                "annotations": dict(sorted(a.annotations.items())),
                "startsAt": go_time(t0 + timedelta(seconds=a.fired_at)),
                "endsAt": GO_ZERO_TIME if firing else go_time(t0 + timedelta(seconds=a.resolved_at)),
                "generatorURL": f"{generator}/graph?g0.expr={a.labels['alertname']}&g0.tab=1",
                "fingerprint": a.fingerprint,
            }
        )
    common = dict(rows[0]["labels"])
    common_ann = dict(rows[0]["annotations"])
    for r in rows[1:]:
        common = {k: v for k, v in common.items() if r["labels"].get(k) == v}
        common_ann = {k: v for k, v in common_ann.items() if r["annotations"].get(k) == v}
    inner = ", ".join(f'{k}="{v}"' for k, v in key)
    return {
        "receiver": receiver,
        "status": "firing" if any(r["status"] == "firing" for r in rows) else "resolved",
        "alerts": rows,
        "groupLabels": dict(key),
        "commonLabels": common,
        "commonAnnotations": common_ann,
        "externalURL": external_url,
        "version": "4",
        "groupKey": "{}:{" + inner + "}",
        "truncatedAlerts": 0,
    }

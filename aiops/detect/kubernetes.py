"""Kubernetes Warning events as anomaly alerts: the symptoms a cluster reports itself.

A container in CrashLoopBackOff, failing probes, an OOM kill, an eviction, a pod that cannot
be scheduled or mount its volume, a node gone NotReady: Kubernetes records each as a
``Warning`` Event, and ``ingest.k8sevents`` reads those as change events, which only
*explain* alerts (a restart before an alert). This detector also makes them evidence: one
alert per (namespace, workload or node, reason) while the Event recurs, starting at its first
occurrence and resolved ``resolve_after`` after its last (``lastTimestamp`` / the series'
``lastObservedTime`` extends it). Like every detector alert they join the incident of their
service and never page alone (see the README, Correlation, "Opening"): a crash-looping
checkout joins checkout's HighErrorRate incident instead of sitting in ``kubectl get events``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aiops.detect import persist
from aiops.detect.alerting import seconds, to_datetime
from aiops.schema import Alert, Event, normalize_severity

#: Warning reasons that are symptoms (kubelet, scheduler, controllers); ``reasons = ["*"]``
#: takes every Warning (HPA and DNS warnings included, which many clusters emit all day)
DEFAULT_REASONS = ("BackOff", "Unhealthy", "Failed", "OOMKilling", "SystemOOM", "Evicted",
                   "FailedScheduling", "FailedMount", "FailedAttachVolume",
                   "FailedCreatePodSandBox", "NodeNotReady", "EvictionThresholdMet",
                   "FreeDiskSpaceFailed", "ImageGCFailed")


@dataclass
class _Episode:
    start: float  # first occurrence
    last: float   # latest occurrence (an Event's count covers first..last: no gap in between)
    message: str
    object: str
    node: str


class KubernetesDetector:
    """Warning Events (those of ``ingest.k8sevents``) -> detector alerts, per source object."""

    source = "detector:kubernetes"

    def __init__(self, reasons: list[str] | tuple[str, ...] = DEFAULT_REASONS,
                 resolve_after: float | str = "10m", severity: str = "warning") -> None:
        if isinstance(reasons, str) or not reasons or not all(isinstance(r, str) and r
                                                              for r in reasons):
            raise TypeError(f"reasons must be a list of Event reasons (e.g. [\"BackOff\", "
                            f"\"Unhealthy\"], or [\"*\"] for every Warning), got {reasons!r}")
        self.reasons = tuple(reasons)
        self.resolve_after = resolve_after
        self.quiet_s = seconds(resolve_after, "resolve_after")
        if self.quiet_s <= 0:
            raise TypeError(f"resolve_after must be positive, got {resolve_after!r}")
        self.severity = normalize_severity(severity)
        self._any = "*" in self.reasons
        self._wanted = {r.lower() for r in self.reasons}
        self.open: dict[tuple[str, str, str], _Episode] = {}  # (namespace, entity, reason)

    # -- engine contract ----------------------------------------------------
    def observe(self, records: list, watermark: datetime) -> list[Alert]:
        alerts: list[Alert] = []
        for r in records:
            if type(r) is not Event:
                continue
            attrs = r.attributes
            reason = attrs.get("reason")
            if attrs.get("k8s_type") != "Warning" or not isinstance(reason, str) or not (
                    self._any or reason.lower() in self._wanted):
                continue
            entity = r.service or r.host
            if not entity:
                continue
            key = (str(attrs.get("namespace") or ""), entity, reason)
            first = r.ts.timestamp()
            last = max(first, _seconds(attrs.get("last_seen")) or first)
            ep = self.open.get(key)
            if ep is not None and first - ep.last >= self.quiet_s:  # it had ended before
                alerts.append(self._resolved(key, self.open.pop(key)))
                ep = None
            if ep is None:
                ep = self.open[key] = _Episode(first, last, r.message[:300],
                                               str(attrs.get("object", "")), r.host)
                alerts.append(self._alert(key, ep, "firing", None, first))
            # a watch re-sends an Event with the same first time and a higher count
            ep.last = max(ep.last, last)
        now = watermark.timestamp()
        for key in [k for k, ep in self.open.items() if now - ep.last >= self.quiet_s]:
            alerts.append(self._resolved(key, self.open.pop(key)))
        alerts.sort(key=lambda a: a.ts)
        return alerts

    def flush(self, watermark: datetime) -> list[Alert]:
        """End of input: every open episode ends at its last occurrence."""
        now = watermark.timestamp()
        alerts = [self._alert(key, ep, "resolved", ep.last, max(now, ep.last))
                  for key, ep in self.open.items()]
        self.open.clear()
        alerts.sort(key=lambda a: a.ts)
        return alerts

    def state_dump(self) -> persist.StateDump:
        return persist.StateDump("kubernetes", {"open": self.open})

    def get_state(self) -> bytes:
        return self.state_dump().to_bytes()

    def set_state(self, data: bytes) -> None:
        self.open = persist.loads("kubernetes", data)["open"]

    # -- alerts -------------------------------------------------------------
    def _resolved(self, key: tuple[str, str, str], ep: _Episode) -> Alert:
        return self._alert(key, ep, "resolved", ep.last, ep.last + self.quiet_s)

    def _alert(self, key: tuple[str, str, str], ep: _Episode, status: str,
               ends: float | None, decided: float) -> Alert:
        namespace, entity, reason = key
        labels = {"alertname": f"Kubernetes{reason}", "service": entity, "reason": reason}
        if namespace:
            labels["namespace"] = namespace
        return Alert(
            labels=labels, starts_at=to_datetime(ep.start), status=status,
            ends_at=None if ends is None else to_datetime(ends),
            annotations={"summary": f"Kubernetes {reason} on {entity}: {ep.message}"[:300],
                         "description": ep.message, "object": ep.object, "node": ep.node},
            observed_at=to_datetime(decided), source=self.source, severity=self.severity)


def _seconds(value: object) -> float | None:
    """An RFC 3339 time as Kubernetes writes it (``2026-11-28T17:40:00Z``), else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    return ts.timestamp() if ts.tzinfo is not None else None

"""Small builders for correlator tests: alerts/events at minute offsets, and a feeder that
calls the correlator the way the engine does (event-time order, watermark = record time)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from aiops.correlate import Correlator
from aiops.schema import Alert, Event

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)

SHOP = {
    "graph": {"frontend": ["api-gateway"], "api-gateway": ["checkout"], "checkout": ["postgres", "redis"]},
    "hosts": {"host-1": ["frontend", "api-gateway"], "host-2": ["checkout"], "host-3": ["postgres", "redis"]},
    "model_endpoints": ["recommender"],
}


def t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def alert(
    name: str,
    start: float,
    end: float | None = None,
    severity: str = "warning",
    source: str = "alertmanager",
    status: str | None = None,
    summary: str = "",
    **labels: str,
) -> Alert:
    """An alert notification; ``end`` given => a resolved notification (status resolved)."""
    lab = {"alertname": name, "severity": severity, **labels}
    ann = {"summary": summary} if summary else {}
    st = status or ("resolved" if end is not None else "firing")
    return Alert(
        labels=lab,
        annotations=ann,
        status=st,
        starts_at=t(start),
        ends_at=t(end) if end is not None else None,
        source=source,
        severity=severity,
    )


def event(kind: str, at: float, service: str = "", message: str = "", host: str = "", **attrs) -> Event:
    return Event(ts=t(at), type=kind, service=service, message=message or kind, host=host, attributes=attrs)


def pair(name: str, start: float, end: float, **kw) -> list[Alert]:
    """Firing notification at ``start`` and resolved notification at ``end``."""
    return [alert(name, start, **kw), alert(name, start, end, **kw)]


class Feeder:
    """Drive a correlator like the engine: records in event-time order, then the clock."""

    def __init__(self, config: dict | None = None, corr: Correlator | None = None) -> None:
        self.corr = corr or Correlator(config if config is not None else SHOP)
        self.alerts: dict[str, dict] = {}
        self.incidents: dict[str, dict] = {}

    def _take(self, ch) -> None:
        for r in ch.alerts:
            self.alerts[r["id"]] = r
        for r in ch.incidents:
            self.incidents[r["id"]] = r

    def feed(self, records: list, until: float | None = None) -> "Feeder":
        for r in sorted(records, key=lambda r: r.ts):
            is_alert = isinstance(r, Alert)
            self._take(self.corr.observe([r] if is_alert else [], [] if is_alert else [r], r.ts))
        if until is not None:
            self.advance(until)
        return self

    def advance(self, seconds: float) -> "Feeder":
        self._take(self.corr.observe([], [], t(seconds)))
        return self

    def flush(self, seconds: float) -> "Feeder":
        self._take(self.corr.flush(t(seconds)))
        return self

    # views
    def open_incidents(self) -> list[dict]:
        return sorted(self.incidents.values(), key=lambda i: i["opened_at"])

    def alert_row(self, name: str, **labels) -> dict:
        rows = [
            r
            for r in self.alerts.values()
            if r["labels"]["alertname"] == name and all(r["labels"].get(k) == v for k, v in labels.items())
        ]
        assert rows, f"no alert {name} {labels}"
        return sorted(rows, key=lambda r: r["starts_at"])[-1]

    def members(self, incident: dict) -> dict[str, dict]:
        return {m["id"]: m for m in incident["alerts"]}

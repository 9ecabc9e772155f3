"""The common record types every stage after ingest speaks.

Ingesters turn any format into these; nothing downstream knows where a record
came from. Fields a format has and the schema lacks go to ``attributes`` so
nothing is dropped. Timestamps are always timezone-aware UTC datetimes.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, ClassVar, Literal, Mapping, Sequence, Union

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: a record's event time as a sort, merge or bisect key (an attrgetter: no Python frame
#: per call, and these keys run once per record)
event_time = operator.attrgetter("ts")

#: the order records are processed in: event time, then at one instant change events,
#: metric samples, log lines, alerts (``kind_rank``), so a deploy precedes what it caused
by_time_and_kind = operator.attrgetter("ts", "kind_rank")

#: Label names, in order of preference, that name the service an alert is about.
SERVICE_LABELS = ("service", "app", "application", "job", "container", "deployment")
#: Label names, in order of preference, that name a host (the correlator's default
#: ``host_labels``): ``instance`` counts by its host part.
HOST_LABELS = ("host", "hostname", "node", "nodename", "instance")

#: Canonical log levels; ingesters map every spelling onto one of these.
LEVELS = ("TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "ERROR", "CRITICAL", "FATAL")
_LEVEL_ALIASES = {
    "TRACE": "TRACE", "FINEST": "TRACE", "FINER": "TRACE",
    "DEBUG": "DEBUG", "FINE": "DEBUG", "DBG": "DEBUG", "D": "DEBUG", "VERBOSE": "DEBUG",
    "INFO": "INFO", "INFORMATION": "INFO", "INFORMATIONAL": "INFO", "I": "INFO",
    "LOG": "INFO",
    "NOTICE": "NOTICE", "NOTE": "NOTICE",
    "WARN": "WARN", "WARNING": "WARN", "W": "WARN",
    "ERROR": "ERROR", "ERR": "ERROR", "E": "ERROR", "SEVERE": "ERROR", "FAIL": "ERROR",
    "CRIT": "CRITICAL", "CRITICAL": "CRITICAL", "ALERT": "CRITICAL",
    "FATAL": "FATAL", "F": "FATAL", "EMERG": "FATAL", "EMERGENCY": "FATAL", "PANIC": "FATAL",
}
#: Severity ranks shared by log levels and alert severities (higher = worse).
ERROR_LEVELS = frozenset({"ERROR", "CRITICAL", "FATAL"})

SEVERITIES = ("info", "warning", "error", "critical")
_SEVERITY_ALIASES = {
    "info": "info", "informational": "info", "none": "info", "low": "info", "debug": "info",
    "notice": "info", "page": "critical", "p1": "critical", "p2": "error", "p3": "warning",
    "p4": "info", "p5": "info", "sev1": "critical", "sev2": "error", "sev3": "warning",
    "warning": "warning", "warn": "warning", "medium": "warning", "minor": "warning",
    "error": "error", "err": "error", "high": "error", "major": "error",
    "critical": "critical", "crit": "critical", "fatal": "critical", "emergency": "critical",
    "disaster": "critical",
}


def normalize_level(value: str | None) -> str:
    """Map any level spelling (``warning``, ``E``, ``severe``) to a canonical level."""
    if not value:
        return ""
    v = value.strip().upper()
    return _LEVEL_ALIASES.get(v, v)


def normalize_severity(value: str | None) -> str:
    """Map any severity spelling (``P1``, ``high``, ``crit``) to info/warning/error/critical."""
    if not value:
        return "warning"
    return _SEVERITY_ALIASES.get(str(value).strip().lower(), "warning")


def severity_rank(severity: str) -> int:
    try:
        return SEVERITIES.index(severity)
    except ValueError:
        return 1


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's alert fingerprint: FNV-1a 64 over sorted label name/value pairs.

    Matches ``model.LabelSet.Fingerprint()`` byte for byte (0xff separators), so an
    alert posted to aiops directly and the same alert relayed by Alertmanager dedup.
    """
    h = 0xCBF29CE484222325
    for name in sorted(labels):
        for part in (name, labels[name]):
            for b in str(part).encode():
                h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
            h = ((h ^ 0xFF) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def to_utc(ts: datetime) -> datetime:
    """Return ``ts`` as aware UTC; a naive value is taken to be UTC already."""
    if ts.tzinfo is None:
        return ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC) if ts.utcoffset() else ts


def iso(ts: datetime | None) -> str | None:
    """Canonical wire form: ISO 8601 with ``Z`` and milliseconds kept when present."""
    if ts is None:
        return None
    s = ts.astimezone(UTC).isoformat()
    return s[:-6] + "Z" if s.endswith("+00:00") else s


#: what a record without its original carries as ``attributes`` (read-only: shared): a
#: replay's lean records, a ``--workers`` process's records
NO_ATTRIBUTES: Mapping[str, Any] = MappingProxyType({})


@dataclass(slots=True)
class LogRecord:
    """One log line (or a multi-line record such as a stack trace)."""

    kind: ClassVar[str] = "log"
    kind_rank: ClassVar[int] = 2  # see by_time_and_kind
    ts: datetime
    message: str
    service: str = ""
    host: str = ""
    level: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    raw: str = ""
    source: str = ""
    line: int = 0
    # filled by aiops.templates: the public template id and the extracted parameters
    template_id: str | None = None
    params: tuple[str, ...] = ()


@dataclass(slots=True)
class MetricSample:
    """One value of one series at one time; a series is ``name`` + ``labels``."""

    kind: ClassVar[str] = "metric"
    kind_rank: ClassVar[int] = 1  # see by_time_and_kind
    ts: datetime
    name: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)
    source: str = ""
    line: int = 0

    @property
    def series(self) -> str:
        if not self.labels:
            return self.name
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return f"{self.name}{{{inner}}}"

    @property
    def service(self) -> str:
        return _service_of(self.labels)


EVENT_TYPES = (
    "deploy", "rollback", "config_change", "restart", "scale", "maintenance",
    "drift", "prediction_quality", "other",
)


@dataclass(slots=True)
class Event:
    """Something that changed: a deploy, config change, restart, model drift report."""

    kind: ClassVar[str] = "event"
    kind_rank: ClassVar[int] = 0  # see by_time_and_kind
    ts: datetime
    type: str
    service: str = ""
    message: str = ""
    host: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    line: int = 0


@dataclass(slots=True)
class Alert:
    """An alert instance, identified by ``fingerprint`` + ``starts_at`` as in Alertmanager."""

    kind: ClassVar[str] = "alert"
    kind_rank: ClassVar[int] = 3  # see by_time_and_kind
    labels: dict[str, str]
    starts_at: datetime
    status: Literal["firing", "resolved"] = "firing"
    ends_at: datetime | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    fingerprint: str = ""
    source: str = "generic"
    severity: str = "warning"
    generator_url: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    line: int = 0
    #: event time at which this notification became known (a detector's decision time);
    #: None means ``ts``. A resolution decided after a quiet period ends earlier than this.
    observed_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.fingerprint:
            self.fingerprint = fingerprint(self.labels)

    @property
    def ts(self) -> datetime:
        """Event time of this notification: when it started, or when it ended."""
        if self.status == "resolved" and self.ends_at is not None:
            return self.ends_at
        return self.starts_at

    @property
    def order_ts(self) -> datetime:
        """When the engine hands this notification on: when it was known, not when it began."""
        return self.observed_at or self.ts

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def service(self) -> str:
        return _service_of(self.labels)


@dataclass(slots=True, frozen=True)
class ClockTick:
    """Not a record: event time reaching ``ts`` with no input. ``aiops serve`` commits one
    to the input log when live input goes quiet (see ``api.worker``), so a lone alert does
    not wait for the next record to be released, and a restart replays the same ticks."""

    kind: ClassVar[str] = "clock"
    ts: datetime


Record = Union[LogRecord, MetricSample, Event, Alert]
RECORD_TYPES: dict[str, type] = {
    "log": LogRecord, "metric": MetricSample, "event": Event, "alert": Alert,
}


def host_part(value: str) -> str:
    """``"10.0.0.5:8080"`` -> ``"10.0.0.5"``; URLs and empty values -> ``""``."""
    v = value.strip()
    if not v or "/" in v:
        return ""
    if v.startswith("["):  # [::1]:9100
        return v[1 : v.find("]")] if "]" in v else ""
    if v.count(":") == 1:
        v = v.split(":", 1)[0]
    return v


def host_of(record: Record) -> str:
    """A record's host: its ``host`` field, else the first host label (``instance`` by its
    host part). A record without a service counts for it in the per-service signal totals
    (a node exporter's samples, a kernel's log lines), as an alert on it is filed under its
    host: the dashboards then set a host's alerts against its own signals."""
    return getattr(record, "host", "") or host_label(getattr(record, "labels", None) or {})


def host_label(labels: dict[str, str], keys: Sequence[str] = HOST_LABELS) -> str:
    """The host the first of ``keys`` that has one names (``instance`` by its host part)."""
    for key in keys:
        host = host_part(labels.get(key) or "")
        if host:
            return host
    return ""


def _service_of(labels: dict[str, str]) -> str:
    for key in SERVICE_LABELS:
        value = labels.get(key)
        if value:
            return value
    return ""


def record_to_dict(record: Record) -> dict[str, Any]:
    """JSON-ready view of a record (ISO timestamps), as ``aiops parse`` prints it."""
    out: dict[str, Any] = {"kind": record.kind}
    for name in record.__dataclass_fields__:  # type: ignore[union-attr]
        value = getattr(record, name)
        if isinstance(value, datetime):
            value = iso(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[name] = value
    if isinstance(record, Alert):
        out["ts"] = iso(record.ts)
    return out

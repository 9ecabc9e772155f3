"""What the correlator remembers: alert instances, incidents with their members'
join evidence, and the ``Changes`` it hands back to the engine as JSON-able rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from aiops.schema import iso, severity_rank


@dataclass
class Changes:
    """Rows that changed in one call; the engine upserts them into the store."""

    alerts: list[dict] = field(default_factory=list)
    incidents: list[dict] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.alerts or self.incidents)

    def extend(self, other: "Changes") -> None:
        self.alerts.extend(other.alerts)
        self.incidents.extend(other.incidents)


def alert_id(fingerprint: str, starts_at: datetime) -> str:
    return f"{fingerprint}@{iso(starts_at)}"


@dataclass
class AlertState:
    id: str
    fingerprint: str
    key: str  # dedup key: the fingerprint, or a hash of the configured ``dedup_by`` labels
    labels: dict[str, str]
    annotations: dict[str, str]
    status: str
    starts_at: datetime
    ends_at: datetime | None
    source: str
    severity: str
    entity: str
    is_host: bool = False
    incident_id: str | None = None  # set once it is a confirmed member of a visible incident
    suppressed: str | None = None
    repeats: int = 0
    tokens: list[str] = field(default_factory=list)
    seen_at: datetime | None = None
    group_id: str | None = None  # the incident it belongs to, confirmed or not (pending)
    group_key: str = ""
    generator_url: str = ""  # where the alert came from (Prometheus' graph of its rule)

    @property
    def detector(self) -> bool:
        return self.source.startswith("detector:")

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    def firing_at(self, t: datetime) -> bool:
        return self.starts_at <= t and (self.status == "firing" or self.ends_at is None or self.ends_at > t)

    def row(self) -> dict:
        return {
            "id": self.id,
            "fingerprint": self.fingerprint,
            "labels": self.labels,
            "annotations": self.annotations,
            "status": self.status,
            "starts_at": iso(self.starts_at),
            "ends_at": iso(self.ends_at),
            "source": self.source,
            "severity": self.severity,
            "service": self.entity,
            "incident_id": self.incident_id,
            "suppressed": self.suppressed,
            "repeats": self.repeats,
            "generator_url": self.generator_url,
        }


@dataclass
class Member:
    """One alert's place in an incident and the evidence that put it there."""

    alert_id: str
    rule: str  # seed | group_key | topology | cooccurrence | mention | similarity | inhibited | flapping
    score: float
    matched: str | None
    detail: str
    joined_at: datetime
    confirm_at: datetime
    confirmed: bool = False

    def row(self) -> dict:
        cached = self.__dict__.get("_row")  # a member never changes once it joined
        if cached is None:
            cached = self.__dict__["_row"] = {
                "id": self.alert_id,
                "rule": self.rule,
                "score": round(self.score, 3),
                "matched": self.matched,
                "detail": self.detail,
                "joined_at": iso(self.joined_at),
            }
        return cached


@dataclass
class Incident:
    id: str
    created_at: datetime
    status: str = "pending"  # pending (not yet shown) | open | acknowledged | resolved
    opened_at: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    members: dict[str, Member] = field(default_factory=dict)
    entities: dict[str, datetime] = field(default_factory=dict)  # entity -> first signal
    keys: set[str] = field(default_factory=set)  # group keys of its alerts
    last_activity: datetime | None = None
    severity: str = "info"
    root_cause: dict | None = None
    owner: dict | None = None
    title: str = ""
    timeline: list[dict] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)  # attached change events (ts as ISO string)
    # indexes, so joining and ticking cost O(services), not O(alerts), in an alert storm
    live: set[str] = field(default_factory=set)  # members still firing
    tentative: set[str] = field(default_factory=set)  # members waiting out ``join_hold``
    confirmed_entities: set[str] = field(default_factory=set)
    first_entity: dict[str, str] = field(default_factory=dict)  # entity -> earliest linkable member
    first_key: dict[str, str] = field(default_factory=dict)  # group key -> earliest linkable member
    texts: dict[str, str] = field(default_factory=dict)  # lower-cased annotation text -> a member
    toks: dict[str, str] = field(default_factory=dict)  # token string -> a member
    starts: list[list] = field(default_factory=list)  # [epoch seconds, member id], sorted
    last_end: datetime | None = None
    ext_count: int = 0  # members from sources other than detectors
    ext_live: set[str] = field(default_factory=set)
    ext_last: datetime | None = None  # latest start/end among non-detector members
    scope: dict[str, str] = field(default_factory=dict)  # its members' scope_labels values

    @staticmethod
    def make_id(seed_alert_id: str) -> str:
        return "inc-" + hashlib.sha1(seed_alert_id.encode()).hexdigest()[:12]

    @property
    def visible(self) -> bool:
        return self.status != "pending"

    @property
    def active(self) -> bool:
        return self.status in ("pending", "open", "acknowledged")

    def note(self, at: datetime, kind: str, text: str, **extra) -> None:
        self.timeline.append({"at": iso(at), "kind": kind, "text": text, **extra})

    def bump_severity(self, sev: str) -> None:
        if severity_rank(sev) > severity_rank(self.severity):
            self.severity = sev

    def row(self, services: list[str]) -> dict:
        members = [m for m in self.members.values() if m.confirmed]
        return {
            "id": self.id,
            "status": self.status,
            "opened_at": iso(self.opened_at),
            "acknowledged_at": iso(self.acknowledged_at),
            "resolved_at": iso(self.resolved_at),
            "severity": self.severity,
            "services": services,
            "title": self.title,
            "root_cause": self.root_cause,
            "owner": self.owner,
            "scope": dict(self.scope),
            "alerts": [m.row() for m in members],
            "timeline": list(self.timeline),
        }

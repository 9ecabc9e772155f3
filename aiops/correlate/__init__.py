"""Alert correlation (placeholder until the correlation work lands).

Dedups alert instances by fingerprint + startsAt and opens one incident per
service while its alerts keep firing.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from datetime import datetime

from aiops.schema import Alert, Event, iso


@dataclass
class Changes:
    alerts: list[dict] = field(default_factory=list)
    incidents: list[dict] = field(default_factory=list)


class Correlator:
    def __init__(self) -> None:
        self.alerts_: dict[str, dict] = {}
        self.incidents_: dict[str, dict] = {}
        self.open_by_service_: dict[str, str] = {}

    def observe(self, alerts: list[Alert], events: list[Event], watermark: datetime) -> Changes:
        changes = Changes()
        touched: set[str] = set()
        for a in alerts:
            aid = f"{a.fingerprint}@{iso(a.starts_at)}"
            row = self.alerts_.get(aid)
            if row is None:
                iid = self.open_by_service_.get(a.service)
                if iid is None:
                    iid = f"INC-{len(self.incidents_) + 1:05d}"
                    self.incidents_[iid] = {
                        "id": iid, "status": "open", "opened_at": iso(a.ts), "resolved_at": None,
                        "acknowledged_at": None, "severity": a.severity, "services": [a.service],
                        "title": a.name, "alerts": [], "timeline": [], "root_cause": {
                            "service": a.service, "alert_id": aid, "reason": "first alert"},
                        "owner": {"layer": "application", "team": "application team"}}
                    self.open_by_service_[a.service] = iid
                row = self.alerts_[aid] = {
                    "id": aid, "fingerprint": a.fingerprint, "labels": a.labels,
                    "annotations": a.annotations, "status": a.status, "starts_at": iso(a.starts_at),
                    "ends_at": iso(a.ends_at), "source": a.source, "severity": a.severity,
                    "service": a.service, "incident_id": iid, "suppressed": None, "repeats": 0}
                self.incidents_[iid]["alerts"].append(
                    {"id": aid, "rule": "same_service", "score": 1.0, "matched": None})
            else:
                row["repeats"] += 1
                row.update(status=a.status, ends_at=iso(a.ends_at))
            changes.alerts.append(row)
            touched.add(row["incident_id"])
        for iid in touched:
            inc = self.incidents_[iid]
            statuses = [self.alerts_[x["id"]]["status"] for x in inc["alerts"]]
            if all(s == "resolved" for s in statuses) and inc["status"] != "resolved":
                inc["status"] = "resolved"
                inc["resolved_at"] = max(self.alerts_[x["id"]]["ends_at"] or inc["opened_at"]
                                         for x in inc["alerts"])
                self.open_by_service_.pop(inc["services"][0], None)
            changes.incidents.append(inc)
        return changes

    def flush(self, watermark: datetime) -> Changes:
        return Changes()

    def get_state(self) -> bytes:
        return pickle.dumps(self.__dict__)

    def set_state(self, state: bytes) -> None:
        self.__dict__.update(pickle.loads(state))


def build_correlator(config: dict) -> Correlator:
    return Correlator()

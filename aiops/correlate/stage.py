"""Stages and the pipeline, in the shape of Alertmanager's notify pipeline: each
correlation concern is one small stage with one method over a batch of alerts;
the pipeline is a list of stages. Adding a rule is adding a stage.

``Context`` is the shared state every stage reads and writes (alerts, incidents,
the graph, silences, recent events), so stages stay stateless and the whole
correlator persists as one document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from aiops.correlate.config import CorrelateConfig
from aiops.correlate.graph import ServiceGraph
from aiops.correlate.similarity import TfIdf
from aiops.correlate.state import AlertState, Incident
from aiops.schema import to_utc


def parse_time(value) -> datetime:
    """ISO 8601 (``Z`` or offset, any fraction digits) or a datetime, as aware UTC."""
    if isinstance(value, datetime):
        return to_utc(value)
    s = str(value).strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    if "." in s:  # Go writes nanoseconds; Python takes at most microseconds
        head, rest = s.split(".", 1)
        digits = len(rest) - len(rest.lstrip("0123456789"))
        s = head + "." + rest[: min(digits, 6)].ljust(1, "0") + rest[digits:]
    return to_utc(datetime.fromisoformat(s))


@dataclass
class Context:
    cfg: CorrelateConfig
    graph: ServiceGraph
    tfidf: TfIdf
    silences: "object"  # SilenceStore (kept loose to avoid an import cycle)
    alerts: dict[str, AlertState] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)
    flaps: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)  # key -> recent (start, id)
    latest: dict[str, str] = field(default_factory=dict)  # dedup key -> latest instance id
    firing: set[str] = field(default_factory=set)
    watermark: datetime | None = None
    pruned_at: datetime | None = None
    forgotten: dict[str, datetime] = field(default_factory=dict)  # pruned alert id -> its end
    dirty_alerts: set[str] = field(default_factory=set)
    dirty_incidents: set[str] = field(default_factory=set)
    stale: set[str] = field(default_factory=set)  # incidents whose root cause needs recomputing
    expiring: dict[str, datetime] = field(default_factory=dict)  # firing alerts with an endsAt
    sources: dict[str, list[str]] = field(default_factory=dict)  # inhibition source index

    def touch(self, alert: AlertState) -> None:
        self.dirty_alerts.add(alert.id)

    def touch_incident(self, inc: Incident) -> None:
        self.dirty_incidents.add(inc.id)


class Stage:
    """One concern of the pipeline. ``process`` filters/annotates a batch of new alert
    instances and returns those the next stage should see; ``tick`` runs time-driven
    transitions once the watermark reaches ``now``."""

    name = "stage"

    def process(self, batch: list, ctx: Context) -> list:
        return batch

    def tick(self, ctx: Context, now: datetime) -> None:
        return None


class Pipeline(list):
    """A list of stages; ``run`` passes a batch through them in order."""

    def run(self, batch: list, ctx: Context) -> list:
        for stage in self:
            if not batch:
                break
            batch = stage.process(batch, ctx)
        return batch

    def tick(self, ctx: Context, now: datetime) -> None:
        for stage in self:
            stage.tick(ctx, now)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self]

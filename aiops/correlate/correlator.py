"""The facade the engine calls: ``observe`` alerts and events in event-time order,
``flush`` at end of input, ``ack``/``resolve`` for people, silences, and state
persistence. Everything is driven by record timestamps and the watermark, never
the wall clock, so a replay gives the same incidents (and ids) every time.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from aiops.correlate import persist
from aiops.correlate.config import CorrelateConfig
from aiops.correlate.dedup import DedupStage
from aiops.correlate.flapping import FlappingStage
from aiops.correlate.graph import ServiceGraph
from aiops.correlate.group import GroupStage
from aiops.correlate.incident import attach_events, refresh, services, stale
from aiops.correlate.inhibit import InhibitRule, InhibitStage
from aiops.correlate.lifecycle import LifecycleStage, try_open, user_action
from aiops.correlate.silence import SilenceStage, SilenceStore, maintenance_window
from aiops.correlate.similarity import TfIdf
from aiops.correlate.stage import Context, Pipeline, parse_time
from aiops.correlate.state import Changes
from aiops.schema import Alert, Event, iso, to_utc

_TICK = timedelta(seconds=1)


class Correlator:
    """Alerts in, explained incidents out. See the README, "Correlation"."""

    def __init__(self, config: dict | CorrelateConfig | None = None) -> None:
        cfg = config if isinstance(config, CorrelateConfig) else CorrelateConfig.from_dict(config)
        self.cfg = cfg
        self.ctx = Context(cfg, ServiceGraph(cfg), TfIdf(), SilenceStore())
        for s in cfg.silences:
            try:
                self.ctx.silences.add(
                    s["matchers"],
                    parse_time(s["starts_at"]),
                    parse_time(s["ends_at"]),
                    s.get("created_by", ""),
                    s.get("comment", ""),
                )
            except (KeyError, ValueError) as e:
                raise ValueError(f"correlate.silences: {e} in {s!r}") from None
        rules = [InhibitRule.from_dict(d) for d in cfg.inhibit_rules]
        self.pipeline = Pipeline(
            [
                DedupStage(),
                SilenceStage(),
                InhibitStage(rules),
                FlappingStage(),
                GroupStage(),
                LifecycleStage(),
            ]
        )
        self._ticked: datetime | None = None

    # -- the engine's calls -------------------------------------------------------
    def observe(self, alerts: list[Alert], events: list[Event], watermark: datetime) -> Changes:
        watermark = to_utc(watermark)
        # at one instant: events first, then alerts by fingerprint (the engine's order, so the
        # result is the same however records are split into calls)
        items = [(to_utc(e.ts), 0, "", "", i, e) for i, e in enumerate(events or [])]
        items += [(to_utc(a.ts), 1, a.fingerprint, a.status, i, a) for i, a in enumerate(alerts or [])]
        items.sort(key=lambda x: x[:5])
        for ts, kind, _, _, _, rec in items:
            self._tick(min(ts, watermark))
            if kind == 0:
                self._event(rec)
            else:
                self.pipeline.run([rec], self.ctx)
        self._tick(watermark, force=True)
        return self._changes()

    def flush(self, watermark: datetime) -> Changes:
        self._tick(to_utc(watermark), force=True)
        return self._changes()

    def _tick(self, now: datetime, force: bool = False) -> None:
        ctx = self.ctx
        if ctx.watermark is not None and now < ctx.watermark:
            now = ctx.watermark
        if not force and self._ticked is not None and now - self._ticked < _TICK:
            return
        ctx.watermark = now
        self._ticked = now
        self.pipeline.tick(ctx, now)

    def _event(self, e: Event) -> None:
        ctx = self.ctx
        ts = to_utc(e.ts)
        entity = e.service or e.host
        eid = "ev-" + hashlib.sha1(f"{iso(ts)}|{e.type}|{entity}|{e.message}".encode()).hexdigest()[:12]
        if any(x["id"] == eid for x in ctx.events):
            return
        ev = {"id": eid, "ts": ts, "type": e.type, "entity": entity, "host": e.host, "message": e.message}
        ctx.events.append(ev)
        if e.type == "maintenance":
            win = maintenance_window(e)
            if win is not None:
                ctx.silences.add(win[0], win[1], win[2], "maintenance event", e.message or "maintenance")
        for inc in ctx.incidents.values():
            if not inc.active or not entity or entity not in inc.entities and e.host not in inc.entities:
                continue
            if inc.visible:
                attach_events(ctx, inc)
                stale(ctx, inc)
            else:
                try_open(ctx, inc, ts)

    def _changes(self) -> Changes:
        ctx = self.ctx
        for iid in sorted(ctx.stale):
            if iid in ctx.incidents:
                refresh(ctx, ctx.incidents[iid])
        ctx.stale.clear()
        ch = Changes()
        for aid in sorted(ctx.dirty_alerts):
            if aid in ctx.alerts:
                ch.alerts.append(ctx.alerts[aid].row())
        for iid in sorted(ctx.dirty_incidents):
            inc = ctx.incidents.get(iid)
            if inc is not None and inc.visible:
                ch.incidents.append(inc.row(services(ctx, inc)))
        ctx.dirty_alerts.clear()
        ctx.dirty_incidents.clear()
        return ch

    # -- people -------------------------------------------------------------------
    def ack(self, incident_id: str, by: str = "", at: datetime | None = None, note: str = "") -> dict:
        """Acknowledge; returns the incident's new row. ``KeyError`` if unknown, ``ValueError``
        if it is resolved."""
        return self._act(incident_id, "acknowledged", by, at, note)

    def resolve(self, incident_id: str, by: str = "", at: datetime | None = None, note: str = "") -> dict:
        """Resolve by hand; returns the incident's new row. Its alerts firing again within
        ``reopen_window`` reopen it."""
        return self._act(incident_id, "resolved", by, at, note)

    def _act(self, incident_id: str, action: str, by: str, at: datetime | None, note: str) -> dict:
        inc = self.ctx.incidents.get(incident_id)
        if inc is None or not inc.visible:
            raise KeyError(
                f"no incident {incident_id!r} in memory (resolved incidents are forgotten "
                f"after reopen_window)"
            )
        at = to_utc(at) if at else (self.ctx.watermark or inc.opened_at)
        user_action(self.ctx, inc, action, by, at, note)
        refresh(self.ctx, inc)
        self.ctx.dirty_incidents.discard(inc.id)
        return inc.row(services(self.ctx, inc))

    # -- silences -----------------------------------------------------------------
    def add_silence(
        self, matchers, starts_at: datetime, ends_at: datetime, created_by: str = "", comment: str = ""
    ) -> dict:
        return self.ctx.silences.add(matchers, to_utc(starts_at), to_utc(ends_at), created_by, comment).row()

    def list_silences(self) -> list[dict]:
        return [
            s.row() for s in sorted(self.ctx.silences.silences.values(), key=lambda s: (s.starts_at, s.id))
        ]

    def expire_silence(self, silence_id: str, at: datetime | None = None) -> dict:
        return self.ctx.silences.expire(silence_id, to_utc(at) if at else self.ctx.watermark).row()

    # -- inspection and persistence -------------------------------------------------
    def incidents(self) -> list[dict]:
        """Rows of the incidents still in memory (open ones and recently resolved)."""
        ctx = self.ctx
        return [
            i.row(services(ctx, i))
            for i in sorted(ctx.incidents.values(), key=lambda i: (i.created_at, i.id))
            if i.visible
        ]

    def get_state(self) -> bytes:
        return persist.dumps(self.ctx)

    def set_state(self, data: bytes) -> None:
        persist.loads(self.ctx, data)
        self._ticked = self.ctx.watermark


def build_correlator(config: dict | None = None) -> Correlator:
    """Factory the engine uses with the ``[correlate]`` config section."""
    return Correlator(config)

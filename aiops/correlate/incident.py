"""Incident membership: joining with evidence, confirming after the hold, dropping
transients, opening, reopening. Stages call these; they keep the incident, its
alerts and the dirty sets consistent.
"""

from __future__ import annotations

from datetime import datetime

from aiops.correlate.rootcause import explain
from aiops.correlate.stage import Context
from aiops.correlate.state import AlertState, Incident, Member
from aiops.schema import iso, severity_rank


def immediate(ctx: Context, a: AlertState) -> bool:
    """Alerts at/above ``immediate_severity`` (from a non-detector source) skip the hold."""
    return not a.detector and severity_rank(a.severity) >= severity_rank(ctx.cfg.immediate_severity)


def new_incident(ctx: Context, a: AlertState) -> Incident:
    inc = Incident(Incident.make_id(a.id), a.starts_at, last_activity=a.starts_at)
    ctx.incidents[inc.id] = inc
    join(ctx, inc, a, "seed", 1.0, None, f"first alert: {a.name or a.id} on {a.entity or '?'}")
    return inc


def join(
    ctx: Context,
    inc: Incident,
    a: AlertState,
    rule: str,
    score: float,
    matched: str | None,
    detail: str,
    confirm_now: bool = False,
) -> Member:
    known = (
        inc.visible
        and a.entity
        and any(
            m.confirmed and ctx.alerts[x].entity == a.entity
            for x, m in inc.members.items()
            if x in ctx.alerts
        )
    )
    hold = ctx.cfg.join_hold if not (confirm_now or known or immediate(ctx, a)) else None
    confirm_at = a.starts_at + hold if hold else a.starts_at
    m = Member(a.id, rule, score, matched, detail, a.starts_at, confirm_at)
    inc.members[a.id] = m
    a.group_id = inc.id
    if a.entity and (a.entity not in inc.entities or a.starts_at < inc.entities[a.entity]):
        inc.entities[a.entity] = a.starts_at
    if a.group_key:
        inc.keys.add(a.group_key)
    end = a.ends_at if a.status == "resolved" and a.ends_at else a.starts_at
    if inc.last_activity is None or end > inc.last_activity:
        inc.last_activity = end
    if inc.visible and confirm_at <= (ctx.watermark or confirm_at) and a.firing_at(confirm_at):
        confirm(ctx, inc, m, confirm_at)
    return m


def confirm(ctx: Context, inc: Incident, m: Member, at: datetime) -> None:
    """The member is real (outlived the hold, or the incident opened with it)."""
    if m.confirmed:
        return
    m.confirmed = True
    a = ctx.alerts[m.alert_id]
    if inc.status == "resolved":
        reopen(ctx, inc, max(at, a.starts_at), a)
    a.incident_id = inc.id
    ctx.touch(a)
    inc.bump_severity(a.severity) if not a.suppressed else None
    if inc.visible:
        inc.note(
            max(at, a.starts_at),
            "alert",
            f"{a.name or a.id} on {a.entity or '?'} joined ({m.rule}"
            + (f" {m.score:.2f}" if m.rule == "similarity" else "")
            + f"): {m.detail}",
            alert=a.id,
        )
        refresh(ctx, inc)


def drop_member(ctx: Context, inc: Incident, alert_id: str, reason: str) -> None:
    m = inc.members.pop(alert_id, None)
    a = ctx.alerts.get(alert_id)
    if a is not None:
        a.group_id = None
        a.incident_id = None
        if not a.suppressed or a.suppressed in ("transient",):
            a.suppressed = reason
        ctx.touch(a)
    if m is not None and a is not None and a.entity:
        if not any(ctx.alerts[x].entity == a.entity for x in inc.members if x in ctx.alerts):
            inc.entities.pop(a.entity, None)
    if inc.visible:
        ctx.touch_incident(inc)


def open_incident(ctx: Context, inc: Incident, at: datetime, why: str) -> None:
    inc.status = "open"
    inc.opened_at = at
    inc.note(at, "opened", why)
    for aid, m in sorted(inc.members.items(), key=lambda x: x[1].joined_at):
        a = ctx.alerts[aid]
        if a.status == "resolved" and a.ends_at is not None and a.ends_at <= m.confirm_at and a.ends_at <= at:
            drop_member(ctx, inc, aid, "transient")
        else:
            m.confirmed = True
            a.incident_id = inc.id
            ctx.touch(a)
            if not a.suppressed:
                inc.bump_severity(a.severity)
            inc.note(
                max(a.starts_at, inc.created_at),
                "alert",
                f"{a.name or a.id} on {a.entity or '?'} ({m.rule}): {m.detail}",
                alert=aid,
            )
    inc.timeline.sort(key=lambda e: e["at"])
    attach_events(ctx, inc)
    refresh(ctx, inc)


def reopen(ctx: Context, inc: Incident, at: datetime, a: AlertState) -> None:
    inc.status = "open"
    inc.note(
        at,
        "reopened",
        f"{a.name or a.id} on {a.entity or '?'} fired again "
        f"{int((at - inc.resolved_at).total_seconds()) if inc.resolved_at else 0}s after resolution",
    )
    inc.resolved_at = None
    inc.acknowledged_at = None
    ctx.touch_incident(inc)


def attach_events(ctx: Context, inc: Incident) -> None:
    """Put change events on the incident's entities (from ``change_window`` before it) on its timeline."""
    since = inc.created_at - ctx.cfg.change_window
    for ev in ctx.events:
        if ev["id"] in inc.event_ids or ev["ts"] < since:
            continue
        if ev["entity"] and ev["entity"] in inc.entities or ev.get("host") and ev["host"] in inc.entities:
            inc.event_ids.append(ev["id"])
            inc.note(
                ev["ts"],
                "event",
                f"{ev['type']} {ev['entity'] or ev.get('host')}: {ev['message']}",
                event=ev["id"],
            )
    inc.timeline.sort(key=lambda e: e["at"])


def services(ctx: Context, inc: Incident) -> list[str]:
    return sorted(
        {
            ctx.alerts[a].entity
            for a, m in inc.members.items()
            if m.confirmed and a in ctx.alerts and ctx.alerts[a].entity
        }
    )


def refresh(ctx: Context, inc: Incident) -> None:
    """Recompute root cause, owner and title from the confirmed members."""
    members = [ctx.alerts[a] for a, m in inc.members.items() if m.confirmed and a in ctx.alerts]
    if members:
        inc.root_cause, inc.owner, inc.title = explain(ctx, inc, members)
    ctx.touch_incident(inc)


def event_note_time(ev: dict) -> str:
    return iso(ev["ts"])

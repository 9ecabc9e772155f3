"""Incident membership: joining with evidence, confirming after the hold, dropping
transients, opening, reopening. Stages call these; they keep the incident, its
indexes, its alerts and the dirty sets consistent. Root cause and title are
recomputed once per call for the incidents that changed (``refresh``).
"""

from __future__ import annotations

from bisect import insort
from datetime import datetime

from aiops.correlate.rootcause import explain
from aiops.correlate.stage import Context
from aiops.correlate.state import AlertState, Incident, Member
from aiops.schema import iso, severity_rank

MAX_TEXTS = 256  # distinct texts kept per incident for mention/similarity matching


def immediate(ctx: Context, a: AlertState) -> bool:
    """Alerts at/above ``immediate_severity`` (from a non-detector source) skip the hold."""
    return not a.detector and severity_rank(a.severity) >= severity_rank(ctx.cfg.immediate_severity)


def linkable(inc: Incident, a: AlertState) -> bool:
    """Inhibited and flapping alerts ride along; they don't pull others in. Nor do detector
    alerts once the incident has others: anomaly detectors are noisy, and one stray anomaly
    must not chain a whole neighbourhood into an incident."""
    if (a.suppressed or "").startswith(("inhibited", "flapping")):
        return False
    return not a.detector or inc.ext_count == 0


def new_incident(ctx: Context, a: AlertState) -> Incident:
    inc = Incident(Incident.make_id(a.id), a.starts_at, last_activity=a.starts_at)
    ctx.incidents[inc.id] = inc
    join(ctx, inc, a, "seed", 1.0, None, f"first alert: {a.name or a.id} on {a.entity or '?'}")
    return inc


def _index(inc: Incident, a: AlertState) -> None:
    if a.entity and (a.entity not in inc.entities or a.starts_at < inc.entities[a.entity]):
        inc.entities[a.entity] = a.starts_at
    if a.group_key:
        inc.keys.add(a.group_key)
        inc.keys.add(f"{a.group_key}\x00{a.name}")
    if not linkable(inc, a):
        return
    if a.entity and a.entity not in inc.first_entity:
        inc.first_entity[a.entity] = a.id
    if a.group_key and a.group_key not in inc.first_key:
        inc.first_key[a.group_key] = a.id
    text = " ".join(a.annotations.get(k, "") for k in ("summary", "description", "message")).strip().lower()
    if text and len(inc.texts) < MAX_TEXTS:
        inc.texts.setdefault(text, a.id)
    tok = " ".join(a.tokens)
    if tok and len(inc.toks) < MAX_TEXTS:
        inc.toks.setdefault(tok, a.id)
    insort(inc.starts, [a.starts_at.timestamp(), a.id])


def reindex(ctx: Context, inc: Incident) -> None:
    """Rebuild the indexes from the members (after one leaves)."""
    inc.entities, inc.keys, inc.first_entity, inc.first_key = {}, set(), {}, {}
    inc.texts, inc.toks, inc.starts, inc.confirmed_entities = {}, {}, [], set()
    for aid, m in sorted(inc.members.items(), key=lambda x: (x[1].joined_at, x[0])):
        a = ctx.alerts.get(aid)
        if a is not None:
            _index(inc, a)
            if m.confirmed and a.entity:
                inc.confirmed_entities.add(a.entity)


def out_of_scope(ctx: Context, inc: Incident, a: AlertState) -> bool:
    """Does ``a`` carry a scope label (cluster, environment) the incident has another value of?"""
    scope = inc.scope
    return bool(scope) and any(
        a.labels.get(k) and k in scope and a.labels[k] != scope[k] for k in ctx.cfg.scope_labels)


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
    known = inc.visible and bool(a.entity) and a.entity in inc.confirmed_entities and not a.detector
    # an anomaly on a service in (or next to) an incident whose alerts fire is part of it, however brief
    backing = a.detector and inc.visible and bool(inc.ext_live) and rule in ("group_key", "topology")
    hold = ctx.cfg.join_hold if not (confirm_now or known or backing or immediate(ctx, a)) else None
    confirm_at = a.starts_at + hold if hold else a.starts_at
    m = Member(a.id, rule, score, matched, detail, a.starts_at, confirm_at)
    inc.members[a.id] = m
    for key in ctx.cfg.scope_labels:
        if a.labels.get(key):
            inc.scope.setdefault(key, a.labels[key])
    a.group_id = inc.id
    if not a.detector:
        inc.ext_count += 1
        end = a.ends_at if a.status == "resolved" and a.ends_at else a.starts_at
        inc.ext_last = end if inc.ext_last is None or end > inc.ext_last else inc.ext_last
        if a.status == "firing":
            inc.ext_live.add(a.id)
    if not a.detector and inc.ext_count == 1 and len(inc.members) > 1:
        reindex(ctx, inc)  # the first non-detector member: detector members stop being linkable
    else:
        _index(inc, a)
    if a.status == "firing":
        inc.live.add(a.id)
    elif a.ends_at is not None and (inc.last_end is None or a.ends_at > inc.last_end):
        inc.last_end = a.ends_at
    end = a.ends_at if a.status == "resolved" and a.ends_at else a.starts_at
    if inc.last_activity is None or end > inc.last_activity:
        inc.last_activity = end
    inc.tentative.add(a.id)
    if inc.visible and (
        hold is None or confirm_at <= (ctx.watermark or confirm_at) and a.firing_at(confirm_at)
    ):
        confirm(ctx, inc, m, confirm_at)
    return m


def confirm(ctx: Context, inc: Incident, m: Member, at: datetime) -> None:
    """The member is real (outlived the hold, or the incident opened with it)."""
    inc.tentative.discard(m.alert_id)
    if m.confirmed:
        return
    m.confirmed = True
    a = ctx.alerts[m.alert_id]
    if inc.status == "resolved":
        reopen(ctx, inc, max(at, a.starts_at), a)
    a.incident_id = inc.id
    ctx.touch(a)
    fresh = bool(a.entity) and a.entity not in inc.confirmed_entities
    if a.entity:
        inc.confirmed_entities.add(a.entity)
    if not a.suppressed:
        inc.bump_severity(a.severity)
    if inc.visible and fresh:
        attach_events(ctx, inc)
    if inc.visible:
        detail = f" {m.score:.2f}" if m.rule == "similarity" else ""
        inc.note(
            max(at, a.starts_at),
            "alert",
            f"{a.name or a.id} on {a.entity or '?'} joined ({m.rule}{detail}): {m.detail}",
            alert=a.id,
        )
        stale(ctx, inc)


def drop_member(ctx: Context, inc: Incident, alert_id: str, reason: str) -> None:
    m = inc.members.pop(alert_id, None)
    inc.live.discard(alert_id)
    inc.ext_live.discard(alert_id)
    inc.tentative.discard(alert_id)
    a = ctx.alerts.get(alert_id)
    if m is not None and a is not None and not a.detector:
        inc.ext_count -= 1
    if a is not None:
        a.group_id = None
        a.incident_id = None
        if not a.suppressed or a.suppressed == "transient":
            a.suppressed = reason
        ctx.touch(a)
    reindex(ctx, inc)
    if inc.visible:
        stale(ctx, inc)


def open_incident(ctx: Context, inc: Incident, at: datetime, why: str) -> None:
    inc.status = "open"
    inc.opened_at = at
    inc.note(at, "opened", why)
    for aid, m in sorted(inc.members.items(), key=lambda x: (x[1].joined_at, x[0])):
        a = ctx.alerts[aid]
        held = m.confirm_at > m.joined_at
        if (
            held
            and a.status == "resolved"
            and a.ends_at is not None
            and a.ends_at < m.confirm_at
            and a.ends_at <= at
        ):
            drop_member(ctx, inc, aid, "transient")
            continue
        m.confirmed = True
        inc.tentative.discard(aid)
        a.incident_id = inc.id
        ctx.touch(a)
        if a.entity:
            inc.confirmed_entities.add(a.entity)
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
    stale(ctx, inc)


def reopen(ctx: Context, inc: Incident, at: datetime, a: AlertState) -> None:
    gap = int((at - inc.resolved_at).total_seconds()) if inc.resolved_at else 0
    inc.status = "open"
    inc.note(at, "reopened", f"{a.name or a.id} on {a.entity or '?'} fired again {gap}s after resolution")
    inc.resolved_at = None
    inc.acknowledged_at = None
    stale(ctx, inc)


def attach_events(ctx: Context, inc: Incident) -> None:
    """Put change events on the incident's entities (from ``change_window`` before it) on its timeline."""
    since = inc.created_at - ctx.cfg.change_window
    added = False
    for ev in ctx.events:
        if ev["id"] in inc.event_ids or ev["ts"] < since:
            continue
        if ev["entity"] and ev["entity"] in inc.entities or ev.get("host") and ev["host"] in inc.entities:
            inc.event_ids.append(ev["id"])
            inc.events.append({**ev, "ts": iso(ev["ts"])})
            who = ev["entity"] or ev.get("host")
            inc.note(ev["ts"], "event", f"{ev['type']} {who}: {ev['message']}", event=ev["id"])
            added = True
    if added:
        inc.timeline.sort(key=lambda e: e["at"])
        stale(ctx, inc)


def services(ctx: Context, inc: Incident) -> list[str]:
    return sorted(inc.confirmed_entities)


def stale(ctx: Context, inc: Incident) -> None:
    """Root cause/owner/title need recomputing before the row is next written."""
    ctx.stale.add(inc.id)
    ctx.touch_incident(inc)


def refresh(ctx: Context, inc: Incident) -> None:
    """Recompute root cause, owner and title from the confirmed members."""
    ctx.stale.discard(inc.id)
    members = [ctx.alerts[a] for a, m in inc.members.items() if m.confirmed and a in ctx.alerts]
    if members:
        inc.root_cause, inc.owner, inc.title = explain(ctx, inc, members)
    ctx.touch_incident(inc)

"""Incident lifecycle: pending -> open -> acknowledged -> resolved (-> reopened).

A group of alerts stays *pending* (not shown, not counted) until one of:
  * an alert at/above ``immediate_severity`` (not from a detector) is in it;
  * two distinct non-detector alerts fire at the same time (the second one's start);
  * detector alerts alone: ``detector_min_alerts`` distinct ones from two detectors (metrics and
    logs, logs and kubernetes, ...) have each been firing for ``detector_hold``;
  * a change event (deploy, config change, drift...) on one of its entities lies within
    ``change_window`` before a non-detector alert (or up to ``hold_time`` after it);
  * a non-detector alert is still firing ``hold_time`` after it started.
The incident opens at the earliest of those times (event time). A pending group whose
alerts all resolved first is dropped; its alerts are marked ``transient``.

Members that join an open incident are tentative for ``join_hold`` (unless immediate, or
their service already has confirmed alerts in it: more evidence of known trouble): resolved
before that, they leave it as ``transient``. An open incident auto-resolves
(``resolved_at`` = its last alert's end) once every alert resolved (detector alerts do not
count when it has others) and ``resolve_quiet`` passed with nothing new; a confirmed alert
of the same group key within ``reopen_window`` reopens it.
"""

from __future__ import annotations

from datetime import datetime

from aiops.correlate.dedup import resolve as resolve_alert
from aiops.correlate.incident import confirm, drop_member, immediate, open_incident, stale
from aiops.correlate.rootcause import CHANGE_TYPES
from aiops.correlate.stage import Context, Stage
from aiops.correlate.state import Incident
from aiops.schema import iso


def open_time(ctx: Context, inc: Incident, upto: datetime) -> tuple[datetime, str] | None:
    """Earliest time <= ``upto`` at which the pending ``inc`` qualifies to open, and why."""
    memo = inc.__dict__.get("_memo")
    key = (len(inc.members), len(inc.live))
    if memo is not None and memo[0] == key and (memo[1] is None or upto < memo[1]):
        return None  # nothing changed and no candidate time has come yet
    cfg = ctx.cfg
    members = sorted(
        (ctx.alerts[m] for m in inc.members if m in ctx.alerts), key=lambda a: (a.starts_at, a.id)
    )
    members = members[:500]  # a group this big has long qualified or never will
    cands: list[tuple[datetime, str]] = []
    for a in members:
        if immediate(ctx, a):
            cands.append((a.starts_at, f"{a.severity} alert {a.name} on {a.entity or '?'}"))
    if inc.ext_count:
        # corroboration: two distinct real alerts firing at the same time. Anomalies do not
        # count: detectors flag noise too, and a blip "corroborated" by one would page
        solid = [(m.starts_at, m) for m in members if not m.detector]
        solid = [(t, m) for t, m in solid if m.firing_at(t)]
        for t, a in solid:
            together = [m for tm, m in solid if tm <= t and m.firing_at(t)]
            if a.detector or len({m.key for m in together if not m.detector}) < 2:
                continue
            other = next(m for m in together if m.key != a.key and not m.detector)
            cands.append(
                (t, f"{a.name} on {a.entity or '?'} corroborates {other.name} on {other.entity or '?'}")
            )
    else:
        # anomalies alone: strong, sustained evidence only. detector_min_alerts distinct ones,
        # from two different detectors (independent signals: metrics, logs, kubernetes), each firing
        # for detector_hold; real alerts usually arrive long before and take them in
        hold = cfg.detector_hold
        solid = [(m.starts_at + hold, m) for m in members]
        solid = [(t, m) for t, m in solid if m.firing_at(t)]
        for t, _ in solid:
            together = [m for tm, m in solid if tm <= t and m.firing_at(t)]
            if len({m.key for m in together}) >= cfg.detector_min_alerts and len(
                {m.source for m in together}
            ) >= 2:
                kinds = sorted({m.name for m in together})
                cands.append(
                    (
                        t,
                        f"{len({m.key for m in together})} anomalies ({', '.join(kinds)}) on "
                        f"{', '.join(sorted({m.entity or '?' for m in together})[:4])} "
                        f"firing together for {int(hold.total_seconds())}s",
                    )
                )
                break
    for a in members:
        if a.detector:
            continue  # deploys bring new log lines: a change event corroborates only real alerts
        for ev in ctx.events:
            if (
                ev["type"] in CHANGE_TYPES
                and a.entity
                and a.entity in (ev["entity"], ev.get("host"))
                and a.starts_at - cfg.change_window <= ev["ts"] <= a.starts_at + cfg.hold_time
                and a.firing_at(max(a.starts_at, ev["ts"]))
            ):
                at = max(a.starts_at, ev["ts"])
                cands.append((at, f"{a.name} on {a.entity} follows {ev['type']} at {iso(ev['ts'])}"))
        t = a.starts_at + cfg.hold_time
        if a.firing_at(t):
            cands.append(
                (t, f"{a.name} on {a.entity or '?'} kept firing for {int(cfg.hold_time.total_seconds())}s")
            )
    due = [c for c in cands if c[0] <= upto]
    later = [c[0] for c in cands if c[0] > upto]
    inc.__dict__["_memo"] = (key, min(later) if later else None)
    return min(due, key=lambda c: c[0]) if due else None


def try_open(ctx: Context, inc: Incident, upto: datetime) -> bool:
    if inc.visible:
        return False
    hit = open_time(ctx, inc, upto)
    if hit is None:
        return False
    open_incident(ctx, inc, hit[0], hit[1])
    return True


class LifecycleStage(Stage):
    """Time-driven transitions, run when the watermark advances."""

    name = "lifecycle"

    def tick(self, ctx: Context, now: datetime) -> None:
        cfg = ctx.cfg
        for aid in sorted(a for a, end in ctx.expiring.items() if end <= now):
            a = ctx.alerts.get(aid)
            ctx.expiring.pop(aid, None)
            if a is not None and a.status == "firing" and a.ends_at is not None:
                resolve_alert(ctx, a, a.ends_at)  # a firing alert past its endsAt expired
        for inc in sorted(ctx.incidents.values(), key=lambda i: (i.created_at, i.id)):
            if inc.status == "pending":
                if not try_open(ctx, inc, now):
                    # gone before it opened: nothing fires, or its real alerts (the only ones
                    # that can open it) all resolved and only anomalies that came along remain
                    if not inc.live or (inc.ext_count and not inc.ext_live):
                        self._drop(ctx, inc)
                    continue
            if inc.tentative:
                due = sorted((inc.members[x].confirm_at, x) for x in inc.tentative if x in inc.members)
                for at, aid in due:
                    if at > now:
                        break
                    a, m = ctx.alerts[aid], inc.members[aid]
                    if a.firing_at(at):
                        confirm(ctx, inc, m, at)
                    else:
                        drop_member(ctx, inc, aid, "transient")
                        inc.note(
                            a.ends_at or now,
                            "transient",
                            f"{a.name} on {a.entity or '?'} resolved within "
                            f"{int(cfg.join_hold.total_seconds())}s; held back",
                            alert=aid,
                        )
                inc.tentative &= set(inc.members)
            live, last = (inc.ext_live, inc.ext_last) if inc.ext_count else (inc.live, inc.last_end)
            if inc.status in ("open", "acknowledged") and not live:
                last = last or inc.last_activity
                if last is not None and last + cfg.resolve_quiet <= now:
                    inc.status = "resolved"
                    inc.resolved_at = last
                    inc.note(
                        last,
                        "resolved",
                        f"all alerts resolved; auto-resolved after "
                        f"{int(cfg.resolve_quiet.total_seconds())}s quiet",
                    )
                    if cfg.learn_cooccurrence:
                        ctx.graph.learn_cooccurrence(set(inc.confirmed_entities))
                    stale(ctx, inc)
        cut = now.replace(second=0, microsecond=0)  # prune on a fixed grid: independent of call sizes
        if ctx.pruned_at is None or cut > ctx.pruned_at:
            self._prune(ctx, cut)
            ctx.pruned_at = cut

    def _drop(self, ctx: Context, inc: Incident) -> None:
        orphans = []
        for aid in inc.members:
            a = ctx.alerts.get(aid)
            if a is not None:
                a.group_id = a.incident_id = None
                if a.detector and a.status == "firing" and inc.ext_count:
                    orphans.append(a)  # came along with a real alert that proved transient
                    continue
                if not a.suppressed:
                    a.suppressed = "transient"
                ctx.touch(a)
        del ctx.incidents[inc.id]
        if orphans:  # still firing: they go where they would have gone on their own
            from aiops.correlate.group import GroupStage

            stage = GroupStage()
            for a in sorted(orphans, key=lambda x: (x.starts_at, x.id)):
                stage.place(a, ctx)
                ctx.touch(a)

    def _prune(self, ctx: Context, now: datetime) -> None:
        """Forget what can no longer change: resolved incidents past the reopen window and
        resolved alerts outside every window (the store keeps their rows)."""
        cfg = ctx.cfg
        horizon = max(cfg.reopen_window, cfg.group_window, cfg.flap_window, cfg.change_window)
        for iid in [
            i
            for i, inc in ctx.incidents.items()
            if inc.status == "resolved" and inc.resolved_at and inc.resolved_at + cfg.reopen_window < now
        ]:
            del ctx.incidents[iid]
        for aid in [
            a
            for a, st in ctx.alerts.items()
            if st.status == "resolved"
            and st.ends_at
            and st.ends_at + horizon < now
            and (st.group_id is None or st.group_id not in ctx.incidents)
        ]:
            st = ctx.alerts.pop(aid)
            ctx.forgotten[aid] = st.ends_at
            if ctx.latest.get(st.key) == aid:
                del ctx.latest[st.key]
        for aid in [a for a, t in ctx.forgotten.items() if t + cfg.retention < now]:
            del ctx.forgotten[aid]
        for k in [k for k, hist in ctx.flaps.items() if not hist or hist[-1][0] + cfg.flap_window < now]:
            del ctx.flaps[k]
        ctx.events[:] = [e for e in ctx.events if e["ts"] + horizon >= now]
        ctx.silences.prune(now - horizon)


def user_action(ctx: Context, inc: Incident, action: str, by: str, at: datetime, note: str = "") -> None:
    """Acknowledge or resolve on a person's behalf (``at`` is event time too)."""
    who = f" by {by}" if by else ""
    text = f"{action}{who}" + (f": {note}" if note else "")
    if action == "acknowledged":
        if inc.status == "resolved":
            raise ValueError(f"incident {inc.id} is resolved; nothing to acknowledge")
        if inc.status == "acknowledged":
            return  # idempotent: the first acknowledgement is what MTTA measures
        inc.status = "acknowledged"
        inc.acknowledged_at = at
    elif action == "resolved":
        if inc.status == "resolved":
            return
        inc.status = "resolved"
        inc.resolved_at = at
        if ctx.cfg.learn_cooccurrence:
            ctx.graph.learn_cooccurrence(set(inc.confirmed_entities))
    else:
        raise ValueError(f"unknown action {action!r}")
    inc.note(at, action, text, by=by)
    ctx.touch_incident(inc)

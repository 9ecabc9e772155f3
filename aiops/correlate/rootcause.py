"""Suggested root cause and owner of an incident.

Root cause: among the entities with (non-inhibited) alerts, the one the most
*other* alerting entities depend on (transitively, through calls or by running
on it) — the most upstream in the graph. A dependent only counts when its first
alert did not start more than ``root_cause_lead`` before the candidate's: a cause
comes before (or with) its effects, so a late upstream alert is not the root.
Ties go to an entity with a change event (deploy, config change, drift...) shortly
before its first signal, then to the earliest first signal.

Owner: the layer of the root cause — infrastructure (a host/node, or a node-level
alert), model serving (a declared model endpoint, or drift/prediction-quality
events from ML tooling), otherwise application — and the team configured for it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from aiops.correlate.stage import Context, parse_time
from aiops.correlate.state import AlertState, Incident
from aiops.schema import iso

CHANGE_TYPES = frozenset(
    {"deploy", "rollback", "config_change", "restart", "scale", "drift", "prediction_quality", "other"}
)
MODEL_EVENTS = frozenset({"drift", "prediction_quality"})
_INFRA = re.compile(r"^(node|host|kube_?node|disk|filesystem|kernel|network|nic|cpu|machine)", re.I)
_MODEL = re.compile(r"(model|drift|prediction|inference)", re.I)


def change_events(
    inc: Incident, entity: str, first: datetime, before: timedelta, after: timedelta
) -> list[dict]:
    """Change events attached to the incident on ``entity`` within [first - before, first + after]
    (the incident's own copy: the result must not depend on when it is computed)."""
    out = []
    for ev in inc.events:
        ts = parse_time(ev["ts"])
        if (
            ev["type"] in CHANGE_TYPES
            and entity in (ev["entity"], ev.get("host"))
            and first - before <= ts <= first + after
        ):
            out.append({**ev, "ts": ts})
    return out


def explain(ctx: Context, inc: Incident, members: list[AlertState]) -> tuple[dict, dict, str]:
    g = ctx.graph
    drivers = [a for a in members if not (a.suppressed or "").startswith("inhibited")] or members
    drivers = [a for a in drivers if not a.detector] or drivers  # anomalies support, alerts decide
    first: dict[str, AlertState] = {}
    for a in sorted(drivers, key=lambda a: (a.starts_at, a.id)):
        if a.entity:
            first.setdefault(a.entity, a)
    if not first:
        a = min(members, key=lambda a: (a.starts_at, a.id))
        return (
            {"service": "", "alert_id": a.id, "reason": "no alert names a service or host"},
            owner(ctx, "", a, inc),
            a.name or "incident",
        )
    ents = sorted(first)
    best = None
    lead = ctx.cfg.root_cause_lead
    for e in ents:
        # e explains o when o depends on e and o's trouble did not start well before e's
        covered = [
            o
            for o in ents
            if o != e and g.depends_on(o, e) and first[o].starts_at >= first[e].starts_at - lead
        ]
        changes = change_events(inc, e, first[e].starts_at, ctx.cfg.change_window, timedelta(seconds=60))
        rank = (len(covered), bool(changes), -first[e].starts_at.timestamp(), e)
        if best is None or rank > best[0]:
            best = (rank, e, covered, changes)
    _, root, covered, changes = best
    ra = first[root]
    parts = []
    if covered:
        parts.append(
            f"{len(covered)} of the {len(ents) - 1} other alerting services depend on {root} "
            f"({', '.join(sorted(covered, key=lambda x: first[x].starts_at))})"
        )
    elif len(ents) > 1:
        parts.append(f"no dependency between the {len(ents)} alerting services is known")
    if changes:
        ev = changes[-1]
        lead = int((ra.starts_at - ev["ts"]).total_seconds())
        when = f"{lead}s before" if lead >= 0 else f"{-lead}s after"
        parts.append(f"{ev['type']} at {iso(ev['ts'])} ({ev['message']}), {when} its first alert")
    parts.append(f"first {'anomaly' if ra.detector else 'alert'} {ra.name or ra.id} at "
                 f"{iso(ra.starts_at)}")
    early = min((a for a in members if a.detector and a.entity == root
                 and a.starts_at < ra.starts_at), key=lambda a: (a.starts_at, a.id), default=None)
    if early is not None:  # the detectors saw it first: that lead is the MTTD an SRE reads
        ahead = int((ra.starts_at - early.starts_at).total_seconds())
        parts.append(f"first signal {early.name or early.id} at {iso(early.starts_at)} "
                     f"({ahead}s earlier)")
    root_cause = {"service": root, "alert_id": ra.id, "reason": "; ".join(parts)}
    n = len(members)
    title = f"{ra.name or 'alert'} on {root}"
    if n > 1:
        others = [e for e in ents if e != root]
        title += (
            f" (+{n - 1} alert{'s' if n > 2 else ''}"
            + (f" on {', '.join(others[:4])}" + ("…" if len(others) > 4 else "") if others else "")
            + ")"
        )
    if inc.scope:  # the same service in two clusters: two incidents, told apart by title
        title += " [" + ", ".join(f"{k}={v}" for k, v in sorted(inc.scope.items())) + "]"
    return root_cause, owner(ctx, root, ra, inc), title


def owner(ctx: Context, entity: str, root_alert: AlertState, inc: Incident) -> dict:
    layer, why = layer_of(ctx, entity, root_alert, inc)
    return {"layer": layer, "team": ctx.cfg.teams.get(layer, layer), "reason": why}


def layer_of(ctx: Context, entity: str, a: AlertState, inc: Incident) -> tuple[str, str]:
    cfg, g = ctx.cfg, ctx.graph
    if entity in cfg.layers:
        return cfg.layers[entity], f"{entity} is configured as {cfg.layers[entity]}"
    if entity and g.is_host(entity):
        return "infrastructure", f"{entity} is a host"
    if entity in cfg.model_endpoints:
        return "model serving", f"{entity} is a model endpoint"
    drift = [ev for ev in inc.events if ev["type"] in MODEL_EVENTS and ev["entity"] == entity]
    if drift:
        return "model serving", f"{drift[0]['type']} event on {entity} from ML tooling"
    if _MODEL.search(a.name) or any(k in a.labels for k in ("model", "model_name", "model_version")):
        return "model serving", f"{a.name} is a model-serving alert"
    if not g.declared(entity) and (_INFRA.match(a.name) or a.labels.get("job") in cfg.host_jobs):
        return "infrastructure", f"{a.name} is a node-level alert"
    return "application", f"{entity or 'the alert'} is an application service"

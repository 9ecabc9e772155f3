"""Grouping: an alert joins the active incident it is most related to, by

* ``group_key``  — it shares the ``group_by`` label values (``service`` = its entity) with a member;
* ``topology``   — its entity is within ``max_hops`` of a member's in the dependency graph
  (score 0.9 at one hop, 0.7 at two; 0.95 for the same entity); a node-level alert starting
  more than ``root_cause_lead`` after the trouble of the services on it began is not
  linked to them (it would be an effect of them, which nodes rarely are, or coincidence);
* ``cooccurrence`` — its entity alerted together with a member's in ``cooccurrence_min``
  earlier incidents;
* ``mention``    — its text names a member's service (or a member's text names its service),
  for services the graph does not already relate (hosts are never linked by mention: service
  alerts name their instance's host all the time);
* ``similarity`` — TF-IDF cosine of the texts >= ``similarity_threshold`` (only when the
  operator's graph does not already say the two entities are unrelated, and not for detector
  alerts, whose texts are generic);
* ``burst``      — for services the graph does not know at all: it started within
  ``burst_window`` of a member (score 0.5), the time-clustering fallback.

Detector alerts are weaker evidence: they join only by group key, same service, a direct
graph edge or a mention, need ``join_hold`` even on a service already in the incident, join
an incident with other alerts only while one of those fires, never pull other alerts in
once the incident has non-detector alerts, and do not keep an incident open on their own.
A group of detector alerts only takes alerts for ``group_window`` after it began.

"Active" means not resolved and with a member firing, or one that ended within
``group_window``. An alert linked to several groups joins the best one (incidents with non-detector alerts
first, then the strongest link); pending groups of detector alerts it links to by service or
a direct edge come along (rule ``merged``: anomalies often precede the alerts). With no match
it may *reopen* a recently resolved incident in which the same
alert (name and group key) fired (``reopen_window``) — a resolved incident never
absorbs unrelated alerts — or else it starts a new pending incident. Alerts below ``min_severity``
are recorded but never grouped.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right

from aiops.correlate.graph import ServiceGraph
from aiops.correlate.incident import drop_member, join, new_incident, out_of_scope
from aiops.correlate.lifecycle import try_open
from aiops.correlate.stage import Context, Stage
from aiops.correlate.state import AlertState, Incident
from aiops.schema import severity_rank


def group_key(ctx: Context, a: AlertState) -> str:
    parts = []
    for k in ctx.cfg.group_by:
        v = a.entity if k in ("service", "entity") else a.labels.get(k, "")
        if not v:
            return ""
        parts.append(f"{k}={v}")
    return ",".join(parts)


class GroupStage(Stage):
    name = "group"

    def process(self, batch: list[AlertState], ctx: Context) -> list[AlertState]:
        for a in batch:
            a.group_key = group_key(ctx, a)
            if severity_rank(a.severity) < severity_rank(ctx.cfg.min_severity):
                continue
            self.place(a, ctx)
        return batch

    def place(self, a: AlertState, ctx: Context) -> Incident:
        best = None
        waiting = []  # pending groups of anomalies a real alert links to: they come along
        for inc in self._active(a, ctx):
            if out_of_scope(ctx, inc, a):
                continue
            ev = self.evidence(a, inc, ctx)
            if ev is None:
                continue
            if not a.detector and not inc.visible and inc.ext_count == 0:
                if ev[1] >= 0.9:  # same service/group or a direct edge
                    waiting.append((inc, ev))
                continue
            # prefer incidents with real alerts over groups of anomalies, then the strongest link
            rank = (inc.ext_count > 0, ev[1], inc.visible, -inc.created_at.timestamp(), inc.id)
            if best is None or rank > best[0]:
                best = (rank, inc, ev)
        if best is not None:
            _, inc, (rule, score, matched, detail) = best
            join(ctx, inc, a, rule, score, matched, detail)
        else:
            inc = self._reopenable(a, ctx) if not a.detector else None
            if inc is not None:
                m = next(
                    iter(
                        x
                        for x in inc.members
                        if ctx.alerts.get(x)
                        and ctx.alerts[x].group_key == a.group_key
                        and ctx.alerts[x].name == a.name
                    )
                )
                join(
                    ctx, inc, a, "group_key", 1.0, m, f"same {a.group_key} as the resolved incident (reopen)"
                )
            else:
                inc = new_incident(ctx, a)
        for other, _ in waiting:  # anomalies that were waiting on the same services come along
            self._merge(ctx, other, inc, a)
        if not inc.visible:
            try_open(ctx, inc, a.starts_at)
        return inc

    def _merge(self, ctx: Context, src: Incident, dst: Incident, bridge: AlertState) -> None:
        """Move a pending group of detector alerts into ``dst``: ``bridge`` links to both.

        Only anomalies that started at most ``detector_lead`` before ``bridge`` come along:
        early signs of the same problem. Older ones stay where they were."""
        since = bridge.starts_at - ctx.cfg.detector_lead
        members = sorted(src.members.values(), key=lambda m: (m.joined_at, m.alert_id))
        links = {m.alert_id: self._link(ctx, m, bridge) for m in members if m.joined_at >= since}
        moving = [m for m in members if links.get(m.alert_id) is not None]
        if not moving:
            return
        if len(moving) == len(members):
            ctx.incidents.pop(src.id, None)
        else:
            for m in moving:
                drop_member(ctx, src, m.alert_id, "")
        for m in moving:
            x = ctx.alerts.get(m.alert_id)
            if x is not None:
                rule, score, detail = links[m.alert_id]
                join(
                    ctx,
                    dst,
                    x,
                    "merged",
                    score,
                    bridge.id,
                    f"anomaly waiting on {x.entity or '?'}; {bridge.name or bridge.id} on "
                    f"{bridge.entity or '?'} links it ({rule}: {detail})",
                    confirm_now=True,
                )

    @staticmethod
    def _link(ctx: Context, m, bridge: AlertState) -> tuple[str, float, str] | None:
        """How this anomaly itself touches ``bridge`` (same group or entity, a direct edge),
        as (rule, score, detail); None if it does not. Only those come along: the group's
        others wait for an alert of their own. Its own link, not the group's: an anomaly on
        payments is not joined by "same service=postgres"."""
        x = ctx.alerts.get(m.alert_id)
        if x is None:
            return None
        if bridge.group_key and x.group_key == bridge.group_key:
            return "group_key", 1.0, f"same {x.group_key}"
        if not x.entity or not bridge.entity:
            return None
        if x.entity == bridge.entity:
            return "topology", 0.95, f"same service {x.entity}"
        if ctx.graph.distance(x.entity, bridge.entity) == 1:
            return "topology", 0.9, _hops(ctx.graph, x.entity, bridge.entity, 1)
        return None

    def _active(self, a: AlertState, ctx: Context) -> list[Incident]:
        out = []
        w = ctx.cfg.group_window
        for inc in ctx.incidents.values():
            if not inc.active or inc.created_at - w > a.starts_at:
                continue
            if inc.ext_count == 0:
                # anomalies only: a burst of them is one group, for group_window from its start
                if inc.created_at + w >= a.starts_at and (
                    inc.live or (inc.last_activity and inc.last_activity + w >= a.starts_at)
                ):
                    out.append(inc)
            elif a.detector:
                if inc.ext_live:
                    out.append(inc)  # an anomaly belongs to a problem while its alerts fire
            elif inc.ext_live or (inc.ext_last and inc.ext_last + w >= a.starts_at):
                out.append(inc)  # detector alerts alone do not keep an incident open to others
        return out

    def _reopenable(self, a: AlertState, ctx: Context) -> Incident | None:
        if not a.group_key:
            return None
        best = None
        same = f"{a.group_key}\x00{a.name}"  # the same alert of the same group must come back
        for inc in ctx.incidents.values():
            if inc.status != "resolved" or same not in inc.keys or inc.resolved_at is None \
                    or out_of_scope(ctx, inc, a):
                continue
            if inc.resolved_at <= a.starts_at <= inc.resolved_at + ctx.cfg.reopen_window:
                if best is None or inc.resolved_at > best.resolved_at:
                    best = inc
        return best

    def evidence(self, a: AlertState, inc: Incident, ctx: Context) -> tuple[str, float, str, str] | None:
        """The strongest (rule, score, matched alert id, detail) linking ``a`` to ``inc``."""
        if not inc.first_entity and not inc.first_key and not inc.starts:
            return None
        if a.group_key and a.group_key in inc.first_key:
            return "group_key", 1.0, inc.first_key[a.group_key], f"same {a.group_key}"
        g, cfg = ctx.graph, ctx.cfg
        best = None
        if a.entity:
            if a.entity in inc.first_entity:
                return "topology", 0.95, inc.first_entity[a.entity], f"same service {a.entity}"
            for e, mid in sorted(inc.first_entity.items(), key=lambda x: (inc.entities.get(x[0]), x[0])):
                d = g.distance(a.entity, e)
                if a.detector and d != 1:
                    continue  # a detector alert needs a direct edge
                first = inc.entities.get(e)
                if (
                    d == 1
                    and g.is_host(a.entity)
                    and not g.is_host(e)
                    and first is not None
                    and a.starts_at > first + cfg.root_cause_lead
                ):
                    continue  # a node alert long after its services' trouble began is no cause of it
                if d is not None and d > 0:
                    score = 0.9 if d == 1 else 0.7
                    if best is None or score > best[1]:
                        best = ("topology", score, mid, _hops(g, a.entity, e, d))
                if best is None and cfg.learn_cooccurrence and not a.detector:
                    c = g.cooccurrence(a.entity, e)
                    if c >= cfg.cooccurrence_min:
                        best = (
                            "cooccurrence",
                            min(0.85, 0.5 + 0.05 * c),
                            mid,
                            f"{a.entity} and {e} alerted together in {c} earlier incidents",
                        )
            if best is not None and best[1] >= 0.9:
                return best
        mention = self._mention(a, inc, ctx) if not g.is_host(a.entity) else None
        if mention is not None and (best is None or mention[1] > best[1]):
            best = mention
        if best is not None:
            return best
        sim = None
        for tok, mid in [] if a.detector else inc.toks.items():
            m = ctx.alerts.get(mid)
            if m is None or m.detector:
                continue  # detector alert texts are generic ("MetricAnomaly"): not evidence
            if a.entity and m.entity and g.declared(a.entity) and g.declared(m.entity):
                continue  # the graph knows both and did not connect them
            s = ctx.tfidf.cosine(a.tokens, tok.split())
            if s >= cfg.similarity_threshold and (sim is None or s > sim[1]):
                sim = (
                    "similarity",
                    s,
                    mid,
                    f"text similarity {s:.2f} with {m.name or mid} on {m.entity or '?'}",
                )
        if sim is not None or not a.entity or g.declared(a.entity) or a.detector:
            return sim
        # nothing known about either service: alerts that start together belong together
        w = cfg.burst_window.total_seconds()
        ts = a.starts_at.timestamp()
        lo = bisect_left(inc.starts, [ts - w, ""])
        for start, mid in inc.starts[lo : bisect_right(inc.starts, [ts + w, "\uffff"])]:
            m = ctx.alerts.get(mid)
            if m is not None and m.entity and not g.declared(m.entity) and not m.detector:
                gap = abs(ts - start)
                return (
                    "burst",
                    0.5,
                    mid,
                    f"started {int(gap)}s from {m.name or mid} on {m.entity} (no graph relation known)",
                )
        return None

    def _mention(self, a: AlertState, inc: Incident, ctx: Context) -> tuple | None:
        g = ctx.graph
        text_a = " ".join(a.annotations.get(k, "") for k in ("summary", "description", "message")).lower()
        if text_a:
            for e, mid in sorted(inc.first_entity.items()):
                if (
                    e != a.entity
                    and len(e) >= 4
                    and not g.is_host(e)
                    and not (g.declared(a.entity) and g.declared(e))
                    and _names(text_a, e)
                ):
                    return "mention", 0.8, mid, f"{a.name or a.id} mentions {e}"
        if a.entity and len(a.entity) >= 4:
            for text, mid in inc.texts.items():
                m = ctx.alerts.get(mid)
                if (
                    m is None
                    or m.entity == a.entity
                    or g.is_host(m.entity)
                    or (g.declared(a.entity) and g.declared(m.entity))
                ):
                    continue  # the graph knows both: topology decides
                if _names(text, a.entity):
                    return "mention", 0.8, mid, f"{m.name or mid} on {m.entity} mentions {a.entity}"
        return None


def _names(text: str, entity: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(entity.lower())}(?![\w-])", text) is not None


def _hops(graph: ServiceGraph, a: str, b: str, d: int) -> str:
    """How ``a`` and ``b`` are linked in the graph, for the evidence an SRE reads."""
    path = "runs on" if graph.is_host(a) or graph.is_host(b) else "depends on"
    plural = "s" if d > 1 else ""
    return f"{a} - {b} ({d} hop{plural}, {path} edge{plural} in the service graph)"

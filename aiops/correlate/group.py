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
  operator's graph does not already say the two entities are unrelated);
* ``burst``      — for services the graph does not know at all: it started within
  ``burst_window`` of a member (score 0.5), the time-clustering fallback.

"Active" means not resolved and with a member firing, or one that ended within
``group_window``. With no match it may *reopen* a recently resolved incident in which the same
alert (name and group key) fired (``reopen_window``) — a resolved incident never
absorbs unrelated alerts — or else it starts a new pending incident. Alerts below ``min_severity``
are recorded but never grouped.
"""

from __future__ import annotations

import re

from aiops.correlate.incident import join, new_incident
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
        for inc in self._active(a, ctx):
            ev = self.evidence(a, inc, ctx)
            if ev is None:
                continue
            rank = (ev[1], inc.visible, -inc.created_at.timestamp(), inc.id)
            if best is None or rank > best[0]:
                best = (rank, inc, ev)
        if best is not None:
            _, inc, (rule, score, matched, detail) = best
            join(ctx, inc, a, rule, score, matched, detail)
        else:
            inc = self._reopenable(a, ctx)
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
        if not inc.visible:
            try_open(ctx, inc, a.starts_at)
        return inc

    def _active(self, a: AlertState, ctx: Context) -> list[Incident]:
        out = []
        w = ctx.cfg.group_window
        for inc in ctx.incidents.values():
            if not inc.active or inc.created_at - w > a.starts_at:
                continue
            if any(m in ctx.firing for m in inc.members) or (
                inc.last_activity and inc.last_activity + w >= a.starts_at
            ):
                out.append(inc)
        return out

    def _reopenable(self, a: AlertState, ctx: Context) -> Incident | None:
        if not a.group_key:
            return None
        best = None
        for inc in ctx.incidents.values():
            if inc.status != "resolved" or a.group_key not in inc.keys or inc.resolved_at is None:
                continue
            if not any(
                ctx.alerts[m].group_key == a.group_key and ctx.alerts[m].name == a.name
                for m in inc.members
                if m in ctx.alerts
            ):
                continue  # the same alert of the same group must come back, not any alert there
            if inc.resolved_at <= a.starts_at <= inc.resolved_at + ctx.cfg.reopen_window:
                if best is None or inc.resolved_at > best.resolved_at:
                    best = inc
        return best

    def evidence(self, a: AlertState, inc: Incident, ctx: Context) -> tuple[str, float, str, str] | None:
        """The strongest (rule, score, matched alert id, detail) linking ``a`` to ``inc``."""
        members = [ctx.alerts[m] for m in inc.members if m in ctx.alerts]
        members = [
            m for m in members if not (m.suppressed or "").startswith(("inhibited", "flapping"))
        ] or members
        if not members:
            return None
        members.sort(key=lambda m: (m.starts_at, m.id))
        if a.group_key and a.group_key in inc.keys:
            m = next((m for m in members if m.group_key == a.group_key), members[0])
            return "group_key", 1.0, m.id, f"same {a.group_key}"
        g, cfg = ctx.graph, ctx.cfg
        best = None
        if a.entity:
            if a.entity in inc.entities:
                m = next((m for m in members if m.entity == a.entity), members[0])
                return "topology", 0.95, m.id, f"same service {a.entity}"
            for e, _t in sorted(inc.entities.items(), key=lambda x: x[1]):
                d = g.distance(a.entity, e)
                if (
                    d == 1
                    and g.is_host(a.entity)
                    and not g.is_host(e)
                    and a.starts_at > _t + cfg.root_cause_lead
                ):
                    continue  # a node alert long after its services' trouble began is no cause of it
                if d is not None and d > 0:
                    score = 0.9 if d == 1 else 0.7
                    if best is None or score > best[1]:
                        m = next((m for m in members if m.entity == e), members[0])
                        path = "runs on" if g.is_host(e) or g.is_host(a.entity) else "depends on"
                        best = (
                            "topology",
                            score,
                            m.id,
                            f"{a.entity} - {e} ({d} hop{'s' if d > 1 else ''}, "
                            f"{path} edge{'s' if d > 1 else ''} in the service graph)",
                        )
                if best is None and cfg.learn_cooccurrence:
                    c = g.cooccurrence(a.entity, e)
                    if c >= cfg.cooccurrence_min:
                        m = next((m for m in members if m.entity == e), members[0])
                        best = (
                            "cooccurrence",
                            min(0.85, 0.5 + 0.05 * c),
                            m.id,
                            f"{a.entity} and {e} alerted together in {c} earlier incidents",
                        )
            if best is not None and best[1] >= 0.9:
                return best
        mention = (
            self._mention(a, [m for m in members if not g.is_host(m.entity)], g)
            if not g.is_host(a.entity)
            else None
        )
        if mention is not None and (best is None or mention[1] > best[1]):
            best = mention
        if best is not None:
            return best
        sim = None
        for m in members:
            if a.entity and m.entity and g.declared(a.entity) and g.declared(m.entity):
                continue  # the graph knows both and did not connect them
            s = ctx.tfidf.cosine(a.tokens, m.tokens)
            if s >= cfg.similarity_threshold and (sim is None or s > sim[1]):
                sim = (
                    "similarity",
                    s,
                    m.id,
                    f"text similarity {s:.2f} with {m.name or m.id} on {m.entity or '?'}",
                )
        if sim is not None or not a.entity or g.declared(a.entity):
            return sim
        for m in members:  # nothing known about either service: alerts that start together belong together
            gap = abs((a.starts_at - m.starts_at).total_seconds())
            if m.entity and not g.declared(m.entity) and gap <= cfg.burst_window.total_seconds():
                return (
                    "burst",
                    0.5,
                    m.id,
                    f"started {int(gap)}s after {m.name or m.id} on {m.entity} (no graph relation known)",
                )
        return None

    def _mention(self, a: AlertState, members: list[AlertState], g) -> tuple | None:
        text_a = " ".join(a.annotations.get(k, "") for k in ("summary", "description", "message")).lower()
        for m in members:
            if g.declared(a.entity) and g.declared(m.entity):
                continue  # the graph knows both: topology decides
            if m.entity and m.entity != a.entity and len(m.entity) >= 4 and _names(text_a, m.entity):
                return "mention", 0.8, m.id, f"{a.name or a.id} mentions {m.entity}"
            text_m = " ".join(m.annotations.get(k, "") for k in ("summary", "description", "message")).lower()
            if a.entity and a.entity != m.entity and len(a.entity) >= 4 and _names(text_m, a.entity):
                return "mention", 0.8, m.id, f"{m.name or m.id} on {m.entity} mentions {a.entity}"
        return None


def _names(text: str, entity: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(entity.lower())}(?![\w-])", text) is not None

"""Dedup: an alert instance is ``fingerprint`` + ``startsAt`` (Alertmanager's
identity). Repeats of a known instance update it (annotations, status, end) and
count as repeats instead of creating anything; only new instances go on down
the pipeline. The fingerprint is Alertmanager's (FNV-1a 64 over the sorted label
set, see ``aiops.schema.fingerprint``); ``dedup_by`` can narrow the identity to a
few labels (e.g. ignore a ``pod`` label that changes on every restart).
"""

from __future__ import annotations

from datetime import datetime

from aiops.correlate.similarity import alert_text, tokens
from aiops.correlate.stage import Context, Stage
from aiops.correlate.state import AlertState, alert_id
from aiops.schema import Alert, fingerprint, normalize_severity, to_utc


def dedup_key(labels: dict[str, str], by: list[str], fp: str) -> str:
    if not by:
        return fp
    return fingerprint({k: labels.get(k, "") for k in by})


class DedupStage(Stage):
    """Turn schema ``Alert`` notifications into ``AlertState`` instances (new ones pass on)."""

    name = "dedup"

    def process(self, batch: list[Alert], ctx: Context) -> list[AlertState]:
        fresh: list[AlertState] = []
        for a in batch:
            st = self._observe(a, ctx)
            if st is not None:
                fresh.append(st)
        return fresh

    def _observe(self, a: Alert, ctx: Context) -> AlertState | None:
        starts = to_utc(a.starts_at)
        ends = to_utc(a.ends_at) if a.ends_at else None
        if ends is not None and ends.year <= 1:
            ends = None  # Go's zero time: Alertmanager's "not ended"
        fp = a.fingerprint or fingerprint(a.labels)
        aid = alert_id(fp, starts)
        if aid in ctx.forgotten:
            return None  # a late repeat of an alert that ended long ago (its row is in the store)
        st = ctx.alerts.get(aid)
        if st is not None:
            st.repeats += 1
            if a.annotations:
                st.annotations = dict(a.annotations)
            if a.generator_url:
                st.generator_url = a.generator_url
            if a.status == "resolved" and st.status == "firing":
                resolve(ctx, st, ends or to_utc(a.ts))
            elif a.status == "firing" and ends is not None and st.status == "firing":
                st.ends_at = ends  # Prometheus-style "valid until"; expiry is checked on tick
                ctx.expiring[st.id] = ends
            ctx.touch(st)
            return None
        sev = (
            normalize_severity(a.labels["severity"])
            if a.labels.get("severity")
            else (a.severity or "warning")
        )
        entity, is_host = ctx.graph.entity_of(a.labels)
        entity = entity or a.service
        if ctx.graph.learn(a.labels, entity, is_host):
            for inc in ctx.incidents.values():  # the graph changed: root causes may too
                if inc.visible and inc.active:
                    ctx.stale.add(inc.id)
        key = dedup_key(a.labels, ctx.cfg.dedup_by, fp)
        drop = ctx.graph.name_parts() | set(entity.lower().replace("_", "-").split("-"))
        toks = tokens(alert_text(a.labels, a.annotations), drop)
        st = AlertState(
            aid,
            fp,
            key,
            dict(a.labels),
            dict(a.annotations),
            "firing",
            starts,
            None,
            a.source,
            sev,
            entity,
            is_host,
            tokens=toks,
            seen_at=to_utc(a.ts),
            generator_url=a.generator_url or "",
        )
        ctx.alerts[aid] = st
        ctx.tfidf.add(toks)
        prev = ctx.latest.get(key)
        if (
            prev
            and prev in ctx.alerts
            and ctx.alerts[prev].status == "firing"
            and ctx.alerts[prev].starts_at < starts
        ):
            resolve(ctx, ctx.alerts[prev], starts)  # a new instance replaces a still-firing older one
        if prev is None or prev not in ctx.alerts or ctx.alerts[prev].starts_at <= starts:
            ctx.latest[key] = aid
        ctx.firing.add(aid)
        if a.status == "resolved":
            resolve(ctx, st, ends or to_utc(a.ts))
        elif ends is not None:
            st.ends_at = ends
            ctx.expiring[st.id] = ends
        ctx.touch(st)
        return st


def resolve(ctx: Context, st: AlertState, at: datetime) -> None:
    st.status = "resolved"
    st.ends_at = max(at, st.starts_at)
    ctx.firing.discard(st.id)
    ctx.expiring.pop(st.id, None)
    ctx.touch(st)
    if st.group_id and st.group_id in ctx.incidents:
        inc = ctx.incidents[st.group_id]
        inc.live.discard(st.id)
        inc.ext_live.discard(st.id)
        if not st.detector and (inc.ext_last is None or st.ends_at > inc.ext_last):
            inc.ext_last = st.ends_at
        if inc.last_activity is None or st.ends_at > inc.last_activity:
            inc.last_activity = st.ends_at
        if inc.last_end is None or st.ends_at > inc.last_end:
            inc.last_end = st.ends_at

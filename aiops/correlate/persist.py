"""The correlator's state as one JSON document (not pickle: a store file must never
be able to run code, and the format should survive refactors of the classes).
"""

from __future__ import annotations

from dataclasses import fields

import orjson

from aiops.correlate.silence import Silence, parse_matchers
from aiops.correlate.stage import Context, parse_time
from aiops.correlate.state import AlertState, Incident, Member

FORMAT = 1
_SET_FIELDS = {"keys", "live", "tentative", "confirmed_entities", "ext_live"}
_DT_FIELDS = {
    "starts_at",
    "ends_at",
    "seen_at",
    "joined_at",
    "confirm_at",
    "created_at",
    "opened_at",
    "acknowledged_at",
    "resolved_at",
    "last_activity",
    "expired_at",
    "last_end",
    "ext_last",
}


def _enc(obj) -> dict:
    out = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, set):
            v = sorted(v)
        elif f.name == "members":
            v = {k: _enc(m) for k, m in v.items()}
        elif f.name == "entities":
            v = {k: t.isoformat() for k, t in v.items()}
        elif f.name == "matchers":
            v = [str(m) for m in v]
        elif f.name in _DT_FIELDS and v is not None:
            v = v.isoformat()
        out[f.name] = v
    return out


def _dec(cls, d: dict):
    kw = {}
    names = {f.name for f in fields(cls)}
    for k, v in d.items():
        if k not in names:
            continue
        if k in _DT_FIELDS and v is not None:
            v = parse_time(v)
        elif k == "members":
            v = {a: _dec(Member, m) for a, m in v.items()}
        elif k == "entities":
            v = {e: parse_time(t) for e, t in v.items()}
        elif k in _SET_FIELDS:
            v = set(v)
        elif k == "matchers":
            v = parse_matchers(v)
        kw[k] = v
    return cls(**kw)


def dumps(ctx: Context) -> bytes:
    doc = {
        "format": FORMAT,
        "stale": sorted(ctx.stale),
        "watermark": ctx.watermark.isoformat() if ctx.watermark else None,
        "pruned_at": ctx.pruned_at.isoformat() if ctx.pruned_at else None,
        "alerts": [_enc(a) for a in ctx.alerts.values()],
        "incidents": [_enc(i) for i in ctx.incidents.values()],
        "events": [{**e, "ts": e["ts"].isoformat()} for e in ctx.events],
        "flaps": {k: [[t.isoformat(), aid] for t, aid in v] for k, v in ctx.flaps.items()},
        "expiring": {k: t.isoformat() for k, t in ctx.expiring.items()},
        "sources": ctx.sources,
        "latest": ctx.latest,
        "firing": sorted(ctx.firing),
        "forgotten": {k: t.isoformat() for k, t in ctx.forgotten.items()},
        "silences": [_enc(s) for s in ctx.silences.silences.values()],
        "graph": ctx.graph.state(),
        "tfidf": ctx.tfidf.state(),
    }
    return orjson.dumps(doc)


def loads(ctx: Context, data: bytes) -> None:
    doc = orjson.loads(data)
    if doc.get("format") != FORMAT:
        raise ValueError(f"correlator state format {doc.get('format')!r} is not {FORMAT}")
    ctx.watermark = parse_time(doc["watermark"]) if doc.get("watermark") else None
    ctx.pruned_at = parse_time(doc["pruned_at"]) if doc.get("pruned_at") else None
    ctx.alerts = {a["id"]: _dec(AlertState, a) for a in doc["alerts"]}
    ctx.incidents = {i["id"]: _dec(Incident, i) for i in doc["incidents"]}
    ctx.events = [{**e, "ts": parse_time(e["ts"])} for e in doc["events"]]
    ctx.flaps = {k: [(parse_time(t), aid) for t, aid in v] for k, v in doc["flaps"].items()}
    ctx.expiring = {k: parse_time(t) for k, t in doc.get("expiring", {}).items()}
    ctx.sources = {k: list(v) for k, v in doc.get("sources", {}).items()}
    ctx.latest = dict(doc["latest"])
    ctx.stale = set(doc.get("stale", []))
    ctx.firing = set(doc["firing"])
    ctx.forgotten = {k: parse_time(t) for k, t in doc.get("forgotten", {}).items()}
    ctx.silences.silences = {s["id"]: _dec(Silence, s) for s in doc["silences"]}
    ctx.graph.load(doc["graph"])
    ctx.tfidf.load(doc["tfidf"])

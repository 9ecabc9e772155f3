"""Read-side SQL for the HTTP service: filtered keyset pages and dashboard aggregates.

Pages use keyset cursors over indexed ``(time, id)`` columns, so page 500 costs
what page 1 costs. Alert and incident documents leave SQLite as the JSON bytes
they were stored as, and the API splices them into its answer without decoding.
Aggregates run over the light indexed columns, never the JSON documents.
"""

from __future__ import annotations

import base64
import binascii
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator, Sequence

import orjson

from aiops.store.retention import oldest_batch


class CursorError(ValueError):
    """A cursor that this query did not hand out."""


@contextmanager
def reading(store: Any) -> Iterator[sqlite3.Connection]:
    """The store's per-thread reader; an in-memory store shares one connection, so lock it."""
    if getattr(store, "memory", False):
        with store._lock:
            yield store.reader()
    else:
        yield store.reader()


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).decode().rstrip("=")


def decode_cursor(cursor: str, n: int, tag: str) -> list[Any]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise CursorError("a cursor returned as next_cursor by this endpoint") from None
    if not isinstance(values, list) or len(values) != n + 1 or values[0] != tag:
        raise CursorError("a cursor returned as next_cursor by this endpoint")
    return values[1:]


@dataclass
class Filter:
    """A WHERE clause built from optional filters (``None`` means no filter)."""

    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def eq(self, column: str, value: Any) -> "Filter":
        if value is None:
            return self
        values = value if isinstance(value, (list, tuple)) else [value]
        if len(values) == 1:
            self.clauses.append(f"{column} = ?")
        else:
            self.clauses.append(f"{column} IN ({','.join('?' * len(values))})")
        self.params.extend(values)
        return self

    def range(self, column: str, since: str | None, until: str | None) -> "Filter":
        if since is not None:
            self.clauses.append(f"{column} >= ?")
            self.params.append(since)
        if until is not None:
            self.clauses.append(f"{column} < ?")
            self.params.append(until)
        return self

    def raw(self, clause: str, *params: Any) -> "Filter":
        self.clauses.append(clause)
        self.params.extend(params)
        return self

    def sql(self) -> str:
        return (" WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


@dataclass
class Page:
    docs: list[bytes]
    next_cursor: str | None


def _keyset(flt: Filter, cols: tuple[str, str], cursor: list[Any] | None, desc: bool) -> None:
    if cursor is not None:
        op = "<" if desc else ">"
        flt.raw(f"({cols[0]}, {cols[1]}) {op} (?, ?)", *cursor)


def _page(store: Any, table: str, flt: Filter, cols: tuple[str, str], limit: int, desc: bool,
          tag: str, extra: str = "doc") -> tuple[list[tuple], str | None]:
    direction = "DESC" if desc else "ASC"
    sql = (f"SELECT {cols[0]}, {cols[1]}, {extra} FROM {table}{flt.sql()} "
           f"ORDER BY {cols[0]} {direction}, {cols[1]} {direction} LIMIT ?")
    with reading(store) as conn:
        rows = conn.execute(sql, (*flt.params, limit + 1)).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = encode_cursor([tag, rows[-1][0], rows[-1][1]]) if more and rows else None
    return rows, nxt


def bound_text(ts: datetime) -> str:
    """A since/until time as the text form the stored columns compare against."""
    text = ts.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{ts.microsecond:06d}".rstrip("0") if ts.microsecond else "")


#: one ``scope`` filter item, ``key=value`` (the stored scope column is ``|``-separated)
SCOPE_ITEM = r"^[^=|]+=[^|]*$"


# -- incidents -----------------------------------------------------------------------------------
def incident_filter(*, status=None, service=None, severity=None, owner=None, since=None,
                    until=None, scope=None) -> Filter:
    """``scope``: ``key=value`` items the incident's scope must all have."""
    flt = Filter().eq("status", status).eq("severity", severity).eq("owner_layer", owner)
    if service is not None:
        services = service if isinstance(service, (list, tuple)) else [service]
        flt.raw("(" + " OR ".join("instr(services, ?) > 0" for _ in services) + ")",
                *[f"|{s}|" for s in services])
    for item in ([scope] if isinstance(scope, str) else scope or []):
        flt.raw("instr(scope, ?) > 0", f"|{item}|")
    return flt.range("opened_at", since, until)


def list_incidents(store: Any, flt: Filter, *, limit: int = 100, cursor: str | None = None,
                   desc: bool = True) -> Page:
    tag = "i-" + ("d" if desc else "a")
    _keyset(flt, ("opened_at", "id"), decode_cursor(cursor, 2, tag) if cursor else None, desc)
    rows, nxt = _page(store, "incidents", flt, ("opened_at", "id"), limit, desc, tag)
    return Page([r[2] for r in rows], nxt)


def get_incident(store: Any, incident_id: str) -> bytes | None:
    with reading(store) as conn:
        row = conn.execute("SELECT doc FROM incidents WHERE id = ?", (incident_id,)).fetchone()
    return None if row is None else row[0]


def incident_alerts(store: Any, incident_id: str) -> dict[str, bytes]:
    with reading(store) as conn:
        rows = conn.execute("SELECT id, doc FROM alerts WHERE incident_id = ?", (incident_id,))
        return {aid: doc for aid, doc in rows}


def incident_status_counts(store: Any) -> dict[str, int]:
    with reading(store) as conn:
        return dict(conn.execute("SELECT status, COUNT(*) FROM incidents GROUP BY status"))


# -- alerts --------------------------------------------------------------------------------------
def alert_filter(*, status=None, service=None, severity=None, owner=None, source=None,
                 incident_id=None, fingerprint=None, name=None, suppressed=None, since=None,
                 until=None) -> Filter:
    flt = (Filter().eq("status", status).eq("service", service).eq("severity", severity)
           .eq("source", source).eq("incident_id", incident_id).eq("fingerprint", fingerprint)
           .eq("name", name))
    if owner is not None:
        owners = owner if isinstance(owner, (list, tuple)) else [owner]
        flt.raw(f"incident_id IN (SELECT id FROM incidents WHERE owner_layer IN "
                f"({','.join('?' * len(owners))}))", *owners)
    if suppressed == "any":
        flt.raw("suppressed IS NOT NULL")
    elif suppressed == "none":
        flt.raw("suppressed IS NULL")
    elif suppressed is not None:  # a reason kind: "silenced", or "silenced by sil-1"
        flt.raw("substr(suppressed, 1, ?) = ?", len(suppressed), suppressed)
    return flt.range("starts_at", since, until)


def list_alerts(store: Any, flt: Filter, *, limit: int = 1000, cursor: str | None = None,
                desc: bool = False) -> Page:
    tag = "a-" + ("d" if desc else "a")
    _keyset(flt, ("starts_at", "id"), decode_cursor(cursor, 2, tag) if cursor else None, desc)
    rows, nxt = _page(store, "alerts", flt, ("starts_at", "id"), limit, desc, tag)
    return Page([r[2] for r in rows], nxt)


def get_alert(store: Any, alert_id: str) -> bytes | None:
    with reading(store) as conn:
        row = conn.execute("SELECT doc FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    return None if row is None else row[0]


# -- templates -----------------------------------------------------------------------------------
_TEMPLATE_COLS = ("source", "id", "template", "count", "first_seen", "last_seen")


def list_templates(store: Any, *, source=None, contains: str | None = None,
                   min_count: int | None = None, limit: int = 100,
                   cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """Most frequent first; the cursor is ``(count, source, id)`` of the last row."""
    flt = Filter().eq("source", source)
    if contains:
        flt.raw("instr(template, ?) > 0", contains)
    if min_count is not None:
        flt.raw("count >= ?", min_count)
    if cursor:
        count, src, tid = decode_cursor(cursor, 3, "t")
        flt.raw("(count < ? OR (count = ? AND (source, id) > (?, ?)))", count, count, src, tid)
    sql = (f"SELECT {', '.join(_TEMPLATE_COLS)} FROM templates{flt.sql()} "
           f"ORDER BY count DESC, source, id LIMIT ?")
    with reading(store) as conn:
        rows = conn.execute(sql, (*flt.params, limit + 1)).fetchall()
    more = len(rows) > limit
    out = [dict(zip(_TEMPLATE_COLS, r)) for r in rows[:limit]]
    nxt = encode_cursor(["t", out[-1]["count"], out[-1]["source"], out[-1]["id"]]) \
        if more and out else None
    return out, nxt


# -- input log -----------------------------------------------------------------------------------
def received_at(store: Any, offset: int) -> float | None:
    with reading(store) as conn:
        row = conn.execute("SELECT received_at FROM batches WHERE offset >= ? ORDER BY offset "
                           "LIMIT 1", (offset,)).fetchone()
    return None if row is None else row[0]


def batches(store: Any, *, after: int = 0, kind: str | None = None, limit: int = 10
            ) -> list[tuple[int, str, int, bytes]]:
    flt = Filter().raw("offset > ?", after).eq("kind", kind)
    with reading(store) as conn:
        return conn.execute(f"SELECT offset, kind, n, payload FROM batches{flt.sql()} "
                            f"ORDER BY offset LIMIT ?", (*flt.params, limit)).fetchall()


def batch_totals(store: Any) -> dict[str, dict[str, int]]:
    """Batches and records ever committed per kind: those retained and those pruned."""
    with reading(store) as conn:
        rows = conn.execute("SELECT kind, batches, records FROM input_totals ORDER BY kind")
        return {k: {"batches": int(b), "records": int(n)} for k, b, n in rows}


def input_log(store: Any) -> dict[str, Any]:
    """The input log's extent and retention (constant time: no row is counted); the oldest
    batch's age is wall-clock seconds since it was received (None when the log is empty)."""
    with reading(store) as conn:
        oldest = oldest_batch(conn)
        pruned = conn.execute("SELECT COALESCE(SUM(batches), 0), COALESCE(SUM(records), 0) "
                              "FROM pruned").fetchone()
    return {"retention_s": getattr(store, "retention_s", None),
            "oldest_offset": oldest[0] if oldest else None,
            "oldest_age_s": time.time() - oldest[1] if oldest else None,
            "pruned_batches": int(pruned[0]), "pruned_records": int(pruned[1])}


# -- dashboards (roll-ups and light columns only) -----------------------------------------------
_SECONDS = "86400.0 * (julianday({b}) - julianday({a}))"

INCIDENT_ROW_COLS = ("id", "status", "severity", "owner_layer", "root_service", "services",
                     "opened_at", "acknowledged_at", "resolved_at", "first_signal_at",
                     "detect_s", "ack_s", "resolve_s")


def incident_rows(store: Any, since: str | None = None, until: str | None = None
                  ) -> list[tuple]:
    """One light tuple per incident (``INCIDENT_ROW_COLS``): lifecycle times and durations in
    seconds of event time. ``services`` is ``|a|b|``.

    ``first_signal_at`` is the earliest start among the incident's alerts (kept by a
    trigger in ``incident_signal``); the durations are what MTTD, MTTA and MTTR average.
    """
    flt = Filter().range("i.opened_at", since, until)
    sql = (  # incidents_light covers every column read here: no JSON document is touched
        "SELECT i.id, i.status, i.severity, i.owner_layer, i.root_service, i.services, "
        "i.opened_at, i.acknowledged_at, i.resolved_at, f.first_at, "
        + _SECONDS.format(a="f.first_at", b="i.opened_at") + ", "
        + _SECONDS.format(a="i.opened_at", b="i.acknowledged_at") + ", "
        + _SECONDS.format(a="i.opened_at", b="i.resolved_at") +
        " FROM incidents i INDEXED BY incidents_light LEFT JOIN incident_signal f "
        "ON f.incident_id = i.id" + flt.sql())
    with reading(store) as conn:
        return conn.execute(sql, flt.params).fetchall()


def _hours(since: str | None, until: str | None) -> Filter:
    """Roll-ups are per event-time hour: the window widens to whole hours."""
    flt = Filter().raw("alerts > 0")
    if since is not None:
        flt.raw("hour >= ?", since[:13])
    if until is not None:
        # until is exclusive: an hour counts when it starts before until
        flt.raw("hour <= ?" if until[13:].strip(":0.") else "hour < ?", until[:13])
    return flt


def alert_rollup(store: Any, group: Sequence[str], since: str | None = None,
                 until: str | None = None) -> list[tuple]:
    """``group`` columns + (alerts, notifications) summed over the smallest roll-up that can."""
    allowed = {"hour", "day", "service", "name", "status", "suppressed"}
    if not set(group) <= allowed:
        raise ValueError(f"group by {sorted(allowed)}")
    cols = ", ".join("substr(hour, 1, 10)" if g == "day" else g for g in group) or "'all'"
    timed = bool({"hour", "day"} & set(group))
    if since is None and until is None:
        table = "alert_hours" if timed else "alert_totals"
        if timed and not set(group) <= {"hour", "day"}:
            table = "alert_rollup"
        flt = Filter().raw("alerts > 0")
    else:
        table = "alert_hours" if set(group) <= {"hour", "day"} else "alert_rollup"
        flt = _hours(since, until)
    sql = (f"SELECT {cols}, SUM(alerts), SUM(notifications) FROM {table}{flt.sql()} "
           f"GROUP BY {', '.join(str(i + 1) for i in range(max(1, len(group))))}")
    with reading(store) as conn:
        return conn.execute(sql, flt.params).fetchall()


def signal_totals(store: Any, group: str, since: str | None = None, until: str | None = None
                  ) -> dict[str, int]:
    """Raw signals (records) per ``kind``, ``service``, ``hour`` or ``day`` of event time."""
    expr = {"kind": "kind", "service": "service", "hour": "substr(hour, 1, 13)",
            "day": "substr(hour, 1, 10)"}[group]
    flt = Filter()
    if since is not None:
        flt.raw("hour >= ?", since[:13])
    if until is not None:
        flt.raw("hour < ?", until)
    with reading(store) as conn:
        return dict(conn.execute(f"SELECT {expr}, SUM(n) FROM signals{flt.sql()} GROUP BY 1",
                                 flt.params).fetchall())

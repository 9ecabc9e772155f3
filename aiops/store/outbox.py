"""The incidents' outbox (``incident_changes``, kept by a trigger, see ``schema``) and the
notifiers' cursors in it: what ``api.notify`` reads and how far each webhook got."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from aiops.store.queries import reading


@dataclass(frozen=True)
class Change:
    id: int
    incident_id: str
    status: str
    severity: str | None
    previous_status: str | None
    previous_severity: str | None
    incident: dict[str, Any]  # the incident as stored now (it may have moved on since)


def changes_after(store: Any, after: int, limit: int = 100) -> list[Change]:
    with reading(store) as conn:
        rows = conn.execute(
            "SELECT c.id, c.incident_id, c.status, c.severity, c.previous_status, "
            "c.previous_severity, i.doc FROM incident_changes c "
            "LEFT JOIN incidents i ON i.id = c.incident_id WHERE c.id > ? ORDER BY c.id "
            "LIMIT ?", (after, limit)).fetchall()
    return [Change(*row[:6], orjson.loads(row[6]) if row[6] else {"id": row[1]})
            for row in rows]


def last_change(store: Any) -> int:
    with reading(store) as conn:
        return conn.execute("SELECT COALESCE(MAX(id), 0) FROM incident_changes").fetchone()[0]


def cursor(store: Any, name: str) -> int:
    """Where the notifier ``name`` got to; a new one starts at the newest change (turning a
    webhook on for a store with history does not page for all of it)."""
    with store._lock:
        w = store._writer
        w.execute("INSERT OR IGNORE INTO notify_cursors(name, last_id) "
                  "SELECT ?, COALESCE(MAX(id), 0) FROM incident_changes", (name,))
        return w.execute("SELECT last_id FROM notify_cursors WHERE name = ?",
                         (name,)).fetchone()[0]


def advance(store: Any, name: str, last_id: int) -> None:
    with store._lock:
        store._writer.execute("UPDATE notify_cursors SET last_id = ? WHERE name = ? AND "
                              "last_id < ?", (last_id, name, last_id))

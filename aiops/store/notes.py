"""Notes responders write on an incident ("rolled back deploy 142", "postgres failover
done"): kept in the store beside the incident, outside the engine's state, so a note on an
incident resolved last month (which the correlator has long forgotten) is kept like any
other, and a replay never touches them."""

from __future__ import annotations

import sqlite3
from typing import Any

from aiops.schema import iso
from aiops.store.queries import reading


def add(store: Any, incident_id: str, at: Any, by: str, text: str) -> dict[str, Any]:
    """Store a note (committed when this returns); the note as :func:`for_incident` lists it."""
    stamp = iso(at)
    with store._lock:
        cur = store._writer.execute(
            "INSERT INTO incident_notes(incident_id, at, by, text) VALUES (?, ?, ?, ?)",
            (incident_id, stamp, by, text))
        note_id = cur.lastrowid
    return {"id": note_id, "at": stamp, "by": by, "text": text}


def for_incident(store: Any, incident_id: str) -> list[dict[str, Any]]:
    """An incident's notes in the order they were written."""
    try:
        with reading(store) as conn:
            rows = conn.execute("SELECT id, at, by, text FROM incident_notes WHERE "
                                "incident_id = ? ORDER BY id", (incident_id,)).fetchall()
    except sqlite3.OperationalError as err:  # a store from before notes, opened read-only
        if "no such table" in str(err):
            return []
        raise
    return [{"id": r[0], "at": r[1], "by": r[2], "text": r[3]} for r in rows]

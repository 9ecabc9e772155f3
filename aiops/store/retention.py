"""How long the input log keeps a batch once a checkpoint covers it.

The input log is what makes an acknowledgement durable until the engine has
processed a batch; after a checkpoint covers it, everything the batch produced
lives in the derived tables, and the raw batch only serves ``/api/v1/records`` and
the idempotency check of re-deliveries. Kept forever, a server taking 75,000
events/s grows its file by gigabytes an hour, so the store drops batches older
than ``input_retention`` (received time, wall clock: this is about disk, not event
time) at each checkpoint, and counts them in ``pruned`` so totals stay whole.
"""

from __future__ import annotations

import sqlite3

#: Batches and records ever committed per kind, kept by a trigger on insert: pruning does not
#: touch them, and ``/api/v1/status`` no longer counts the input log (a GROUP BY over a week
#: of batches at 75 a second is 45M rows). A store made before it counts what it has.
TOTALS_SCHEMA = (
    "CREATE TABLE input_totals (kind TEXT PRIMARY KEY, batches INTEGER NOT NULL, "
    "records INTEGER NOT NULL)",
    "CREATE TRIGGER batches_totals AFTER INSERT ON batches BEGIN "
    "INSERT INTO input_totals(kind, batches, records) VALUES (NEW.kind, 1, NEW.n) "
    "ON CONFLICT(kind) DO UPDATE SET batches = batches + 1, "
    "records = records + excluded.records; END",
    "INSERT INTO input_totals SELECT kind, SUM(b), SUM(r) FROM ("
    "SELECT kind, COUNT(*) AS b, COALESCE(SUM(n), 0) AS r FROM batches GROUP BY kind "
    "UNION ALL SELECT kind, batches, records FROM pruned) GROUP BY kind",
)


def oldest_batch(conn: sqlite3.Connection) -> tuple[int, float] | None:
    """(offset, received_at) of the oldest batch the input log holds, or None."""
    return conn.execute("SELECT offset, received_at FROM batches ORDER BY offset LIMIT 1"
                        ).fetchone()


def prune_input_log(w: sqlite3.Connection, offset: int, cut: float, chunk: int) -> int:
    """Within the caller's transaction, drop the oldest batches that the checkpoint covers
    (``<= offset``) and that were received before ``cut``; returns how many.

    Batches arrive in offset order, so the prunable ones are a prefix: one look at the
    oldest row when there is nothing to do, at most ``chunk`` rows read otherwise."""
    first = oldest_batch(w)
    if first is None or first[0] > offset or first[1] >= cut:
        return 0
    rows = w.execute("SELECT offset, kind, n, received_at FROM batches WHERE offset <= ? "
                     "ORDER BY offset LIMIT ?", (offset, chunk)).fetchall()
    counts: dict[str, list[int]] = {}
    last, dropped = None, 0
    for row_offset, kind, n, received in rows:
        if received >= cut:  # younger (the clock stepped back): it and what follows stay
            break
        last = row_offset
        dropped += 1
        c = counts.setdefault(kind, [0, 0])
        c[0] += 1
        c[1] += n
    if last is None:
        return 0
    w.execute("DELETE FROM batches WHERE offset <= ?", (last,))
    w.executemany("INSERT INTO pruned(kind, batches, records) VALUES (?,?,?) ON CONFLICT(kind) "
                  "DO UPDATE SET batches = batches + excluded.batches, "
                  "records = records + excluded.records",
                  [(kind, b, n) for kind, (b, n) in counts.items()])
    return dropped

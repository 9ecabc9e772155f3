"""The embedded default store: one SQLite file in WAL mode.

Two halves. The input log (``batches``) is append-only and is what makes a 2xx
mean "durable": a batch is committed before anyone is told it was accepted, and
a content/idempotency key makes re-deliveries no-ops. The derived half (alerts,
incidents, templates, signal counts, engine checkpoint) is rewritten by the
engine in one transaction per checkpoint, so a crash leaves either the old
checkpoint or the new one, never a mix, and a restart re-processes the batches
after the checkpoint's offset.

A batch leaves the input log ``input_retention`` (default 7 days) after it was received,
once a checkpoint covers it (see :mod:`aiops.store.retention`).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson

from aiops.durations import seconds
from aiops.store.lock import StoreLock, StoreOpenError
from aiops.store.retention import TOTALS_SCHEMA, prune_input_log
from aiops.store.schema import ADDED_COLUMNS, CHANGES_SCHEMA, ROLLUP_SCHEMA, SCHEMA

_PART = "/part:"        # key suffix of one part of a large state
_PART_BYTES = 1 << 20   # SQLite copies each bound blob: bound in parts, a 40 MB state
                        # costs a few MB more at the checkpoint, not 40 (8 MB parts: ~20)
_PUT_STATE = "INSERT OR REPLACE INTO state(key, value) VALUES (?, ?)"


class _PartWriter:
    """A file-like sink that stores what is written to it under ``key``: in one row if
    it comes to at most ``_PART_BYTES``, else in parts of that size under
    ``key/part:NNNNNN`` with ``key`` itself empty (a state saved whole before is replaced).

    A state given as bytes is written in one call; a state that can write itself
    (``write_to(file)``, e.g. a detector's pickle) is streamed through it, so it never
    exists whole in memory. Parts of what is written are bound without a copy.
    """

    def __init__(self, conn: sqlite3.Connection, key: str) -> None:
        self.conn, self.key = conn, key
        self.buf = bytearray()
        self.parts = 0

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        size = len(view)
        # a part goes out only while more than a part is pending: a state of at most one
        # part (known only at close) stays in one row
        while len(self.buf) + len(view) > _PART_BYTES:
            take = _PART_BYTES - len(self.buf)
            if self.buf:
                self.buf += view[:take]
                self._emit(self.buf)
                self.buf = bytearray()
            else:
                self._emit(view[:take])
            view = view[take:]
        self.buf += view
        return size

    def _emit(self, part: Any) -> None:
        self.conn.execute(_PUT_STATE, (f"{self.key}{_PART}{self.parts:06d}", part))
        self.parts += 1

    def close(self) -> None:
        if not self.parts:
            self.conn.execute(_PUT_STATE, (self.key, bytes(self.buf)))
            return
        if self.buf:
            self._emit(self.buf)
        self.conn.execute(_PUT_STATE, (self.key, b""))


def _write_states(conn: sqlite3.Connection, offset: int, states: dict[str, Any]) -> None:
    conn.execute(_PUT_STATE, ("offset", str(offset).encode()))
    for key, value in states.items():
        sink = _PartWriter(conn, key)
        if isinstance(value, (bytes, bytearray, memoryview)):
            sink.write(value)
        else:
            value.write_to(sink)
        sink.close()


class SQLiteStore:
    """Thread-safe: one writer connection behind a lock, one reader connection per thread."""

    #: input-log rows removed per checkpoint at most (a store that enables retention late
    #: catches up over several checkpoints instead of holding one long transaction)
    PRUNE_CHUNK = 5000

    def __init__(self, path: str | Path = ":memory:", *, durability: str = "normal",
                 input_retention: str | float | None = "7d") -> None:
        if durability not in ("normal", "full"):
            raise ValueError("durability must be 'normal' (survives process crashes) or 'full' "
                             "(also survives power loss)")
        if input_retention is None or input_retention == "forever":
            self.retention_s: float | None = None
        else:
            try:
                self.retention_s = seconds(input_retention, "input_retention")
            except TypeError as exc:
                raise ValueError(f"{exc} (or 'forever')") from None
        self.path = str(path)
        self.memory = self.path == ":memory:"
        self._sync = "FULL" if durability == "full" else "NORMAL"
        self._lock = threading.RLock()
        self._local = threading.local()
        try:
            if not self.memory:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._writer = self._connect()
            self._writer.executescript(SCHEMA)
            self._migrate()
        except (sqlite3.Error, OSError) as exc:  # one line naming the file, not a traceback
            raise StoreOpenError(self.path, exc) from None
        self._closed = False
        self._claim: StoreLock | None = None

    def _migrate(self) -> None:
        w = self._writer
        for table, column, decl in ADDED_COLUMNS:
            cols = {row[1] for row in w.execute(f"PRAGMA table_info({table})")}
            if column not in cols:
                w.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
        w.execute("BEGIN IMMEDIATE")  # two processes may open a new store at once
        try:
            if w.execute("SELECT 1 FROM sqlite_master WHERE name = 'alert_rollup'").fetchone() \
                    is None:
                for statement in ROLLUP_SCHEMA:
                    w.execute(statement)
            if w.execute("SELECT 1 FROM sqlite_master WHERE name = 'input_totals'").fetchone() \
                    is None:
                for statement in TOTALS_SCHEMA:
                    w.execute(statement)
            if w.execute("SELECT 1 FROM sqlite_master WHERE name = 'incident_changes'"
                         ).fetchone() is None:
                for statement in CHANGES_SCHEMA:
                    w.execute(statement)
            w.execute("COMMIT")
        except BaseException:
            if w.in_transaction:  # SQLite already rolled back after an I/O error or a full disk
                w.execute("ROLLBACK")
            raise

    # -- connections ----------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                               timeout=30.0)
        if not self.memory:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._sync}")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def reader(self) -> sqlite3.Connection:
        """A per-thread connection for queries; WAL lets readers run beside the writer."""
        if self.memory:
            return self._writer
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
        return conn

    def claim(self) -> None:
        """Mark this store as processed by this process until it is closed: another
        process's engine then fails with :class:`StoreLockedError` instead of processing
        every batch a second time. API front processes append without claiming."""
        if not self.memory and self._claim is None:
            self._claim = StoreLock(self.path).acquire()

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._writer.close()
                self._closed = True
            if self._claim is not None:
                self._claim.release()
                self._claim = None

    # -- the input log ----------------------------------------------------------------------
    def append_batch(self, kind: str, payload: bytes, n: int, ts_min: int | None,
                     ts_max: int | None, idem_key: str | None = None) -> tuple[int, bool]:
        """Commit one batch; returns (offset, duplicate). A known key returns its first offset."""
        with self._lock:
            w = self._writer
            if idem_key is not None:
                row = w.execute("SELECT offset FROM batches WHERE idem_key=?",
                                (idem_key,)).fetchone()
                if row is not None:
                    return row[0], True
            cur = w.execute(
                "INSERT INTO batches(kind, n, ts_min, ts_max, idem_key, received_at, payload) "
                "VALUES (?,?,?,?,?,?,?)",
                (kind, n, ts_min, ts_max, idem_key, time.time(), payload))
            return cur.lastrowid, False

    def batches_after(self, offset: int, limit: int = 100) -> list[tuple[int, bytes]]:
        with self._lock:
            return self._writer.execute(
                "SELECT offset, payload FROM batches WHERE offset > ? ORDER BY offset LIMIT ?",
                (offset, limit)).fetchall()

    def head_offset(self) -> int:
        with self._lock:
            # the retention may have removed every batch: the last offset ever issued
            # (AUTOINCREMENT never reuses one) is still the head
            row = self._writer.execute(
                "SELECT COALESCE((SELECT MAX(offset) FROM batches), "
                "(SELECT seq FROM sqlite_sequence WHERE name = 'batches'), 0)").fetchone()
        return row[0]

    # -- checkpoints --------------------------------------------------------------------------
    def load_checkpoint(self) -> tuple[int, dict[str, bytes]]:
        with self._lock:
            rows = self._writer.execute("SELECT key, value FROM state ORDER BY key").fetchall()
        states: dict[str, bytes] = {}
        parts: dict[str, list[bytes]] = {}
        for key, value in rows:
            if _PART in key:                    # a large state, stored in parts (in key order)
                parts.setdefault(key.split(_PART)[0], []).append(value)
            else:
                states[key] = bytes(value)
        for key, values in parts.items():
            states[key] = b"".join(values)
        offset = int(states.pop("offset", b"0") or 0)
        return offset, states

    def save_checkpoint(self, offset: int, states: dict[str, Any], *,
                        alerts: Iterable[dict[str, Any]] = (),
                        incidents: Iterable[dict[str, Any]] = (),
                        templates: Iterable[dict[str, Any]] | None = None,
                        signals: dict[tuple[str, str, str], int] | None = None,
                        silences: Iterable[dict[str, Any]] = ()) -> None:
        """Everything derived from batches <= offset, in one transaction.

        A state is bytes, or an object that writes them (``write_to(file)``), streamed into
        the table in parts. ``templates`` is the miner's full current list (it replaces
        the table: ids merged into others disappear); None leaves the table as it is.
        """
        with self._lock:
            w = self._writer
            w.execute("BEGIN IMMEDIATE")
            try:
                w.execute("DELETE FROM state WHERE instr(key, ?) > 0", (_PART,))
                _write_states(w, offset, states)
                w.executemany(  # an upsert, not REPLACE: the roll-up triggers see old and new
                    "INSERT INTO alerts(id, fingerprint, status, service, severity, "
                    "source, starts_at, ends_at, incident_id, suppressed, seq, doc, name, repeats) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
                    "fingerprint=excluded.fingerprint, status=excluded.status, "
                    "service=excluded.service, severity=excluded.severity, "
                    "source=excluded.source, starts_at=excluded.starts_at, "
                    "ends_at=excluded.ends_at, incident_id=excluded.incident_id, "
                    "suppressed=excluded.suppressed, seq=excluded.seq, doc=excluded.doc, "
                    "name=excluded.name, repeats=excluded.repeats",
                    [(a["id"], a.get("fingerprint", ""), a.get("status", "firing"),
                      a.get("service"), a.get("severity"), a.get("source"), a.get("starts_at"),
                      a.get("ends_at"), a.get("incident_id"), a.get("suppressed"), offset,
                      orjson.dumps(a), (a.get("labels") or {}).get("alertname"),
                      a.get("repeats") or 0) for a in alerts])
                w.executemany(
                    "INSERT OR REPLACE INTO incidents(id, status, severity, owner_layer, "
                    "root_service, services, opened_at, resolved_at, seq, doc, acknowledged_at, "
                    "scope) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    [(i["id"], i.get("status", "open"), i.get("severity"),
                      (i.get("owner") or {}).get("layer"),
                      (i.get("root_cause") or {}).get("service"),
                      "|" + "|".join(i.get("services") or []) + "|",
                      i.get("opened_at"), i.get("resolved_at"), offset, orjson.dumps(i),
                      i.get("acknowledged_at"),
                      "|" + "".join(f"{k}={v}|" for k, v in sorted((i.get("scope") or {}).items())))
                     for i in incidents])
                if templates is not None:  # the miner's full, current list: merged ids disappear
                    w.execute("DELETE FROM templates")
                    w.executemany(
                        "INSERT INTO templates(source, id, template, count, first_seen, "
                        "last_seen) VALUES (?,?,?,?,?,?)",
                        [(t.get("source", ""), t["id"], t["template"], t.get("count", 0),
                          t.get("first_seen"), t.get("last_seen")) for t in templates])
                if signals:
                    w.executemany(
                        "INSERT INTO signals(hour, kind, service, n) VALUES (?,?,?,?) "
                        "ON CONFLICT(hour, kind, service) DO UPDATE SET n = n + excluded.n",
                        [(h, k, s, n) for (h, k, s), n in signals.items()])
                w.executemany("INSERT OR REPLACE INTO silences(id, doc) VALUES (?, ?)",
                              [(s["id"], orjson.dumps(s)) for s in silences])
                if self.retention_s is not None:
                    prune_input_log(w, offset, time.time() - self.retention_s, self.PRUNE_CHUNK)
                w.execute("COMMIT")
            except BaseException:
                if w.in_transaction:  # SQLite rolled back itself after an I/O error or full disk
                    w.execute("ROLLBACK")
                raise

    # -- reads used by the CLI; the HTTP service has richer queries -------------------------
    def documents(self, table: str, order: str = "id") -> Iterator[dict[str, Any]]:
        if table not in ("alerts", "incidents", "silences"):
            raise ValueError(table)
        for (doc,) in self.reader().execute(f"SELECT doc FROM {table} ORDER BY {order}"):
            yield orjson.loads(doc)

    def template_rows(self) -> list[dict[str, Any]]:
        cur = self.reader().execute(
            "SELECT source, id, template, count, first_seen, last_seen FROM templates "
            "ORDER BY count DESC, source, id")
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row)) for row in cur]

    def signal_totals(self) -> dict[str, int]:
        rows = self.reader().execute("SELECT kind, SUM(n) FROM signals GROUP BY kind")
        return {kind: int(n) for kind, n in rows}

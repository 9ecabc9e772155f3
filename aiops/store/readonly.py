"""A store opened only to read it: what ``aiops incidents`` and ``aiops dashboard`` use.

Opening a :class:`~aiops.store.sqlite.SQLiteStore` creates a missing file, writes the schema
and migrates an older one: right for an engine, wrong for a command that only looks (a typo
in ``--store`` would leave an empty store behind and show "no incidents"). This opens an
existing aiops store read-only (SQLite's ``mode=ro``): no schema, no migration, no lock, so
it reads beside a running ``aiops serve`` or replay as any WAL reader does.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote


class ReadOnlyStoreError(RuntimeError):
    """The path is not an existing aiops store; the message says what to do."""


class ReadOnlyStore:
    """The reader side of a store, for :mod:`aiops.store.queries`."""

    memory = False

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if not Path(self.path).is_file():
            raise ReadOnlyStoreError(f"store {self.path}: no such file (`aiops replay` writes "
                                     f".aiops/replay.db and `aiops serve` .aiops/aiops.db "
                                     f"unless given --store)")
        try:
            self._conn = sqlite3.connect(f"file:{quote(self.path)}?mode=ro", uri=True,
                                         check_same_thread=False, timeout=30.0)
            self._conn.execute("PRAGMA busy_timeout=30000")
            found = self._conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                       "AND name = 'incidents'").fetchone()
        except sqlite3.Error as err:
            raise ReadOnlyStoreError(f"store {self.path}: cannot read it ({err}): expected "
                                     f"an aiops store (a SQLite file)") from None
        if found is None:
            self._conn.close()
            raise ReadOnlyStoreError(f"store {self.path}: not an aiops store (no incidents "
                                     f"table)")

    def reader(self) -> sqlite3.Connection:
        return self._conn

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "ReadOnlyStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

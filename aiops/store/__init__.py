"""Where accepted records and everything derived from them live.

The engine talks to the store through the small ``Store`` protocol below, so a
PostgreSQL or log-backed (Kafka/JetStream) store is an adapter, not a rewrite.
SQLite (``SQLiteStore``) is the embedded default.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterable, Protocol, Sequence

from aiops.schema import Record
from aiops.store.codec import decode_batch, encode_batch, from_us, to_us
from aiops.store.lock import StoreOpenError, is_storage_error
from aiops.store.sqlite import SQLiteStore


class Store(Protocol):
    def append_batch(self, kind: str, payload: bytes, n: int, ts_min: int | None,
                     ts_max: int | None, idem_key: str | None = None) -> tuple[int, bool]: ...

    def batches_after(self, offset: int, limit: int = 100) -> list[tuple[int, bytes]]: ...

    def head_offset(self) -> int: ...

    def load_checkpoint(self) -> tuple[int, dict[str, bytes]]: ...

    def save_checkpoint(self, offset: int, states: dict[str, Any], *,
                        alerts: Iterable[dict[str, Any]] = (),
                        incidents: Iterable[dict[str, Any]] = (),
                        templates: Iterable[dict[str, Any]] | None = None,
                        signals: dict[tuple[str, str, str], int] | None = None,
                        silences: Iterable[dict[str, Any]] = ()) -> None: ...

    def close(self) -> None: ...


def append_records(store: Store, records: Sequence[Record], idem_key: str | None = None,
                   kind: str | None = None) -> tuple[int, bool]:
    """Commit a batch to the input log: ``(offset, duplicate)``.

    The one durable append, shared by ``Engine.submit`` and the HTTP service's request
    path, so a batch committed by either is the same batch (same content key) to the
    other. Without ``idem_key`` the key is a hash of the encoded batch.
    """
    payload = encode_batch(records)
    key = idem_key or hashlib.blake2b(payload, digest_size=16).hexdigest()
    stamps = [r.ts for r in records]
    if kind is None:
        kinds = {r.kind for r in records}
        kind = kinds.pop() if len(kinds) == 1 else "mixed"
    return store.append_batch(kind, payload, len(records), to_us(min(stamps)),
                              to_us(max(stamps)), key)


def open_store(path: str | Path | None = None, **kwargs: Any) -> SQLiteStore:
    """The default store: a SQLite file (``:memory:`` when no path is given)."""
    return SQLiteStore(path or ":memory:", **kwargs)


__all__ = ["Store", "SQLiteStore", "StoreOpenError", "is_storage_error", "open_store",
           "append_records", "encode_batch", "decode_batch", "to_us", "from_us"]

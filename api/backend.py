"""Where processing runs: a thread beside the server, or a separate process.

Routers talk to a ``Backend``: ``submit`` (the durable 2xx point), the processed
offset and watermark, ``flush``, incident actions, silences. Both backends
commit in the request path and process in one loop (``api.worker.Loop``):

* ``ThreadBackend``: the engine in this process, one worker thread. Needed for
  in-memory stores (tests), simplest to reason about.
* ``ProcessBackend`` (what ``aiops serve`` uses for a file store): the engine
  lives in a child process that reads the committed batches from the store.
  Processing then has its own core and its own GIL, so checkpoints (pickling
  large states) and long catch-ups never stall request handling, and a
  processing bug cannot take the HTTP service down (the child is restarted and
  resumes from its checkpoint).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from aiops.schema import Record
from aiops.store import append_records, queries


class Unavailable(RuntimeError):
    """The processing side cannot answer (its process died or timed out)."""


@dataclass
class Submitted:
    offset: int
    duplicate: bool
    records: int


def commit_batch(store: Any, records: Sequence[Record], idem_key: str | None = None
                 ) -> Submitted:
    """``Engine.submit``'s durable append (the same function), for a process that holds no
    engine: a batch committed here and the same batch through an engine are one batch."""
    offset, dup = append_records(store, records, idem_key)
    return Submitted(offset, dup, len(records))


class Backend:
    """What both backends share: lag and incident counts read from the store."""

    store: Any
    started: float
    #: the highest offset this server committed (no query needed for backpressure)
    head_hint: int = 0

    def _committed(self, result: Submitted) -> Submitted:
        if result.offset > self.head_hint:
            self.head_hint = result.offset
        return result

    def lag(self) -> dict[str, float]:
        head = self.store.head_offset()
        done = self.processed_offset
        seconds = 0.0
        if head > done:
            received = queries.received_at(self.store, done + 1)
            if received is not None:
                seconds = max(0.0, time.time() - received)
        return {"batches": head - done, "seconds": round(seconds, 3), "head_offset": head,
                "processed_offset": done}

    def incident_counts(self) -> dict[str, int]:
        return queries.incident_status_counts(self.store)

    def wait_for(self, offset: int, timeout: float = 30.0) -> bool:
        """Block until the engine has processed ``offset`` (``?wait=true``)."""
        deadline = time.monotonic() + timeout
        while self.processed_offset < offset:
            if time.monotonic() >= deadline or not self.running:
                return self.processed_offset >= offset
            self.notify()
            time.sleep(0.005)
        return True

    # the interface routers use; see the two implementations
    processed_offset: int
    running: bool

    def notify(self) -> None: ...


class ThreadBackend(Backend):
    def __init__(self, engine: Any, checkpoint_interval_s: float = 1.0) -> None:
        from api.worker import Loop

        self.engine = engine
        self.store = engine.store
        self.started = time.monotonic()
        self.loop = Loop(engine, checkpoint_interval_s)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="aiops-processor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(60)
            self._thread = None
        self.loop.finish()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.loop.checkpoint_interval_s)
            self._wake.clear()
            self.loop.step(self._wake.is_set)

    def notify(self) -> None:
        self._wake.set()

    # -- engine side ----------------------------------------------------------------------------
    def submit(self, records: Sequence[Record], idem_key: str | None) -> Submitted:
        r = self.engine.submit(records, idem_key=idem_key)
        return self._committed(Submitted(r.offset, r.duplicate, r.records))

    @property
    def processed_offset(self) -> int:
        return self.engine.offset

    @property
    def watermark(self) -> datetime | None:
        return self.engine.watermark

    @property
    def max_ts(self) -> datetime | None:
        return self.engine.max_ts

    @property
    def errors(self) -> int:
        return self.loop.errors

    @property
    def last_error(self) -> str | None:
        return self.loop.last_error

    def summary(self) -> dict[str, Any]:
        return self.engine.summary()

    def flush(self) -> None:
        self.loop.flush()

    def checkpoint_now(self) -> None:
        self.engine.catch_up()
        self.loop.checkpoint()

    def supports(self, name: str) -> bool:
        return _supports(self.engine, name)

    def call(self, name: str, *args: Any) -> Any:
        return call_engine(self.engine, name, *args)

    def close(self) -> None:
        self.engine.close()


#: user actions: on the engine if it offers them, else on its correlator (then checkpointed)
ACTIONS = ("ack", "resolve", "add_silence", "list_silences", "expire_silence")


def _target(engine: Any, name: str) -> Any:
    if name not in ACTIONS:
        raise ValueError(f"unknown action {name!r}")
    if name in ("ack", "resolve") and not hasattr(engine.correlator, name):
        return None  # the engine wraps these, but needs the correlator to have them
    found = getattr(engine, name, None)
    if callable(found):
        return found
    found = getattr(engine.correlator, name, None)
    return found if callable(found) else None


def _supports(engine: Any, name: str) -> bool:
    return _target(engine, name) is not None


def call_engine(engine: Any, name: str, *args: Any) -> Any:
    """Run a user action under the engine's lock; correlator-level changes are checkpointed
    at once so they survive a restart."""
    fn = _target(engine, name)
    if fn is None:
        raise NotImplementedError(f"this engine does not support {name}")
    lock = getattr(engine, "_lock", None)
    with lock if lock is not None else threading.Lock():
        result = fn(*args)
        if getattr(fn, "__self__", None) is engine.correlator and name != "list_silences":
            engine.checkpoint()
    return result


__all__ = ["Backend", "ThreadBackend", "Submitted", "Unavailable", "commit_batch"]

"""The one background thread that processes committed batches (``engine.catch_up``).

Request handlers only commit (``engine.submit``) and nudge this thread, so an
ingest answer never waits for templates, detection or correlation. The thread
also checkpoints when input pauses (at most every ``checkpoint_interval_s``
of wall time), which is what makes new incidents readable over HTTP soon after
the records behind them: the engine alone checkpoints only every N records.
Checkpoint timing changes when results become visible, never what they are.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from aiops.store import queries

log = logging.getLogger("aiops.api.worker")


class Processor:
    def __init__(self, engine: Any, checkpoint_interval_s: float = 1.0) -> None:
        self.engine = engine
        self.checkpoint_interval_s = checkpoint_interval_s
        self.started = time.monotonic()
        self.errors = 0
        self.last_error: str | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._progress = threading.Condition()
        self._thread: threading.Thread | None = None
        self._dirty = False
        self._last_checkpoint = time.monotonic()

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="aiops-processor", daemon=True)
        self._thread.start()
        self.notify()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish what is committed and checkpoint (not a flush: input may continue later)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        try:
            self.engine.catch_up()
            self.engine.checkpoint()
        except Exception:  # pragma: no cover - reported, the input log still has everything
            log.exception("final catch-up failed; the batches stay in the input log")

    def notify(self) -> None:
        self._wake.set()

    # -- the loop -----------------------------------------------------------------------------
    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            self._wake.wait(self.checkpoint_interval_s)
            self._wake.clear()
            try:
                self.step()
                backoff = 0.1
            except Exception as exc:  # a component bug: keep serving, report, retry
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("processing failed at offset %s", self.engine.offset)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def step(self) -> int:
        done = self.engine.catch_up()
        if done:
            self._dirty = True
            with self._progress:
                self._progress.notify_all()
        now = time.monotonic()
        if self._dirty and not self._wake.is_set() and \
                now - self._last_checkpoint >= self.checkpoint_interval_s:
            self.engine.checkpoint()
            self._dirty = False
            self._last_checkpoint = time.monotonic()
        return done

    # -- waiting and reporting ----------------------------------------------------------------
    def wait_for(self, offset: int, timeout: float = 30.0) -> bool:
        """Block until the engine has processed ``offset`` (for ``?wait=true`` and flush)."""
        deadline = time.monotonic() + timeout
        if not self.running:
            self.engine.catch_up()
        with self._progress:
            while self.engine.offset < offset:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wake.set()
                self._progress.wait(min(left, 0.05))
        return True

    def flush(self) -> None:
        """End of input: process everything committed, close windows, checkpoint."""
        self.engine.flush()
        self._dirty = False
        self._last_checkpoint = time.monotonic()

    def checkpoint_now(self) -> None:
        self.engine.catch_up()
        self.engine.checkpoint()
        self._dirty = False
        self._last_checkpoint = time.monotonic()

    def lag(self) -> dict[str, float]:
        store = self.engine.store
        head = store.head_offset()
        done = self.engine.offset
        seconds = 0.0
        if head > done:
            received = queries.received_at(store, done + 1)
            if received is not None:
                seconds = max(0.0, time.time() - received)
        return {"batches": head - done, "seconds": round(seconds, 3), "head_offset": head,
                "processed_offset": done}

    def incident_counts(self) -> dict[str, int]:
        return queries.incident_status_counts(self.engine.store)

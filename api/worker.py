"""The processing loop: ``engine.catch_up`` whenever batches arrive, checkpoints when input pauses.

Request handlers only commit batches; this loop processes them, in a background
thread (``ThreadBackend``) or in a separate process (``ProcessBackend``, see
``api.backend``). It also checkpoints when input pauses (at most every
``checkpoint_interval_s`` of wall time), which is what makes new incidents
readable over HTTP soon after the records behind them: the engine alone
checkpoints only every N records. Checkpoint timing changes when results become
visible, never what they are.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any, Callable

from aiops.runtime import FreezeSurvivors
from aiops.schema import UTC
from aiops.store import is_storage_error

log = logging.getLogger("aiops.api.worker")


class Loop:
    def __init__(self, engine: Any, checkpoint_interval_s: float = 1.0,
                 on_progress: Callable[[Any], None] | None = None) -> None:
        self.engine = engine
        self.checkpoint_interval_s = checkpoint_interval_s
        self.on_progress = on_progress
        self.errors = 0
        self.last_error: str | None = None
        self._dirty = False
        self._last_checkpoint = time.monotonic()
        self._backoff = 0.1
        self._checkpoint_backoff = 0.1
        self._gc = FreezeSurvivors()
        self._input_at = time.monotonic()  # when a batch was last processed

    def step(self, more_pending: Callable[[], bool] = lambda: False) -> int:
        """Process what is committed; checkpoint if idle and the interval passed.

        Returns the number of batches processed; a component bug is logged, counted and
        retried later with backoff (the batch stays in the input log). So is a checkpoint
        that cannot be written (a full disk): the engine keeps what it has not stored yet
        and writes it at the next attempt; nothing is lost, as the input log holds it too.
        """
        try:
            done = self.engine.catch_up()
        except Exception as exc:
            self._failed("processing failed at offset %s", exc, self._backoff)
            self._backoff = min(self._backoff * 2, 10.0)
            return 0
        self._backoff = 0.1
        if not done:
            self._tick_if_idle()
        else:
            self._input_at = time.monotonic()
            self._gc.after_batch()
            self._dirty = True
            if self.on_progress is not None:
                self.on_progress(self.engine)
        if self._dirty and not more_pending() and \
                time.monotonic() - self._last_checkpoint >= self.checkpoint_interval_s:
            try:
                self.checkpoint()
                self._checkpoint_backoff = 0.1
            except Exception as exc:
                self._last_checkpoint = time.monotonic()  # next attempt after the interval
                self._failed("checkpoint failed at offset %s", exc, self._checkpoint_backoff)
                self._checkpoint_backoff = min(self._checkpoint_backoff * 2, 10.0)
        return done

    def _tick_if_idle(self) -> None:
        """Live input gone quiet: commit a clock tick moving event time to the wall clock.

        Event time otherwise stands still between records: a lone Alertmanager alert (the
        only input of a team that starts with Alertmanager alone) waited for the next
        webhook, hours at Alertmanager's ``repeat_interval``, before it became an incident.
        The tick goes through the input log (processed by the next ``catch_up``, replayed
        after a restart), so what the engine does stays a function of the input log. Input
        whose latest time is further than ``live_within_s`` behind the wall clock is a
        replay of history: it never ticks, so its results do not depend on pauses."""
        params = self.engine.params
        idle = params.idle_clock_s
        if not idle or time.monotonic() - self._input_at < idle:
            return
        self._input_at = time.monotonic()  # the next look after another idle period
        latest, now = self.engine.max_ts, datetime.now(UTC)
        if latest is None or not timedelta(0) < now - latest <= \
                timedelta(seconds=params.live_within_s):
            return
        self.engine.submit_clock(now)

    def _failed(self, what: str, exc: Exception, backoff: float) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        if is_storage_error(exc):  # the disk, not a bug: one line per attempt, no traceback
            log.error(what + ": the store cannot be written (%s); retrying", self.engine.offset,
                      exc)
        else:
            log.exception(what, self.engine.offset)
        time.sleep(backoff)

    def checkpoint(self) -> None:
        self.engine.checkpoint()
        self._dirty = False
        self._last_checkpoint = time.monotonic()
        if self.on_progress is not None:
            self.on_progress(self.engine)

    def flush(self) -> None:
        self.engine.flush()
        self._dirty = False
        self._last_checkpoint = time.monotonic()
        if self.on_progress is not None:
            self.on_progress(self.engine)

    def finish(self) -> None:
        """Shutdown: process what is committed and checkpoint (not a flush: input may resume)."""
        try:
            self.engine.catch_up()
            self.engine.checkpoint()
        except Exception as exc:  # the input log still has every batch
            if is_storage_error(exc):
                log.error("final checkpoint failed: the store cannot be written (%s); the "
                          "batches after the last checkpoint stay in the input log", exc)
            else:
                log.exception("final catch-up failed; the batches stay in the input log")

"""``ProcessBackend``: the engine in a child process, fed through the store's input log.

The server process commits batches (``commit_batch``) and nudges the child with
an event; the child runs ``catch_up`` over the committed batches, checkpoints,
and publishes its processed offset, watermark and summary in shared memory, so
status reads never wait behind processing. Flush, incident actions and silences
are small request/response calls over a pipe. A child that dies is restarted
(with backoff) and resumes from its last checkpoint: nothing committed is lost.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing as mp
import os
import select
import threading
import time
from datetime import datetime, timedelta
from typing import Any, Sequence

import orjson

from aiops.schema import EPOCH, Record
from api.backend import Backend, Submitted, Unavailable, _supports, call_engine, commit_batch

log = logging.getLogger("aiops.api.worker")
_NONE = -(2 ** 63)
_SUMMARY_BYTES = 64 * 1024
_PUBLISH = threading.Lock()


def _us(ts: datetime | None) -> int:
    return _NONE if ts is None else (ts - EPOCH) // timedelta(microseconds=1)


def _ts(us: int) -> datetime | None:
    return None if us == _NONE else EPOCH + timedelta(microseconds=us)


class _Shared:
    """Progress the child publishes: offsets and times as integers, the summary as JSON.

    No locks: a process killed while holding a multiprocessing lock would leave it held
    forever. Texts are published under a sequence number instead (odd while writing), and
    readers retry a torn read.
    """

    def __init__(self, ctx: Any) -> None:
        self.offset = ctx.Value("q", 0, lock=False)
        self.watermark = ctx.Value("q", _NONE, lock=False)
        self.max_ts = ctx.Value("q", _NONE, lock=False)
        self.errors = ctx.Value("q", 0, lock=False)
        self.ready = ctx.Value("b", 0, lock=False)
        self.seq = ctx.Value("q", 0, lock=False)
        self.summary = ctx.Array("c", _SUMMARY_BYTES, lock=False)
        self.last_error = ctx.Array("c", 1024, lock=False)

    def publish(self, engine: Any, loop: Any) -> None:
        """In the child only (two of its threads publish: one writer at a time)."""
        summary = orjson.dumps(engine.summary(), default=str)[:_SUMMARY_BYTES - 1]
        with _PUBLISH:
            self.offset.value = engine.offset
            self.watermark.value = _us(engine.watermark)
            self.max_ts.value = _us(engine.max_ts)
            self.errors.value = loop.errors
            self.write_texts(summary, (loop.last_error or "").encode())

    def write_texts(self, summary: bytes | None, error: bytes) -> None:
        self.seq.value += 1
        if summary is not None:
            self.summary.raw = summary + b"\0"
        self.last_error.raw = error[:1023] + b"\0"
        self.seq.value += 1

    def read_texts(self) -> tuple[bytes, bytes]:
        for _ in range(1000):
            seq = self.seq.value
            if seq % 2 == 0:
                summary, error = self.summary.value, self.last_error.value
                if self.seq.value == seq:
                    return summary, error
            time.sleep(0.0005)
        return b"", b""


class _Wake:
    """A nudge through a non-blocking pipe: robust to either side dying, never blocks."""

    def __init__(self, ctx: Any) -> None:
        self.reader, self.writer = ctx.Pipe(duplex=False)
        os.set_blocking(self.writer.fileno(), False)

    def set(self) -> None:
        try:
            os.write(self.writer.fileno(), b"\0")
        except (BlockingIOError, BrokenPipeError, OSError):
            pass  # full (a nudge is pending anyway) or the child is gone (the watchdog sees it)

    def wait(self, timeout: float) -> bool:
        """In the child: wait for nudges, consume them all."""
        fd = self.reader.fileno()
        ready, _, _ = select.select([fd], [], [], timeout)
        if ready:
            try:
                os.read(fd, 65536)
            except BlockingIOError:
                pass
        return bool(ready)

    def pending(self) -> bool:
        return bool(select.select([self.reader.fileno()], [], [], 0)[0])


def child_main(conn: Any, wake: Any, shared: _Shared, config: Any, store_path: str,
               store_options: dict, checkpoint_interval_s: float) -> None:
    """The child: one engine over the store, a processing loop, and a command pipe.

    It dies with its parent (``PR_SET_PDEATHSIG`` where Linux offers it, else at the next
    command poll, when the pipe reports EOF): two engines must never share a store.
    """
    _die_with_parent()

    from aiops.runtime import follow_parent_on_signals, limit_native_threads, tune_gc

    follow_parent_on_signals()  # the front process stops this one (``stop``: a checkpoint)
    # the engine hosts a pool when the store was written by ``aiops replay --workers N`` (a
    # store keeps its partition count), and multiprocessing refuses children to a daemonic
    # process; this one is daemonic only so that the server's exit takes it along
    mp.current_process().daemon = False

    from aiops.engine import Engine
    from aiops.store import open_store
    from api.worker import Loop

    limit_native_threads()
    engine = Engine(config, open_store(store_path, **store_options))
    loop = Loop(engine, checkpoint_interval_s, on_progress=lambda e: shared.publish(e, loop))
    shared.publish(engine, loop)
    # catch_up runs as long as batches keep coming: report progress from beside it
    threading.Thread(target=_reporter, args=(engine, loop, shared), daemon=True,
                     name="aiops-progress").start()
    tune_gc()
    shared.ready.value = 1
    try:
        while True:
            if conn.poll():
                try:
                    op, args = conn.recv()
                except EOFError:  # the server is gone
                    loop.finish()
                    return
                if op == "stop":
                    loop.finish()
                    shared.publish(engine, loop)
                    conn.send(("ok", None))
                    return
                conn.send(_handle(engine, loop, op, args))
                shared.publish(engine, loop)
                continue
            wake.wait(min(checkpoint_interval_s, 0.05))
            loop.step(wake.pending)
            if loop.errors != shared.errors.value:
                shared.publish(engine, loop)
    finally:
        engine.close()


def _reporter(engine: Any, loop: Any, shared: _Shared, every: float = 0.05) -> None:
    """Publish the offset and watermark often and the summary now and then, mid catch-up."""
    n = 0
    while True:
        time.sleep(every)
        n += 1
        with _PUBLISH:
            shared.offset.value = engine.offset
            shared.watermark.value = _us(engine.watermark)
            shared.max_ts.value = _us(engine.max_ts)
        if n % 20 == 0:
            try:
                shared.publish(engine, loop)
            except RuntimeError:  # a counter changed size under us: next time
                pass


def _die_with_parent() -> None:
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _handle(engine: Any, loop: Any, op: str, args: tuple) -> tuple:
    try:
        if op == "flush":
            loop.flush()
            return ("ok", None)
        if op == "checkpoint":
            engine.catch_up()
            loop.checkpoint()
            return ("ok", None)
        if op == "supports":
            return ("ok", _supports(engine, args[0]))
        if op == "call":
            return ("ok", call_engine(engine, *args))
        return ("err", "ValueError", f"unknown command {op!r}")
    except Exception as exc:  # reported to the caller, which maps it to a status code
        return ("err", type(exc).__name__, str(exc))


class ProcessBackend(Backend):
    def __init__(self, config: Any, store: Any, store_options: dict | None = None,
                 checkpoint_interval_s: float = 1.0) -> None:
        if getattr(store, "memory", False):
            raise ValueError("the process backend needs a file store (a child process cannot "
                             "see an in-memory database)")
        self.config = config
        self.store = store
        self.store_options = dict(store_options or {})
        self.checkpoint_interval_s = checkpoint_interval_s
        self.started = time.monotonic()
        self._ctx = mp.get_context("spawn")
        self._shared = _Shared(self._ctx)
        self._wake = _Wake(self._ctx)
        self._rpc = threading.Lock()
        self._proc: Any = None
        self._conn: Any = None
        self._stopping = False
        self._restarts = 0
        self._note: str | None = None  # the last restart, kept beside the child's own errors
        self._watchdog: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, wait: float = 120.0) -> None:
        self._stopping = False
        atexit.register(self._stop_at_exit)
        self._spawn()
        deadline = time.monotonic() + wait
        while not self._shared.ready.value:
            if not self._proc.is_alive():
                raise Unavailable(f"processing worker exited during start-up (code "
                                  f"{self._proc.exitcode}); see its log above")
            if time.monotonic() > deadline:
                raise Unavailable("processing worker did not start in time")
            time.sleep(0.02)
        self._watchdog = threading.Thread(target=self._watch, name="aiops-watchdog",
                                          daemon=True)
        self._watchdog.start()

    def _spawn(self) -> None:
        parent, child = self._ctx.Pipe()
        self._shared.ready.value = 0
        self._proc = self._ctx.Process(
            target=child_main, name="aiops-engine", daemon=True,
            args=(child, self._wake, self._shared, self.config, self.store.path,
                  self.store_options, self.checkpoint_interval_s))
        self._proc.start()
        child.close()
        self._conn = parent

    def _watch(self) -> None:
        backoff = 1.0
        while not self._stopping:
            time.sleep(0.5)
            if self._stopping or self._proc.is_alive():
                continue
            self._restarts += 1
            code = self._proc.exitcode
            log.error("processing worker exited (code %s); restarting in %.0f s", code, backoff)
            self._set_error(f"processing worker exited with code {code}; restarted")
            time.sleep(backoff)
            backoff = min(backoff * 2, 30.0)
            with self._rpc:
                if not self._stopping:
                    self._spawn()

    def _set_error(self, text: str) -> None:
        self._note = text

    def _stop_at_exit(self) -> None:
        # multiprocessing's exit handler SIGTERMs a daemonic child, then waits for it without
        # a timeout, and the engine process ignores SIGTERM (see child_main): a server that
        # leaves without stop() (start-up failed half way) stops it here, first
        if self._proc is not None and self._proc.is_alive():
            if self._rpc.acquire(timeout=5):  # else a request is stuck: no graceful stop
                self._rpc.release()
                self.stop()
            else:
                self._proc.kill()

    def stop(self) -> None:
        atexit.unregister(self._stop_at_exit)
        self._stopping = True
        try:
            self._request("stop", (), timeout=120.0)
        except Unavailable:
            pass
        if self._proc is not None:
            self._proc.join(10)
            if self._proc.is_alive():  # it ignores SIGTERM (see child_main); the input
                self._proc.kill()      # log keeps what it had not checkpointed
                self._proc.join(5)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.is_alive() and bool(self._shared.ready.value)

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def notify(self) -> None:
        self._wake.set()

    # -- requests -------------------------------------------------------------------------------
    def _request(self, op: str, args: tuple, timeout: float = 300.0) -> Any:
        with self._rpc:
            if self._proc is None or not self._proc.is_alive():
                raise Unavailable("the processing worker is not running")
            try:
                self._conn.send((op, args))
                self._wake.set()
                if not self._conn.poll(timeout):
                    raise Unavailable(f"the processing worker did not answer {op!r} within "
                                      f"{timeout:.0f} s")
                reply = self._conn.recv()
            except (EOFError, OSError, BrokenPipeError) as exc:
                raise Unavailable(f"the processing worker is gone ({exc})") from None
        if reply[0] == "ok":
            return reply[1]
        _, name, message = reply
        exc_type = {"KeyError": KeyError, "ValueError": ValueError, "TypeError": ValueError,
                    "AttributeError": NotImplementedError,
                    "NotImplementedError": NotImplementedError}.get(name, RuntimeError)
        raise exc_type(message)

    # -- engine side ----------------------------------------------------------------------------
    def submit(self, records: Sequence[Record], idem_key: str | None) -> Submitted:
        return self._committed(commit_batch(self.store, records, idem_key))

    @property
    def processed_offset(self) -> int:
        return self._shared.offset.value

    @property
    def watermark(self) -> datetime | None:
        return _ts(self._shared.watermark.value)

    @property
    def max_ts(self) -> datetime | None:
        return _ts(self._shared.max_ts.value)

    @property
    def errors(self) -> int:
        return self._shared.errors.value + self._restarts

    @property
    def last_error(self) -> str | None:
        return self._shared.read_texts()[1].decode(errors="replace") or self._note

    def summary(self) -> dict[str, Any]:
        raw = self._shared.read_texts()[0]
        try:
            return orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            return {}

    def flush(self) -> None:
        self._request("flush", ())

    def checkpoint_now(self) -> None:
        self._request("checkpoint", ())

    def supports(self, name: str) -> bool:
        return bool(self._request("supports", (name,), timeout=60.0))

    def call(self, name: str, *args: Any) -> Any:
        return self._request("call", (name, *args))

    def close(self) -> None:
        self.store.close()

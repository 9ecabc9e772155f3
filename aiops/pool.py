"""Partitions in worker processes: ``--workers N`` for the same results, faster.

Templates and detectors only ever look at one source (a log source, a metric name)
at a time, so the sources can be split among processes: each worker process owns a
:class:`~aiops.partition.Partition` for the sources assigned to it, and the engine
talks to a :class:`PartitionPool` exactly as it talks to one partition. Alerts and
change events need neither templates nor detectors: they stay in the engine's
process, in a local partition, in arrival order.

What keeps the results identical to one process:

* every worker sees the *global* event-time high-water mark after each batch, even
  a worker that got no records in it, so windows close and episodes end at the same
  watermarks as in one process;
* a source stays on one worker for the life of the store (the assignment is
  persisted with the checkpoint), and the assignment is decided by the input alone
  (first sight, least records so far);
* the correlator gets the same alerts: its delivery sorts them by when they became
  known, so it does not matter which worker found them.

Batches are pipelined: ``add`` hands batch *k* to the workers and returns what they
made of batch *k - depth* (each worker queues up to ``depth`` batches), so parsing the
next batches in the engine's process overlaps the workers' mining and detection, and a
worker that finished early does not wait for the slowest. Alerts go out with the
watermark of the batch that found them. A checkpoint waits for the batches in flight and
keeps their alerts in the pool's state, so a restart loses nothing.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import queue
import signal
import threading
import traceback
from collections import Counter
from datetime import datetime, timedelta
from typing import Any, Iterable

from aiops.handoff import Share, fill_shares, unpack_records
from aiops.partition import Emitted, Partition
from aiops.schema import Alert, Record

_HIGHEST = pickle.HIGHEST_PROTOCOL
_WORKER_NICE = 5  # see _worker


class WorkerError(RuntimeError):
    """A worker process failed; its traceback is the message."""


def _read_commands(conn: Any, inbox: queue.SimpleQueue) -> None:
    """Drain the pipe as commands arrive, so the engine's send never waits for this
    worker to finish a batch (it may have the next ones in flight already)."""
    while True:
        try:
            inbox.put(conn.recv_bytes())
        except (EOFError, OSError):
            inbox.put(None)
            return


def _worker(conn: Any, templates: dict, detect: dict, lateness_s: float,
            inherited: list | tuple = ()) -> None:
    from aiops.runtime import (FreezeSurvivors, follow_parent_on_signals, limit_native_threads,
                               tune_gc)

    # a forked worker holds copies of the engine's ends of the pipes made before it, its
    # own among them: while they are open its pipe never reports the engine gone, and a
    # ``kill -9`` of the engine left the workers waiting for ever. Closed, the engine's
    # death is an end of file here, and the worker exits
    for end in inherited:
        end.close()
    follow_parent_on_signals()  # the engine stops its workers (see aiops.cli.interrupt)
    limit_native_threads()
    tune_gc()
    gc_policy = FreezeSurvivors()
    # the engine's process parses and journals what feeds every worker: when the processes
    # outnumber the cores, it goes first (on 2 cores the 1M-line replay took 24.3 s with
    # equal priority, 22.1 s with the workers at nice +5; results do not depend on it)
    if hasattr(os, "nice"):
        os.nice(_WORKER_NICE)
    part = Partition(templates, detect, timedelta(seconds=lateness_s))
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    threading.Thread(target=_read_commands, args=(conn, inbox), daemon=True,
                     name="aiops-partition-reader").start()
    while True:
        data = inbox.get()
        if data is None:
            return
        op, *args = pickle.loads(data)
        try:
            if op == "add":
                payload, max_ts = args
                part.observe(unpack_records(payload) if payload else [])
                part.advance(max_ts)
                reply: Any = (part.release().alerts, dict(part.stats))
                gc_policy.after_batch()
            elif op == "finish":
                reply = (part.finish().alerts, dict(part.stats))
            elif op == "state":
                reply = (part.get_state(), part.templates(), part.drain_signals())
            elif op == "set_state":
                part.set_state(args[0])
                reply = None
            elif op == "close":
                return
            else:  # pragma: no cover - a programming error
                raise ValueError(f"unknown worker operation {op!r}")
            answer = pickle.dumps(("ok", reply), protocol=_HIGHEST)
        except Exception:
            answer = pickle.dumps(("error", traceback.format_exc()), protocol=_HIGHEST)
        try:
            conn.send_bytes(answer)
        except OSError:  # the engine closed its end (aborted, or died): no one to answer
            return


class PartitionPool:
    """The :class:`Partition` interface over ``n`` worker processes plus a local partition.

    ``depth``: batches a worker may have queued or in work while the engine parses the
    next one; with one, a worker that finished early waited for the slowest.
    """

    depth = 3
    #: ``add`` reads a lazy stream once, routing each record as it comes
    lazy_batches = True

    def __init__(self, n: int, templates: dict[str, Any], detect: dict[str, Any],
                 lateness: timedelta) -> None:
        if n < 2:
            raise ValueError(f"a pool needs at least 2 workers, got {n}")
        self.n = n
        self.lateness = lateness
        self.local = Partition(templates, detect, lateness)  # alerts and events
        self.assignment: dict[str, int] = {}
        self.load = [0] * n
        self.max_ts: datetime | None = None
        self._worker_stats: list[dict] = [{} for _ in range(n)]
        self._pending: list[Alert] | None = None  # alerts found but not handed out yet
        self._inflight: list[datetime | None] = []  # the watermark after each batch in flight
        self._snap: list[tuple[dict, list]] | None = None
        self._signals: Counter = Counter()
        # fork is cheap and keeps the parent's imports; a process with other threads
        # (a server) spawns instead, as forking a multi-threaded process is unsafe
        method = "fork" if threading.active_count() == 1 and \
            "fork" in mp.get_all_start_methods() else "spawn"
        ctx = mp.get_context(method)
        self._conns = []
        self._procs = []
        for _ in range(n):
            parent, child = ctx.Pipe()
            self._conns.append(parent)
            # a spawned worker inherits nothing (and pickling a connection would copy it)
            inherited = list(self._conns) if method == "fork" else []
            proc = ctx.Process(target=_worker, daemon=True, name="aiops-partition",
                               args=(child, templates, detect, lateness.total_seconds(),
                                     inherited))
            proc.start()
            child.close()
            self._procs.append(proc)

    # -- the Partition interface ---------------------------------------------------------
    @property
    def watermark(self) -> datetime | None:
        return None if self.max_ts is None else self.max_ts - self.lateness

    @property
    def stats(self) -> Counter:
        total = Counter(self.local.stats)
        for s in self._worker_stats:
            total.update(s)
        return total

    @property
    def miner(self) -> Any:
        return self.local.miner

    @property
    def detectors(self) -> list:
        return self.local.detectors

    def add(self, records: Iterable[Record]) -> Emitted:
        """Hand the batch to the workers; return the alerts of batches ``depth`` back.

        ``records`` may be a lazy stream (``aiops replay`` passes the parser's): each record
        is routed into its worker's columns as it is read and then dropped, so a batch's
        records never all exist at once. Holding 25k parsed records made the engine's
        process, which parses everything when workers run, ~20 % slower per record (they
        no longer fit the CPU's cache), and routing and packing were two passes. The
        pool's own state changes only once the whole batch was read (a parse error part
        way leaves it as it was)."""
        n = self.n
        shares = [Share() for _ in range(n)]
        local: list[Record] = []
        assignment = dict(self.assignment)
        base = self.load

        def worker_for(key: str) -> int:
            w = assignment.get(key)
            if w is None:  # first sight: the worker with the least work so far
                load = [b + s.load() for b, s in zip(base, shares)]
                w = assignment[key] = min(range(n), key=load.__getitem__)
            return w

        count, max_ts = fill_shares(records, shares, worker_for, local, self.max_ts)
        self.assignment = assignment
        self.load = [b + s.load() for b, s in zip(base, shares)]
        before = self.watermark
        self._snap = None
        self.max_ts = max_ts
        for conn, share in zip(self._conns, shares):
            self._send(conn, "add", share.payload(), max_ts)
        self._inflight.append(self.watermark)
        self.local.observe(local)
        self.local.advance(max_ts)
        out = self.local.release()
        out.records = count
        # alerts go out with the watermark of the batch that found them (the correlator
        # delivers everything known by then): kept ones, then batches older than depth
        out.watermark = None
        if self._pending is not None:
            out.alerts.extend(self._pending)
            self._pending = None
            out.watermark = before
        while len(self._inflight) > self.depth:
            found, out.watermark = self._collect_oldest()
            out.alerts.extend(found)
        return out

    def release(self) -> Emitted:
        return self.add([])

    def settle(self) -> Emitted:
        """``add([])``, then every batch still in flight: input is quiet (a clock tick), so
        there is no parsing to overlap with, and its alerts need not wait for ``depth``
        more batches that may be a while coming."""
        out = self.add([])
        while self._inflight:
            found, out.watermark = self._collect_oldest()
            out.alerts.extend(found)
        return out

    def finish(self) -> Emitted:
        previous = self._collect()
        self._snap = None
        self.local.advance(self.max_ts)
        out = self.local.finish()
        out.alerts.extend(previous)
        for conn in self._conns:
            self._send(conn, "finish")
        out.alerts.extend(self._alerts_and_stats())
        out.watermark = self.watermark
        return out

    def drain_signals(self) -> Counter:
        self._snapshot()
        signals, self._signals = self._signals, Counter()
        signals.update(self.local.drain_signals())
        self._snap = None  # a checkpoint reads states, templates, then signals: done
        return signals

    def templates(self) -> list[dict[str, Any]]:
        rows = self.local.templates()
        for _, templates in self._snapshot():
            rows.extend(templates)
        return rows

    def get_state(self, *, deferred: bool = False) -> dict[str, Any]:
        snapshot = self._snapshot()
        own = {"n": self.n, "assignment": self.assignment, "load": self.load,
               "max_ts": self.max_ts, "worker_stats": self._worker_stats,
               "pending": self._pending or []}
        states = {"pool": pickle.dumps(own, protocol=_HIGHEST), **self.local.get_state(deferred=deferred)}
        for i, (worker_states, _) in enumerate(snapshot):
            for key, value in worker_states.items():
                states[f"w{i}.{key}"] = value
        return states

    def set_state(self, states: dict[str, bytes]) -> None:
        own = pickle.loads(states["pool"])
        if own["n"] != self.n:
            raise ValueError(f"the store was written by {own['n']} partitions, not {self.n}")
        self.assignment = own["assignment"]
        self.load = own["load"]
        self.max_ts = own["max_ts"]
        self._worker_stats = own["worker_stats"]
        self._pending = own["pending"] or None
        self.local.set_state(states)
        for i, conn in enumerate(self._conns):
            prefix = f"w{i}."
            self._send(conn, "set_state",
                       {k[len(prefix):]: v for k, v in states.items() if k.startswith(prefix)})
        for conn in self._conns:
            self._recv(conn)

    def close(self) -> None:
        for conn in self._conns:
            try:
                self._send(conn, "close")
                conn.close()
            except (OSError, WorkerError):  # already gone
                pass
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()

    # -- internals -----------------------------------------------------------------------
    def _collect_oldest(self) -> tuple[list[Alert], datetime | None]:
        """Wait for the oldest batch in flight: its alerts and its watermark."""
        return self._alerts_and_stats(), self._inflight.pop(0)

    def _alerts_and_stats(self) -> list[Alert]:
        """Every worker's next reply to ``add``/``finish``: the alerts; keep the stats."""
        alerts: list[Alert] = []
        for i, conn in enumerate(self._conns):
            found, self._worker_stats[i] = self._recv(conn)
            alerts.extend(found)
        return alerts

    def _collect(self) -> list[Alert]:
        """Wait for every batch in flight; their alerts, plus any kept from before."""
        alerts = self._pending or []
        self._pending = None
        while self._inflight:
            alerts.extend(self._collect_oldest()[0])
        return alerts

    def _snapshot(self) -> list[tuple[dict, list]]:
        """Every worker's (states, templates) now; the signals they drained are kept."""
        if self._snap is None:
            if self._inflight:  # their alerts wait in _pending for the next add
                self._pending = self._collect()
            for conn in self._conns:
                self._send(conn, "state")
            self._snap = []
            for conn in self._conns:
                states, templates, signals = self._recv(conn)
                self._snap.append((states, templates))
                self._signals.update(signals)
        return self._snap

    def _send(self, conn: Any, op: str, *args: Any) -> None:
        try:
            conn.send_bytes(pickle.dumps((op, *args), protocol=_HIGHEST))
        except OSError:  # a broken pipe here is the worker's death, not stdout's reader
            raise self._exited(conn) from None

    def _recv(self, conn: Any) -> Any:
        try:
            status, value = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            raise self._exited(conn) from None
        if status != "ok":
            raise WorkerError(f"a partition worker failed:\n{value}")
        return value

    def _exited(self, conn: Any) -> WorkerError:
        """What became of the worker behind ``conn``, as the error to stop on."""
        i = self._conns.index(conn)
        proc = self._procs[i]
        proc.join(timeout=1)
        code = proc.exitcode
        if code is None:
            how = "closed its pipe"
        elif code < 0:
            how = f"was killed by {signal.Signals(-code).name}"
            if -code == signal.SIGKILL:
                how += " (as the kernel's out-of-memory killer does)"
        else:
            how = f"exited with code {code}"
        return WorkerError(f"partition worker {i} (pid {proc.pid}) {how}; "
                           f"what was processed up to the last checkpoint is in the store")

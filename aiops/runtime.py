"""Process-level settings for the owner of an engine: native threads, garbage collection.

Called by the process's owner (the CLI's entry point, pool workers, the API's engine
process), never by the library: an application embedding :class:`~aiops.engine.Engine`
keeps its own settings.
"""

from __future__ import annotations

import gc
import os
import signal
import time

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_native_threads() -> None:
    """Run numerical libraries on one thread in this process.

    The engine's matrices are small (a few hundred rows per fit), so BLAS/OpenMP thread
    pools only add hand-offs; on a small machine their spinning threads compete with
    the engine's own thread and with other processes (a 240x100 PCA took 150 ms with
    OpenBLAS' default pool here and 3 ms on one thread). Parallelism comes from
    ``--workers`` processes instead. Results do not change. Called by the process's
    owner (the CLI's entry point, pool workers, the API's engine process), like
    :func:`tune_gc`: an application embedding :class:`Engine` keeps its own settings.

    Libraries loaded later (scikit-learn and scipy load on the first fit) read the
    environment when they load, so it says one thread too; threadpoolctl limits those
    already loaded.
    """
    for var in _THREAD_VARS:
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        return
    threadpool_limits(1)


#: file descriptors kept free beside the inputs (stdio, the store and its journal, pipes)
_FD_MARGIN = 64


def raise_open_files_limit(inputs: int) -> int | None:
    """Let this process keep ``inputs`` files open at once, beside its own; None if it can,
    else the most inputs it can (the hard limit).

    A replay keeps every input open while it merges them in event time, and the usual soft
    limit (``ulimit -n``, often 1024) ended a replay of a large log directory with a "Too
    many open files" traceback. The soft limit is raised as far as the hard limit allows,
    as servers do at start-up; results do not depend on it.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - not a POSIX system
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = inputs + _FD_MARGIN
    if soft == resource.RLIM_INFINITY or soft >= want:
        return None
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):  # a platform cap below the hard limit (macOS)
            target = soft
    return None if target >= want else max(0, target - _FD_MARGIN)


def follow_parent_on_signals() -> None:
    """Ignore SIGINT, SIGTERM and SIGHUP in a process whose parent decides when it stops.

    A terminal's Ctrl-C or hang-up and a service manager's SIGTERM reach the whole process
    group at once; a child that died of them mid-batch cut its parent's graceful stop (finish
    the batch in work, checkpoint) short. Pool workers and the API's engine process leave
    when their parent says, or when it dies (end of file on its pipe, ``PR_SET_PDEATHSIG``);
    SIGKILL still ends them.
    """
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)


def tune_gc() -> None:
    """Collect garbage far less often in a process that holds the engine's state.

    The engine keeps millions of long-lived objects (template caches, windows) and
    allocates a list per record batch; with the default thresholds (700) the cyclic
    collector ran every few hundred allocations and rescanned that state: a quarter of
    a 1M-line replay's CPU time. The engine makes few reference cycles, so collecting
    rarely frees the same memory (peak RSS unchanged) and results do not change.
    Called by the process's owner (the CLI, a worker, the API), never by the library.
    """
    gc.collect()
    gc.freeze()                        # what was imported is never garbage: never rescan it
    gc.set_threshold(50_000, 20, 100)


class FreezeSurvivors:
    """Keep the cyclic collector off the engine's state as it grows.

    :func:`tune_gc` freezes what exists at start-up; the state built afterwards (template
    caches, windows, forests: millions of objects) was still rescanned by every full
    collection: 27 of them in a 1M-line replay, 2.7 s of its 25 s, freeing 92 objects.
    After a batch, what survived it is state: ``gc.freeze()`` (constant time) moves it out
    of the collector's view, so collections see only what the next batch allocates.
    Cyclic garbage among frozen objects is found by a full collection of everything every
    ``full_every_s`` seconds (wall clock: for a long-running server; a replay is rarely
    that long). Results do not change: the engine's outputs never depend on collection.
    """

    def __init__(self, full_every_s: float = 600.0) -> None:
        self.full_every_s = full_every_s
        self._last_full = time.monotonic()

    def after_batch(self) -> None:
        now = time.monotonic()
        if now - self._last_full >= self.full_every_s:
            gc.unfreeze()
            gc.collect()
            self._last_full = now
        gc.freeze()

"""One processing engine per store file: an advisory lock beside it.

Two engines on one store would both process every batch and overwrite each other's
checkpoints. The lock is ``flock`` on ``<store>.lock``: the kernel drops it when the
holder exits however it exits (``kill -9`` included), so a crash never leaves a stale
lock behind, and the file records who holds it for the error message.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no guard, as before
    fcntl = None


_HELD: "weakref.WeakSet[StoreLock]" = weakref.WeakSet()


def _forget_in_child() -> None:
    """A forked child (a pool worker) drops its copy of the descriptor: the lock stays
    with the parent and goes when the parent goes, not when the last child does."""
    for lock in list(_HELD):
        if lock._fd is not None:
            os.close(lock._fd)
            lock._fd = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


class StoreLockedError(RuntimeError):
    """Another process's engine holds the store."""


#: SQLite's primary result codes for a file or disk that cannot take the write (busy, locked,
#: read-only, I/O error, disk full, cannot open): an operator's problem, not a bug
_STORAGE_CODES = {5, 6, 8, 10, 13, 14}


def is_storage_error(exc: BaseException) -> bool:
    """Did the disk or the store's file fail (full, I/O error, read-only, locked), rather
    than a query? Those get a retryable answer and one log line, not a bug's traceback."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in _STORAGE_CODES


class StoreOpenError(RuntimeError):
    """The store's file cannot be opened or is not an aiops store: the user's to fix."""

    def __init__(self, path: str | Path, cause: Exception) -> None:
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else cause
        parent = Path(path).parent
        if parent.exists() and not parent.is_dir():  # mkdir said "File exists"
            reason = f"{parent} is a file, not a directory"
        super().__init__(f"store {path}: cannot open it ({reason}): expected an aiops store "
                         f"(a SQLite file), or a new file's path in a writable directory")


class StoreLock:
    def __init__(self, store_path: str) -> None:
        self.path = Path(f"{store_path}.lock")
        self._fd: int | None = None

    def acquire(self) -> "StoreLock":
        if fcntl is None:
            return self
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreOpenError(self.path.with_suffix(""), exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreLockedError(
                f"store {self.path.with_suffix('')} is being processed by another aiops "
                f"process ({holder}); stop it first, or use another --store") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        self._fd = fd
        _HELD.add(self)
        return self

    def __del__(self) -> None:  # an engine whose __init__ failed after taking the lock
        self.release()

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

"""Ctrl-C, SIGTERM and a closed terminal stop a long replay between batches, never inside one.

A batch interrupted half way through the detectors or the correlator leaves their state
half updated, and the checkpoint that follows would keep it. So the first signal only
asks: the batch in work finishes, what was read is flushed and checkpointed, the summary
says it was interrupted, and the exit code is the shell's (130 for SIGINT, 143 for
SIGTERM, 129 for SIGHUP). A second Ctrl-C aborts at once (what the last checkpoint holds
stays). After a hang-up, output that went to the gone terminal goes nowhere (writing there
fails); a summary redirected to a file still lands in it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any, Iterable, Iterator


class StopRequest:
    """Signal handlers for the life of a ``with`` block; ``signal_name`` once asked to stop.

    Installs nothing outside the main thread (a command run in-process by a test), and
    leaves a signal alone that the process was started ignoring (``nohup``, ``cmd &``).
    """

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                    if hasattr(signal, name))

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                if signal.getsignal(sig) is not signal.SIG_IGN:
                    self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: object) -> None:
        if self.signal_name is not None:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            return
        self.signal_name = signal.Signals(signum).name
        if signum == getattr(signal, "SIGHUP", None):
            _leave_hung_up_terminal()
        try:
            print(f"aiops: {self.signal_name} received: stopping after the batch in work "
                  f"(Ctrl-C again to abort at once)", file=sys.stderr, flush=True)
        except OSError:  # no one to tell
            pass

    @property
    def exit_code(self) -> int:
        """0 if never asked; else 128 + the signal's number, as a shell reports it."""
        return 0 if self.signal_name is None else 128 + signal.Signals[self.signal_name].value

    def until_stopped(self, records: Iterable[Any]) -> Iterator[Any]:
        """``records`` until a stop is asked: for a paced replay, where one batch can take
        minutes of wall clock (an unpaced one checks between batches, at no cost per record)."""
        for record in records:
            if self.signal_name is not None:
                return
            yield record


def _leave_hung_up_terminal() -> None:
    """Point stdout and stderr at /dev/null where they were a terminal that hung up: every
    write there fails (EIO), and the stop's own message, the progress bar or the summary
    would end the replay with an error before its checkpoint. A ``kill -HUP`` with the
    terminal still open changes nothing."""
    import errno
    import termios

    for fd in (1, 2):
        try:
            termios.tcgetattr(fd)  # a hung-up terminal answers EIO (and isatty() False)
        except termios.error as err:
            if err.args and err.args[0] == errno.EIO:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, fd)
                os.close(devnull)

"""The ``aiops`` command: the composition root (the one place that wires ingest, engine and api).

Each sub-command is a module here exposing ``register(subparsers)``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from aiops import __version__

COMMANDS = ("replay", "incidents", "dashboard", "parse", "templates", "detect", "simulate",
            "eval", "serve")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiops",
        description="Self-hosted AIOps event correlation: logs, metrics, events and alerts in; "
                    "a few explained incidents and MTTD/MTTR/noise-reduction KPIs out.")
    parser.add_argument("--version", action="version", version=f"aiops {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"aiops.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    if argv is None:     # the process's entry point (callers passing argv own their process)
        from aiops.runtime import limit_native_threads, tune_gc

        tune_gc()        # after the imports: they are frozen, never rescanned
        limit_native_threads()  # before anything loads BLAS/OpenMP pools (the first fit)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:  # a second Ctrl-C (replay), or any command's first: no traceback
        from aiops.cli.common import fail

        return fail("interrupted", code=130)
    except BrokenPipeError:  # `aiops ... | head`: the reader left, nothing more to say
        if not _stdout_reader_left():
            raise  # another pipe broke (a worker's, a socket): an error, not a quiet 0
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes stdout
        return 0


def _stdout_reader_left() -> bool:
    """Is stdout a pipe whose reader has gone? (Linux and the BSDs report POLLERR on the
    write end then.) Where it cannot tell, yes, as before the check."""
    try:
        import select

        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & select.POLLERR for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll(), no real stdout
        return True


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

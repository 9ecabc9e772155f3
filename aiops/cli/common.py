"""Shared CLI plumbing: input options, merged event-time streams, progress, JSON output."""

from __future__ import annotations

import argparse
import heapq
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import orjson
from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                           TimeElapsedColumn)

from aiops.config import Config, ConfigError, load_config
from aiops.pool import WorkerError
from aiops.runtime import raise_open_files_limit
from aiops.schema import Record, event_time
from aiops.store import queries
from aiops.store.lock import StoreLockedError, StoreOpenError, is_storage_error
from aiops.store.readonly import ReadOnlyStoreError
from ingest.errors import ErrorPolicy, ParseError
from ingest.files import GZIP_ERRORS, InputSpec, open_text, read_input
from ingest.scenario import load_inputs

stderr = Console(stderr=True)
#: where `aiops replay` keeps its results, and what `aiops incidents` and `aiops dashboard`
#: read, unless given ``--store``
REPLAY_STORE = Path(".aiops") / "replay.db"


def add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-format", metavar="FMT",
                   help="log layout for log inputs without one: auto (default: JSON, "
                        "logfmt, CRI, syslog and the common text layouts, see the README), "
                        "json, logfmt, cri, syslog, a header format like "
                        "'<Date> <Time> <Level> <Content>', or a regex")
    p.add_argument("--service", default="", help="service name for inputs that carry none")
    p.add_argument("--timezone", metavar="TZ", help="zone of naive timestamps (default UTC)")
    p.add_argument("--year", type=int, help="year for timestamps without one (syslog, klog, "
                                            "Proxifier; default: the current year)")
    p.add_argument("--strict", action="store_true",
                   help="stop at the first bad line instead of skipping and counting it")
    p.add_argument("--config", metavar="FILE", help="aiops TOML config (overrides a scenario's)")


def at_least(floor: float, kind: type = int):
    """An argparse ``type``: a ``kind`` number of at least ``floor``, else a usage error that
    says so (a negative --limit or --speed was taken quietly)."""
    def check(text: str):
        try:
            value = kind(text)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not value >= floor or value == float("inf"):
            raise argparse.ArgumentTypeError(f"expected at least {floor:g}, got {text!r}")
        return value
    return check


def above_zero(text: str) -> float:
    """An argparse ``type``: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}")
    return value


def event_time_arg(text: str) -> str:
    """An argparse ``type``: a timestamp (ISO 8601, RFC 3339, epoch seconds or ms, ...) as
    the text the store's time columns compare against."""
    from ingest.timestamps import TimestampParser

    try:
        return queries.bound_text(TimestampParser().parse(text))
    except ParseError as err:
        raise argparse.ArgumentTypeError(f"expected {err.expected}, got {text!r}") from None


def add_read_store_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", metavar="PATH", default=str(REPLAY_STORE),
                   help=f"the store to read (default: {REPLAY_STORE}, what `aiops replay` "
                        f"writes; `aiops serve`'s is .aiops/aiops.db); read-only, so it may "
                        f"be in use by a running serve or replay")


def emit_json(obj: Any, out=None) -> None:
    data = orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str)
    (out or sys.stdout.buffer).write(data + b"\n")
    (out or sys.stdout.buffer).flush()


def fail(message: str, code: int = 2) -> int:
    # escaped: messages name config sections like [templates], which rich reads as markup
    stderr.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return code


@dataclass
class Inputs:
    specs: list[InputSpec]
    config: Config
    policies: list[ErrorPolicy] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)

    def open_files(self, per_input: int = 1) -> None:
        """Make room for ``per_input`` open files per input (each stays open while they are
        merged; a replay also holds each one's descriptor from the start, see
        ``aiops.cli.replayed``), or say how many inputs fit."""
        most = raise_open_files_limit(per_input * len(self.specs))
        if most is not None:
            raise ParseError(f"at most {most // per_input:,} inputs at once: each stays open "
                             f"while they are merged, and the open-file limit (ulimit -n) "
                             f"allows no more; raise it, or replay them in parts into one "
                             f"--store", field="paths", got=f"{len(self.specs):,} inputs")

    def stream(self, strict: bool, keep_original: bool = True) -> Iterator[Record]:
        """All inputs merged in event-time order (each input is read lazily).
        ``keep_original=False``: log records without their raw line and unmapped fields
        (what runs that never show or store records pass; see ``LogReader``)."""
        self.open_files()
        self.policies = [ErrorPolicy(strict=strict) for _ in self.specs]
        self.counts = [0] * len(self.specs)

        def counted(i: int) -> Iterator[Record]:
            n = 0
            try:
                records = read_input(self.specs[i], self.policies[i],
                                     keep_original=keep_original)
                for n, record in enumerate(records, 1):  # noqa: B007
                    yield record
            finally:
                self.counts[i] = n

        return heapq.merge(*(counted(i) for i in range(len(self.specs))), key=event_time)

    def report(self) -> dict[str, Any]:
        per_input = []
        first: list[dict] = []
        for spec, policy, count in zip(self.specs, self.policies, self.counts):
            entry = {"path": spec.label, "kind": spec.kind, "format": spec.format,
                     "records": count, "rejected": policy.count}
            if spec.start:  # a grown file, replayed from where the store had it
                entry["from_byte"] = spec.start
            if spec.replayed_as:  # ... under another name (a rotated log)
                entry["replayed_as"] = spec.replayed_as
            per_input.append(entry)
            first.extend(e.to_dict() for e in policy.first)
        return {"inputs": per_input,
                "rejected": {"count": sum(p.count for p in self.policies),
                             "first_errors": first[:20]}}

    def total_lines(self) -> int:
        total = 0
        for spec in self.specs:
            with open_text(spec.path, spec.start, spec.end) as fh:
                try:
                    total += sum(1 for _ in fh)
                except GZIP_ERRORS:  # damaged: reading it reports that; this is a bar's total
                    pass
        return total


def resolve_inputs(args: argparse.Namespace) -> Inputs:
    specs: list[InputSpec] = []
    config = Config()
    if list(args.paths).count("-") > 1:
        raise ParseError("standard input ('-') at most once", field="paths",
                         got=" ".join(args.paths))
    for path in args.paths:
        found, sections = load_inputs(path)
        if sections:
            config = config.merged(Config.from_dict(sections, str(Path(path) / "scenario.toml")))
        specs.extend(found)
    if not specs:
        raise ParseError("at least one input file", field="paths", got=" ".join(args.paths))
    if getattr(args, "config", None):
        config = config.merged(load_config(args.config))
    for spec in specs:
        if args.log_format and spec.format is None and spec.kind in (None, "log"):
            spec.format = args.log_format
        spec.service = spec.service or args.service
        spec.timezone = spec.timezone or args.timezone
        spec.year = spec.year or args.year
        if spec.kind is None:
            from ingest.files import sniff

            spec.kind, sniffed = sniff(spec.path)
            spec.format = spec.format or sniffed
    return Inputs(specs, config)


def progress(*, enabled: bool = True) -> Progress:
    """A bar on stderr (each task gives its description and total); disabled, rich starts
    no refresh thread (it redraws 10 times a second otherwise, even with every task hidden)."""
    return Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                    MofNCompleteColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                    console=stderr, transient=False, disable=not enabled)


def guarded(func):
    """Turn expected user errors into one clear line and exit code 2, never a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (ParseError, ConfigError, StoreLockedError, StoreOpenError,
                ReadOnlyStoreError) as err:
            return fail(str(err))
        except FileNotFoundError as err:
            return fail(f"{err.filename}: no such file")
        except WorkerError as err:  # not the user's doing (a worker killed, or a bug): 1
            return fail(str(err), code=1)
        except sqlite3.Error as err:
            if not is_storage_error(err):
                raise  # a bug: its traceback
            store = getattr(args, "store", None) or "the store"
            return fail(f"{store} cannot be written ({err}); if the disk is full, free space "
                        f"on it: the store keeps what its last checkpoint saved", code=1)

    return run

"""Files on disk: plain or gzip, kind and format sniffed when not given, read into records."""

from __future__ import annotations

import atexit
import gzip
import io
import os
import shutil
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from itertools import chain, islice
from typing import BinaryIO, Iterable, Iterator

import orjson

from aiops.schema import NO_ATTRIBUTES, Record
from ingest.alerts import is_alertmanager_webhook, read_alerts
from ingest.errors import ErrorPolicy, ParseError, binary_content
from ingest.events import read_events
from ingest.k8sevents import k8s_events_in, mentions_k8s_events
from ingest.jsondocs import iter_json_items, object_line
from ingest.jsonlogs import record_from_object
from ingest.logs import LogReader, describe_parser, make_line_parser
from ingest.metrics import read_metrics_csv, read_metrics_json, read_prometheus_text
from ingest.timestamps import TimestampParser

KINDS = ("log", "metric", "event", "alert")
#: what reading a damaged or truncated gzip file raises
GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)
_DIR_HINTS = {"logs": "log", "log": "log", "metrics": "metric", "metric": "metric",
              "events": "event", "event": "event", "alerts": "alert", "alert": "alert"}


def is_gzip(path: str | os.PathLike) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def open_text(path: str | os.PathLike, start: int = 0, end: int | None = None) -> io.TextIOBase:
    """Text lines of a plain or gzip file (by magic bytes, not the name); bad bytes become U+FFFD,
    and a leading byte-order mark (files written on Windows) is dropped, as the API does.

    ``start``/``end``: only bytes ``[start, end)`` of the content (a gzip file's decompressed
    bytes), what a replay fingerprinted (a log still being written may grow while it is read)
    and the part of a grown file that a store has not replayed yet (``aiops.cli.replayed``)."""
    if not start and end is None:
        if is_gzip(path):
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig",
                                    errors="replace", newline="")
        return open(path, encoding="utf-8-sig", errors="replace", newline="")
    raw = open_content(path)
    raw.seek(start)  # a gzip file decompresses up to it
    span = _Span(raw, None if end is None else max(0, end - start))
    return io.TextIOWrapper(io.BufferedReader(span, 1 << 16),
                            encoding="utf-8" if start else "utf-8-sig", errors="replace",
                            newline="")


def open_content(path: str | os.PathLike) -> BinaryIO:
    """The bytes a file holds: a gzip file's decompressed (a rotated log compressed is the
    same content under another name)."""
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")  # type: ignore[return-value]


class _Span(io.RawIOBase):
    """At most ``length`` bytes of an open binary file, from where it stands."""

    def __init__(self, fh: BinaryIO, length: int | None) -> None:
        self.fh, self.left = fh, length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        view = memoryview(buffer)
        if self.left is not None:
            view = view[:self.left]
        n = self.fh.readinto(view) if len(view) else 0
        if self.left is not None:
            self.left -= n
        return n

    def close(self) -> None:
        self.fh.close()
        super().close()


def resumable(spec: "InputSpec", kind: str, fmt: str | None) -> bool:
    """Can a grown input be replayed from where a store left it? Line-oriented files only
    (plain or gzip): log lines, metric CSVs (their header read again from the top) and JSON
    lines of metrics, events or alerts; not JSON documents (arrays, an object over several
    lines) or Prometheus text (one scrape per file)."""
    if kind == "log":
        return fmt not in (None, "json") or not _json_array(spec.path)
    if kind == "metric" and fmt == "csv":
        return True
    return fmt != "prom" and _json_lines(spec.path)


def _json_lines(path: str | os.PathLike) -> bool:
    """One JSON object per line (what ``iter_json_items`` then reads line by line)?"""
    with open_text(path) as fh:
        first = next((line for line in fh if line.strip()), "")
    return object_line(first) is not None


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".ndjson", ".jsonl", ".json", ".csv", ".prom", ".log", ".txt"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


def sniff(path: str | os.PathLike) -> tuple[str, str | None]:
    """Guess ``(kind, format)`` from the folder name, the extension, then the first record."""
    p = Path(path)
    name = p.name.removesuffix(".gz").lower()
    hint = _DIR_HINTS.get(p.parent.name.lower())
    if name.endswith(".prom"):
        return "metric", "prom"
    if name.endswith(".csv"):
        return "metric", "csv"
    try:
        with open_text(p) as fh:
            head = fh.read(65536)
    except GZIP_ERRORS as exc:
        raise ParseError(f"a readable gzip file ({exc})", source=str(p), field="file") from None
    binary = binary_content(head)
    if binary:
        raise ParseError("a text file (log lines, JSON or CSV; plain or gzip)", source=str(p),
                         field="file", got=binary)
    first = head.lstrip()
    if first[:1] in "[{":
        obj = _first_json_object(first)
        if obj is not None:
            if is_alertmanager_webhook(obj):
                return "alert", "alertmanager"
            if k8s_events_in(obj):
                return "event", "json"
            if "labels" in obj and ("startsAt" in obj or "status" in obj):
                return "alert", "generic"
            if hint in ("event", "metric", "alert"):
                return hint, "json"
            if "value" in obj and ("name" in obj or "metric" in obj or "__name__" in obj):
                return "metric", "json"
            if "type" in obj and not any(k in obj for k in ("msg", "message", "log")):
                return "event", "json"
            return "log", "json"
        if mentions_k8s_events(head):  # a List too large to parse from the file's head
            return "event", "json"
    return hint or "log", None


def _first_json_object(text: str) -> dict | None:
    candidates = [text, text.split("\n", 1)[0]]
    for candidate in candidates:
        try:
            obj = orjson.loads(candidate)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, list):
            obj = obj[0] if obj else None
        if isinstance(obj, dict):
            return obj
    return None


@dataclass
class InputSpec:
    """One input of a replay: a file and how to read it (anything unset is sniffed)."""

    path: Path
    kind: str | None = None
    format: str | None = None
    service: str = ""
    timezone: str | None = None
    year: int | None = None
    name: str = ""
    options: dict = field(default_factory=dict)
    #: what records and errors call this input (default: the path; "stdin" for ``-``)
    source: str = ""
    #: read bytes ``[start, end)`` only (``end`` None: to the end), after ``lines_before``
    #: lines: a replay bounds what it fingerprinted, and resumes a grown file (see open_text)
    start: int = 0
    end: int | None = None
    lines_before: int = 0
    #: the name under which a store replayed this content before (a rotated log), if another
    replayed_as: str = ""

    @property
    def label(self) -> str:
        return self.source or str(self.path)


def spool_stdin(stream: BinaryIO | None = None, source: str = "stdin") -> InputSpec:
    """``-`` (or a named pipe, ``source``): the stream to its end, in a temporary file
    (removed at exit).

    An input is read more than once (sniffed, counted for the progress bar, read), and a
    pipe only once; a live stream belongs to ``aiops serve``, not to a file command.
    """
    stream = stream if stream is not None else sys.stdin.buffer
    if stream.isatty():
        print(f"aiops: reading {'standard input' if source == 'stdin' else source} until end "
              f"of file (Ctrl-D)", file=sys.stderr)
    fd, name = tempfile.mkstemp(prefix="aiops-stdin-")
    atexit.register(lambda: Path(name).unlink(missing_ok=True))
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(stream, out, 1 << 20)
    return InputSpec(path=Path(name), source=source)


def kind_and_format(spec: InputSpec) -> tuple[str, str | None]:
    """The input's kind and format as given, the rest sniffed."""
    kind, fmt = spec.kind, spec.format
    if kind is None or (fmt is None and kind != "log"):
        sniffed_kind, sniffed_fmt = sniff(spec.path)
        kind = kind or sniffed_kind
        fmt = fmt or (sniffed_fmt if sniffed_kind == kind else None)
    return kind, fmt


def read_input(spec: InputSpec, policy: ErrorPolicy, default_ts: datetime | None = None,
               keep_original: bool = True) -> Iterator[Record]:
    """All records of one input, through the reader its kind and format call for
    (``keep_original``: see :class:`~ingest.logs.LogReader`)."""
    kind, fmt = kind_and_format(spec)
    if kind not in KINDS:
        raise ParseError(f"an input kind: {', '.join(KINDS)}", source=spec.label,
                         field="kind", got=kind)
    records = _read(spec, kind, fmt, spec.label, policy, default_ts, keep_original)
    if is_gzip(spec.path):  # plain files take no extra generator step per record
        records = _until_damaged(records, policy, spec.label)
    return records


def _json_array(path: str | os.PathLike) -> bool:
    """A JSON array of objects? (``[2026-11-28 10:00:00] ERROR ...`` is a text log.)"""
    with open_text(path) as fh:
        head = fh.read(4096).lstrip()
    return head[:1] == "[" and head[1:].lstrip()[:1] in ("{", "]")


def _read_log_array(spec: InputSpec, source: str, policy: ErrorPolicy,
                    keep_original: bool) -> Iterator[Record]:
    """Logs exported as one JSON array (Elasticsearch, CloudWatch and Loki exports), not one
    object per line: every item through the same mapping as a JSON log line."""
    parser = make_line_parser("json", service=spec.service, source=source,
                              timestamps=TimestampParser(tz=spec.timezone))
    spec.format = "json"
    with open_text(spec.path) as fh:
        for location, item in iter_json_items(fh, source=source, policy=policy):
            try:
                record = record_from_object(
                    item, location=location, source=source, service=spec.service,
                    timestamps=parser.timestamps, raw_fallback=parser.raw_fallback,
                    raw=orjson.dumps(item).decode() if keep_original else "")
            except ParseError as err:
                policy.report(err)
                continue
            if not keep_original:
                record.attributes = NO_ATTRIBUTES  # type: ignore[assignment]
            yield record


def _until_damaged(records: Iterator[Record], policy: ErrorPolicy,
                   source: str) -> Iterator[Record]:
    """A damaged or truncated .gz (a log rotated while it was compressed): the records before
    the damage count, the damage is one reported error, and the other inputs go on."""
    try:
        yield from records
    except GZIP_ERRORS as exc:
        policy.report(ParseError(f"a complete gzip file ({exc}); the records before the "
                                 f"damage were read", source=source, field="file"))


def _read(spec: InputSpec, kind: str, fmt: str | None, source: str, policy: ErrorPolicy,
          default_ts: datetime | None, keep_original: bool) -> Iterator[Record]:
    if kind == "log" and fmt in (None, "json") and _json_array(spec.path):
        yield from _read_log_array(spec, source, policy, keep_original)
        return
    if kind == "log":
        reader = LogReader(fmt, service=spec.service, source=source, timezone=spec.timezone,
                           year=spec.year, policy=policy, keep_original=keep_original,
                           **spec.options)
        spec.format = fmt
        reader.lines_read = spec.lines_before
        if spec.start:  # a grown file's rest: its layout is sampled from its top, as before
            with open_text(spec.path) as top:  # (a blank top leaves it to the rest's lines)
                reader.sample_layout(list(islice(top, 50)))
        with open_text(spec.path, spec.start, spec.end) as fh:
            yield from reader.read(fh, continued=bool(spec.start))
        spec.format = spec.format or describe_parser(reader.parser)
        return
    with open_text(spec.path, spec.start, spec.end) as fh:
        if kind == "metric" and fmt == "csv":
            rows: Iterable[str] = fh
            if spec.start:  # the rest of a grown CSV: its header is on the first line
                with open_text(spec.path) as top:
                    rows = chain([top.readline()], fh)
            yield from read_metrics_csv(rows, source=source, name=spec.name or _stem(Path(spec.label)),
                                        timezone=spec.timezone, policy=policy,
                                        first_row=spec.lines_before + 1 if spec.start else 2)
            return
        if kind == "metric" and fmt == "prom":
            if default_ts is None and "timestamp" in spec.options:
                default_ts = TimestampParser(tz=spec.timezone).parse(spec.options["timestamp"])
            if default_ts is None:
                raise ParseError("a scrape time for samples without timestamps (give the input "
                                 "a 'timestamp' or put timestamps on every sample)",
                                 source=source, field="timestamp")
            yield from read_prometheus_text(fh, default_ts=default_ts, source=source,
                                            policy=policy)
            return
        # JSON: NDJSON files stream line by line (see iter_json_items)
        before = spec.lines_before
        if kind == "metric":
            yield from read_metrics_json(fh, source=source, name=spec.name,
                                         timezone=spec.timezone, policy=policy,
                                         lines_before=before)
        elif kind == "event":
            yield from read_events(fh, source=source, timezone=spec.timezone, policy=policy,
                                   lines_before=before)
        else:
            yield from read_alerts(fh, source=source, timezone=spec.timezone, policy=policy,
                                   lines_before=before)

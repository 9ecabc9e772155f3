"""Log files and bodies to LogRecords: format choice, auto-detection, multi-line joining.

``format`` is one of: ``None``/``"auto"`` (sniff the first lines), ``"json"``,
``"syslog"`` (``"rfc3164"``/``"rfc5424"``), a loghub-style header format
(``<Date> <Time> <Level> <Content>``), or a named-group regex (``regex:...`` or
any pattern containing ``(?P<``). Lines that don't start a record but look like
a continuation (indented, ``at ...``, ``Caused by:``, ``Traceback``) join the
record before them, so a stack trace stays one record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any, Callable, Iterable, Iterator, Protocol

import orjson

from aiops.schema import NO_ATTRIBUTES, LogRecord, normalize_level
from ingest.applines import AppLines
from ingest.cri import CRI, CriLineParser
from ingest.errors import ErrorPolicy, ParseError, binary_content
from ingest.headerformat import RegexLineParser, header_format_parser, named_regex_parser
from ingest.jsonlogs import (HOST_KEYS, LEVEL_KEYS, MSG_KEYS, SERVICE_KEYS, TS_KEYS,
                             JsonLineParser, record_from_object)
from ingest.layouts import (CONTINUATION, LAYOUT_NAMES, database_layouts, first_fit,
                            generic_layouts, program_layouts)
from ingest.logfmt import LogfmtLineParser
from ingest.syslog import SyslogLineParser
from ingest.timestamps import TimestampParser, fraction

DEFAULT_MAX_LINE = 256 * 1024
#: terminal escape sequences (colours, cursor moves), as in ``kubectl logs`` of an app that
#: colours its output: removed from a text line before it is parsed, so that levels, header
#: fields and templates see the text ("\x1b[31mERROR\x1b[0m" is ERROR)
ANSI_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")


class LineParser(Protocol):
    def parse(self, line: str, lineno: int = 0) -> LogRecord | None: ...


def make_line_parser(fmt: str | None, *, service: str = "", source: str = "",
                     timestamps: TimestampParser | None = None,
                     sample: list[str] | None = None) -> LineParser:
    """The parser a format name asks for; ``auto`` picks the one matching most sample lines."""
    timestamps = timestamps or TimestampParser()
    kw = {"service": service, "source": source, "timestamps": timestamps}
    name = (fmt or "auto").strip()
    lowered = name.lower()
    if lowered in ("json", "jsonl", "ndjson"):
        return JsonLineParser(raw_fallback=_EmbeddedText(kw), **kw)
    if lowered == "cri":
        return CriLineParser(**kw)
    if lowered == "logfmt":
        return LogfmtLineParser(**kw)
    if lowered in ("syslog", "rfc3164", "rfc5424"):
        return SyslogLineParser(rfc=lowered[3:] if lowered.startswith("rfc") else None, **kw)
    if lowered.startswith("regex:"):
        return named_regex_parser(name[6:], **kw)
    if "(?P<" in name:
        return named_regex_parser(name, **kw)
    if lowered == "auto":
        return detect_line_parser(sample or [], **kw)
    if "<" in name and ">" in name:
        return header_format_parser(name, **kw)
    raise ParseError("a log format: auto, json, logfmt, cri, syslog, rfc3164, rfc5424, a header format like "
                     "'<Date> <Time> <Level> <Content>', or a regex with named groups",
                     field="log_format", got=fmt)


def _candidates(kw: dict) -> list[LineParser]:
    return [
        JsonLineParser(**kw),
        CriLineParser(**kw),  # before syslog: its lines are RFC 3164 ones too (host 'stdout')
        SyslogLineParser(rfc="5424", **kw),
        *database_layouts(kw),
        SyslogLineParser(rfc="3164", **kw),
        *generic_layouts(kw),
        *program_layouts(kw),
        LogfmtLineParser(**kw),
    ]


class _EmbeddedText:
    """Text a JSON item carries instead of fields: called, syslog-ng's ``_raw`` line (any
    non-JSON layout, syslog included); ``app_line``, the line an app printed that Docker or
    Fluent Bit wrapped as ``log`` (JSON or a text layout, see ``ingest.applines``)."""

    def __init__(self, kw: dict) -> None:
        self.kw = kw  # the parsers are made when first needed: most JSON has no embedded text
        self.parsers: list[LineParser] | None = None
        self.app: AppLines | None = None

    def app_line(self, text: str, lineno: int) -> tuple[str, str, str, str, dict] | None:
        if self.app is None:
            self.app = AppLines(self.kw.get("source", ""))
        return self.app.parse(text, lineno)

    def __call__(self, text: str, lineno: int) -> LogRecord | None:
        if self.parsers is None:
            # not CRI: one line at a time, a split line's part would be held for a rest
            # never seen
            self.parsers = [p for p in _candidates(self.kw)[1:] if type(p) is not CriLineParser]
        found = first_fit(self.parsers, text, lineno)
        return found[1] if found is not None else None


def detect_line_parser(sample: list[str], **kw) -> LineParser:
    lines = [line for line in sample if line.strip()][:50]
    best, best_hits = None, 0
    for parser in _candidates(kw):
        hits = 0
        for i, line in enumerate(lines):
            if hits + len(lines) - i <= best_hits:
                break  # cannot fit more lines than the best so far (a tie goes to the first)
            try:
                if parser.parse(line, i + 1) is not None:
                    hits += 1
                elif type(parser) is CriLineParser and CRI.match(line):
                    hits += 1  # a split line's part, or a stack frame: CRI's all the same
            except ParseError:
                pass
        if hits > best_hits:
            best, best_hits = parser, hits
            if hits == len(lines):
                break  # every line: no later candidate can do better
    if best is None:
        first = binary_content("".join(sample)) or (lines[0] if lines else "")
        raise ParseError("a recognisable log layout (JSON lines, logfmt, CRI, syslog, a leading "
                         "or bracketed timestamp, klog, Ruby Logger, PostgreSQL, MySQL, Redis, "
                         "an access log); pass a format such as '<Date> <Time> <Level> "
                         "<Content>'",
                         source=kw.get("source", ""), line=1, field="log_format", got=first)
    if isinstance(best, JsonLineParser):
        best.raw_fallback = _EmbeddedText(kw)
    if isinstance(best, CriLineParser):
        best.reset()  # the sample is read again
    return best


class LogReader:
    """Reads one stream of log lines into records, strict or lenient (see ErrorPolicy).

    ``keep_original=False`` drops each record's original line (``raw``) and unmapped fields
    (``attributes``) as it is yielded: only the input log and ``aiops parse`` show them, and
    nothing downstream reads them. A replay holds 25k records at a time; without them its
    1M-line run peaks 11 MiB lower and runs ~5 % faster (less to keep and collect)."""

    def __init__(self, format: str | None = None, *, service: str = "", source: str = "",
                 timezone: str | None = None, year: int | None = None,
                 policy: ErrorPolicy | None = None, multiline: str = "auto",
                 max_line: int = DEFAULT_MAX_LINE, keep_original: bool = True) -> None:
        if multiline not in ("auto", "all", "none"):
            raise ParseError("multiline: auto, all or none", field="multiline", got=multiline)
        self.format = format
        self.service = service
        self.source = source
        self.timestamps = TimestampParser(tz=timezone, year=year)
        self.policy = policy or ErrorPolicy()
        self.multiline = multiline
        self.max_line = max_line
        self.keep_original = keep_original
        self.parser: LineParser | None = None
        self.lines_read = 0

    def sample_layout(self, head: list[str]) -> list[str] | None:
        """Choose the parser from a file's first lines (up to 50); returns them as parsed, or
        None for an empty or blank file (a log just rotated), which has no records rather
        than an unknown layout (that error failed a whole directory's replay)."""
        # sampled as parsed (the read loop finds no escape left in them)
        head = [ANSI_ESCAPE.sub("", line) if "\x1b" in line else line for line in head]
        if len(head) < 50 and not any(line.strip() for line in head) and \
                (self.format or "auto").strip().lower() == "auto":
            return None
        self.parser = make_line_parser(self.format, service=self.service, source=self.source,
                                       timestamps=self.timestamps, sample=head)
        return head

    def read(self, lines: Iterable[str], continued: bool = False) -> Iterator[LogRecord]:
        """Yield records; physical line numbers are 1-based and a record keeps its first line's.

        ``continued``: ``lines`` go on from a part already read (a grown file's rest, with
        the parser sampled from the file's top): leading continuation lines belong to a
        record read then, so they are passed over, not reported as lines in no layout."""
        it = iter(lines)
        head: list[str] = []
        if self.parser is None:
            for line in it:
                head.append(line)
                if len(head) >= 50:
                    break
            sampled = self.sample_layout(head)
            if sampled is None:
                self.lines_read += len(head)
                return
            head = sampled
        parse = self.parser.parse
        if type(self.parser) is JsonLineParser:
            parse = FastJsonLines(self.parser).parse
        pending: LogRecord | None = None
        lean = not self.keep_original
        lineno = self.lines_read
        joins = self.multiline != "none"
        join_all = self.multiline == "all"
        wrapped = self.parser if type(self.parser) is CriLineParser else None
        if wrapped is not None:
            wrapped.joins = joins
        # Docker's json-file writes each line of a stack trace as an object of its own
        json_frames = joins and type(self.parser) is JsonLineParser
        for line in chain(head, it):  # C, not a generator frame per line
            lineno += 1
            if "\x1b" in line:
                line = ANSI_ESCAPE.sub("", line)
            if len(line) > self.max_line:
                self.policy.report(ParseError(
                    f"a log line of at most {self.max_line} characters", source=self.source,
                    line=lineno, field="line", got=f"{len(line)} characters"))
                continue
            try:
                record = parse(line, lineno)
            except ParseError as err:
                self.policy.report(err.located(source=self.source, line=lineno))
                continue
            if record is not None:
                if json_frames and not record.level and pending is not None \
                        and _frame_of(record, pending):
                    pending.message += "\n" + record.message
                    pending.raw += "\n" + record.raw
                    continue
                if pending is not None:
                    if lean:
                        pending.raw, pending.attributes = "", NO_ATTRIBUTES  # type: ignore
                    yield pending
                pending = record
                continue
            stripped = body = line.rstrip("\r\n")
            if wrapped is not None:  # the app's text in a runtime's line (CRI)
                body = wrapped.unwrapped
                if body is None:
                    continue  # a part of a split line, held for the rest
            if not body.strip():
                continue
            if pending is not None and joins and (join_all or CONTINUATION.match(body)):
                pending.message += "\n" + body
                pending.raw += "\n" + stripped
                continue
            if continued and pending is None and joins and CONTINUATION.match(body):
                continue  # the rest of a record read before (see the docstring)
            self.policy.report(ParseError(
                f"a line in the log format {self.format or describe_parser(self.parser)!r}",
                source=self.source, line=lineno, got=stripped))
        self.lines_read = lineno
        if wrapped is not None and (held := wrapped.held()) is not None:
            if pending is not None:  # the input ended within a split line: it is a record
                if lean:
                    pending.raw, pending.attributes = "", NO_ATTRIBUTES  # type: ignore
                yield pending
            pending = held
        if pending is not None:
            if lean:
                pending.raw, pending.attributes = "", NO_ATTRIBUTES  # type: ignore
            yield pending


def _frame_of(record: LogRecord, pending: LogRecord) -> bool:
    """Is ``record`` (no level of its own) a line of ``pending``'s stack trace, written by
    Docker as an object of its own on the same stream (``{"log": "\\tat ...", "stream":
    ...}``)?"""
    stream = record.attributes.get("stream")
    return (stream is not None and stream == pending.attributes.get("stream")
            and CONTINUATION.match(record.message) is not None)


def describe_parser(parser: LineParser | None) -> str:
    """The format name a (possibly auto-detected) parser stands for."""
    if isinstance(parser, JsonLineParser):
        return "json"
    if isinstance(parser, CriLineParser):
        return "cri"
    if isinstance(parser, LogfmtLineParser):
        return "logfmt"
    if isinstance(parser, SyslogLineParser):
        return f"syslog rfc{parser.rfc}" if parser.rfc else "syslog"
    if isinstance(parser, RegexLineParser) and parser.pattern in LAYOUT_NAMES:
        return LAYOUT_NAMES[parser.pattern]
    if isinstance(parser, RegexLineParser):
        return parser.pattern.pattern
    return "auto"


# -- JSON objects, fast: field roles decided once per key shape -----------------------------------
#
# ``record_from_object`` looks up every alias list for every object (~10 µs each). A log
# file or a shipper's batch has a handful of shapes (tuples of keys), so the role of each
# key (message, timestamp, level, service, host, attribute) is decided once per shape and
# each record is then built with plain dict lookups. Only an accelerator: any object whose
# values are not the plain types the plan assumes (a non-string message, an ECS ``log`` or
# ``service`` object, a ``_raw``-only line, a bad timestamp) goes through
# ``record_from_object`` itself, and the first object of every shape is checked against
# it: a mismatch sends the whole shape the slow way. Used for JSON-lines files here and for
# JSON bodies by the HTTP service (``api.fastlogs``).

MAX_SHAPES = 64


def _resolve(aliases: tuple[str, ...], keys: frozenset[str]) -> tuple[str | None, set[str]]:
    """The alias ``Fields.first`` would pick, plus the heads of dotted aliases tried earlier
    that exist: objects where such a head holds an object must take the slow path."""
    guards: set[str] = set()
    for alias in aliases:
        if alias in keys:
            return alias, guards
        if "." in alias:
            head = alias.partition(".")[0]
            if head in keys:
                guards.add(head)
    return None, guards


@dataclass(frozen=True)
class ShapePlan:
    msg: str
    ts: str
    level: str | None
    service: str | None
    host: str | None
    attrs: tuple[str, ...]
    guards: tuple[str, ...]


def plan_shape(shape: tuple[str, ...], service_given: bool) -> ShapePlan | None:
    """Which key plays which role in objects with these keys (None: always the slow way)."""
    keys = frozenset(shape)
    msg, g1 = _resolve(MSG_KEYS, keys)
    ts, g2 = _resolve(TS_KEYS, keys)
    if msg is None or msg == "_raw" or ts is None:
        return None  # an error or syslog-ng's raw line: the slow path says what happens
    level, g3 = _resolve(LEVEL_KEYS, keys)
    if msg == "log" and level is None:
        return None  # Docker's json-file: the app's line inside is parsed (ingest.applines)
    used = {msg, ts}
    guards = g1 | g2 | g3
    if level is not None:
        used.add(level)
    service = None
    if not service_given:
        service, g4 = _resolve(SERVICE_KEYS, keys)
        guards |= g4
        if service is not None:
            used.add(service)
    host, g5 = _resolve(HOST_KEYS, keys)
    guards |= g5
    if host is not None:
        used.add(host)
    return ShapePlan(msg, ts, level, service, host, tuple(k for k in shape if k not in used),
                     tuple(sorted(guards)))


def fast_record(item: dict, plan: ShapePlan, source: str, service: str, parse_ts: Callable,
                seconds: dict[str, datetime], levels: dict[str, str], raw: str = "",
                line: int = 0) -> LogRecord | None:
    """The record ``record_from_object`` makes of ``item``, or None where the plan's
    assumptions do not hold (the caller then takes the slow way)."""
    for head in plan.guards:
        if type(item[head]) is dict:
            return None
    msg = item[plan.msg]
    if type(msg) is not str:
        return None
    value = item[plan.ts]
    ts = None
    # "YYYY-MM-DDTHH:MM:SS.fffZ": the whole second through TimestampParser (memoised per
    # stream), the fraction added (memoised globally: millisecond stamps have only 1000).
    # TimestampParser.parse has a table path for this layout too (minute memo, for sparse
    # streams); calling it instead made JSON lines ~13 % slower (hot_paths: 2.84-2.94 ->
    # 3.27-3.30 us per line), as a JSON stream repeats its seconds
    if type(value) is str and len(value) > 21 and value[19] == "." and value[-1] == "Z" \
            and value[4] == "-" and value[7] == "-" and value[13] == ":" and value[16] == ":":
        frac = value[20:-1]
        delta = fraction(frac)
        if delta is not None:
            key = value[:19]
            base = seconds.get(key)
            if base is None:
                try:
                    base = parse_ts(key + "Z")
                except ParseError:
                    return None
                if len(seconds) > 100_000:
                    seconds.clear()
                seconds[key] = base
            ts = base + delta
    if ts is None:
        try:
            ts = parse_ts(value)
        except ParseError:
            return None
    level = ""
    if plan.level is not None:
        value = item[plan.level]
        if type(value) is not str:
            return None
        level = levels.get(value)
        if level is None:
            level = levels[value] = normalize_level(value)
    if plan.service is not None:
        service = item[plan.service]
        if type(service) is not str:
            if type(service) is not int:
                return None
            service = str(service)
    host = ""
    if plan.host is not None:
        host = item[plan.host]
        if type(host) is not str:
            if type(host) is not int:
                return None
            host = str(host)
    # positional (twice as fast as keywords); the per-shape check against
    # record_from_object catches any drift in LogRecord's field order
    return LogRecord(ts, msg.rstrip("\n"), service, host, level,
                     {k: item[k] for k in plan.attrs}, raw, source, line)


class FastJsonLines:
    """``JsonLineParser.parse`` with field roles planned per shape (same records, same errors)."""

    def __init__(self, parser: JsonLineParser) -> None:
        self.parser = parser
        self.plans: dict[tuple[str, ...], ShapePlan | None] = {}
        self.checked: set[tuple[str, ...]] = set()
        self.levels: dict[str, str] = {}
        self.seconds: dict[str, datetime] = {}

    def _slow(self, obj: Any, line: str, lineno: int) -> LogRecord:
        p = self.parser
        return record_from_object(obj, location=f"line {lineno}", source=p.source,
                                  service=p.service, timestamps=p.timestamps,
                                  raw_fallback=p.raw_fallback, raw=line.rstrip("\r\n"))

    def parse(self, line: str, lineno: int = 0) -> LogRecord | None:
        # JSON allows the whitespace around the object: strip only to look at its start
        if line[:1] != "{" and not line.strip().startswith("{"):
            return None
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            return self.parser.parse(line, lineno)  # the parser words the error
        if type(obj) is not dict:
            return self._slow(obj, line, lineno)
        shape = tuple(obj)
        plan = self.plans.get(shape, False)
        if plan is False:
            p = self.parser
            plan = plan_shape(shape, bool(p.service)) if len(self.plans) < MAX_SHAPES else None
            self.plans[shape] = plan
        if plan is None:
            return self._slow(obj, line, lineno)
        p = self.parser
        r = fast_record(obj, plan, p.source, p.service, p.timestamps.parse, self.seconds,
                        self.levels, line.rstrip("\r\n"), lineno)
        if r is None:
            return self._slow(obj, line, lineno)
        if shape not in self.checked:
            self.checked.add(shape)
            reference = self._slow(obj, line, lineno)
            if reference != r:  # the plan disagrees with the reference: never use it
                self.plans[shape] = None
                return reference
        return r

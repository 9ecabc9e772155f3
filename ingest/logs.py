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
from typing import Iterable, Iterator, Protocol

from aiops.schema import LEVELS, LogRecord
from ingest.errors import ErrorPolicy, ParseError
from ingest.headerformat import RegexLineParser, header_format_parser, named_regex_parser
from ingest.jsonlogs import JsonLineParser
from ingest.syslog import SyslogLineParser
from ingest.timestamps import TimestampParser

DEFAULT_MAX_LINE = 256 * 1024
CONTINUATION = re.compile(
    r"^(?:\s|at\s|Caused by[: ]|\.\.\. \d+ (?:more|common frames)|Traceback \(most recent|"
    r"File \"|During handling of|The above exception|[A-Za-z_][\w.$]*(?:Exception|Error)\b)"
)
_TS_PREFIX = (
    r"(?P<Timestamp>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|\[[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)? \d{4}\]"
    r"|[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)?"
    r"|\d{6} \d{6}|\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}|\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:[.,]\d+)?"
    r"|\d{8}-\d{1,2}:\d{1,2}:\d{1,2}(?::\d+)?|\d{10}(?:\.\d+)?|\d{13})"
)
_LEVEL_WORDS = "|".join(sorted(set(LEVELS) | {"WARNING", "ERR", "CRIT", "EMERG", "SEVERE"},
                               key=len, reverse=True))
GENERIC_TIMESTAMPED = re.compile(
    r"^" + _TS_PREFIX + r"(?:\s*[-|:]?\s*\[?(?P<Level>(?i:" + _LEVEL_WORDS + r"))\]?:?)?"
    r"\s*[-|:]?\s*(?P<Content>.*)$"
)


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
        return JsonLineParser(raw_fallback=_auto_fallback(kw), **kw)
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
    raise ParseError("a log format: auto, json, syslog, rfc3164, rfc5424, a header format like "
                     "'<Date> <Time> <Level> <Content>', or a regex with named groups",
                     field="log_format", got=fmt)


def _candidates(kw: dict) -> list[LineParser]:
    return [
        JsonLineParser(**kw),
        SyslogLineParser(rfc="5424", **kw),
        SyslogLineParser(rfc="3164", **kw),
        RegexLineParser(GENERIC_TIMESTAMPED, **kw),
    ]


def _auto_fallback(kw: dict):
    """Parse syslog-ng's ``_raw`` text with whichever non-JSON layout fits."""
    parsers = _candidates(kw)[1:]

    def parse(text: str, lineno: int) -> LogRecord | None:
        for parser in parsers:
            try:
                record = parser.parse(text, lineno)
            except ParseError:
                continue
            if record is not None:
                return record
        return None

    return parse


def detect_line_parser(sample: list[str], **kw) -> LineParser:
    lines = [line for line in sample if line.strip()][:50]
    best, best_hits = None, 0
    for parser in _candidates(kw):
        hits = 0
        for i, line in enumerate(lines):
            try:
                if parser.parse(line, i + 1) is not None:
                    hits += 1
            except ParseError:
                pass
        if hits > best_hits:
            best, best_hits = parser, hits
    if best is None:
        first = lines[0] if lines else ""
        raise ParseError("a recognisable log layout (JSON lines, syslog, or a leading timestamp); "
                         "pass a format such as '<Date> <Time> <Level> <Content>'",
                         source=kw.get("source", ""), line=1, field="log_format", got=first)
    if isinstance(best, JsonLineParser):
        best.raw_fallback = _auto_fallback(kw)
    return best


class LogReader:
    """Reads one stream of log lines into records, strict or lenient (see ErrorPolicy)."""

    def __init__(self, format: str | None = None, *, service: str = "", source: str = "",
                 timezone: str | None = None, year: int | None = None,
                 policy: ErrorPolicy | None = None, multiline: str = "auto",
                 max_line: int = DEFAULT_MAX_LINE) -> None:
        if multiline not in ("auto", "all", "none"):
            raise ParseError("multiline: auto, all or none", field="multiline", got=multiline)
        self.format = format
        self.service = service
        self.source = source
        self.timestamps = TimestampParser(tz=timezone, year=year)
        self.policy = policy or ErrorPolicy()
        self.multiline = multiline
        self.max_line = max_line
        self.parser: LineParser | None = None
        self.lines_read = 0

    def read(self, lines: Iterable[str]) -> Iterator[LogRecord]:
        """Yield records; physical line numbers are 1-based and a record keeps its first line's."""
        it = iter(lines)
        head: list[str] = []
        if self.parser is None:
            for line in it:
                head.append(line)
                if len(head) >= 50:
                    break
            self.parser = make_line_parser(self.format, service=self.service, source=self.source,
                                           timestamps=self.timestamps, sample=head)
        parse = self.parser.parse
        pending: LogRecord | None = None
        lineno = self.lines_read
        joins = self.multiline != "none"
        join_all = self.multiline == "all"
        for line in _chain(head, it):
            lineno += 1
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
                if pending is not None:
                    yield pending
                pending = record
                continue
            stripped = line.rstrip("\r\n")
            if not stripped.strip():
                continue
            if pending is not None and joins and (join_all or CONTINUATION.match(stripped)):
                pending.message += "\n" + stripped
                pending.raw += "\n" + stripped
                continue
            self.policy.report(ParseError(
                f"a line in the log format {self.format or describe_parser(self.parser)!r}",
                source=self.source, line=lineno, got=stripped))
        self.lines_read = lineno
        if pending is not None:
            yield pending


def describe_parser(parser: LineParser | None) -> str:
    """The format name a (possibly auto-detected) parser stands for."""
    if isinstance(parser, JsonLineParser):
        return "json"
    if isinstance(parser, SyslogLineParser):
        return f"syslog rfc{parser.rfc}" if parser.rfc else "syslog"
    if isinstance(parser, RegexLineParser) and parser.pattern is GENERIC_TIMESTAMPED:
        return "auto:timestamped"
    if isinstance(parser, RegexLineParser):
        return parser.pattern.pattern
    return "auto"


def _chain(head: list[str], rest: Iterator[str]) -> Iterator[str]:
    yield from head
    yield from rest

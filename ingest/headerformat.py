"""Log layouts described the way users (and loghub) write them: ``<Date> <Time> <Level> <Content>``.

A format is ``<Field>`` placeholders and literal text. When the format contains a
backslash, the literal text is a regex fragment exactly as in loghub
(``\\[<Time>\\]``, ``(\\[<PID>\\])?``); otherwise it is matched literally, so
``[<Time>] <Level>|<Content>`` needs no escaping. Runs of spaces match any
whitespace. ``<Content>`` is the message; every other field is kept in
``attributes``; time fields (Date, Day, Month, Time, Year, Timestamp) are joined
in order and parsed as the record's timestamp.

Named-group regexes are the other way to say the same thing: a pattern with
``(?P<Content>...)`` (or ``message``/``msg``) and optional time/level/service/host
groups.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from aiops.schema import LEVELS, LogRecord, normalize_level
from ingest.errors import ParseError
from ingest.timestamps import TimestampParser

_PLACEHOLDER = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")
TIME_FIELDS = ("date", "day", "month", "time", "year", "timestamp", "datetime", "ts")
MESSAGE_FIELDS = ("content", "message", "msg")
LEVEL_FIELDS = ("level", "severity", "loglevel", "lvl")
SERVICE_FIELDS = ("service", "app", "application")
HOST_FIELDS = ("host", "hostname")
_KNOWN_LEVELS = frozenset(LEVELS)


def header_format_regex(fmt: str) -> re.Pattern[str]:
    """Compile a ``<Field>`` format to an anchored regex with one named group per field."""
    if not _PLACEHOLDER.search(fmt):
        raise ParseError("a log format with <Field> placeholders, e.g. "
                         "'<Date> <Time> <Level> <Content>'", field="log_format", got=fmt)
    regex_literals = "\\" in fmt
    parts = _PLACEHOLDER.split(fmt)
    out: list[str] = []
    seen: set[str] = set()
    for i, part in enumerate(parts):
        if i % 2 == 0:
            literal = part if regex_literals else re.escape(part)
            out.append(re.sub(r"(?:\\ | )+", r"\\s+", literal))
        else:
            if part in seen:
                raise ParseError("each <Field> at most once", field="log_format", got=part)
            seen.add(part)
            out.append(f"(?P<{part}>.*?)")
    try:
        return re.compile("^" + "".join(out) + "$")
    except re.error as exc:
        raise ParseError(f"a valid log format ({exc})", field="log_format", got=fmt) from exc


class RegexLineParser:
    """Turns one line into a LogRecord with a compiled named-group regex; None if it doesn't match."""

    def __init__(self, pattern: re.Pattern[str], *, service: str = "", source: str = "",
                 timestamps: TimestampParser | None = None, strip: bool = True) -> None:
        self.pattern = pattern
        self.service = service
        self.source = source
        self.timestamps = timestamps or TimestampParser()
        self.strip = strip
        names = list(pattern.groupindex)
        lower = {n: n.lower() for n in names}
        self.message_field = next((n for n in names if lower[n] in MESSAGE_FIELDS), None)
        if self.message_field is None:
            raise ParseError("a <Content> (or message/msg) field in the log format",
                             field="log_format", got=pattern.pattern)
        self.time_fields = [n for n in names if lower[n] in TIME_FIELDS]
        self.level_field = next((n for n in names if lower[n] in LEVEL_FIELDS), None)
        self.service_field = next((n for n in names if lower[n] in SERVICE_FIELDS), None)
        self.host_field = next((n for n in names if lower[n] in HOST_FIELDS), None)
        self.attribute_fields = [n for n in names if n != self.message_field]
        self._levels: dict[str | None, str] = {}

    def parse(self, line: str, lineno: int = 0) -> LogRecord | None:
        text = line.strip() if self.strip else line.rstrip("\r\n")
        m = self.pattern.match(text)
        if m is None:
            return None
        groups = m.groupdict()
        times = self.time_fields
        if len(times) == 2 and groups[times[0]] and groups[times[1]]:
            try:  # <Date> <Time>, the usual
                ts = self.timestamps.parse(groups[times[0]] + " " + groups[times[1]])
            except ParseError:
                ts = self._timestamp(groups, lineno)  # the located error
        else:
            ts = self._timestamp(groups, lineno)
        attributes: dict[str, Any] = {k: v for k in self.attribute_fields
                                      if (v := groups[k]) is not None}
        level = ""
        if self.level_field:
            value = groups[self.level_field]
            level = self._levels.get(value)
            if level is None:
                level = normalize_level(value)
                if level not in _KNOWN_LEVELS:
                    level = ""
                if len(self._levels) < 1024:
                    self._levels[value] = level
        # positional: twice as fast as keywords (tests/ingest/test_logs.py checks every field)
        return LogRecord(
            ts, groups[self.message_field] or "",
            (groups[self.service_field] if self.service_field else None) or self.service,
            (groups[self.host_field] if self.host_field else None) or "",
            level, attributes, line.rstrip("\r\n"), self.source, lineno)

    def _timestamp(self, groups: dict[str, str | None], lineno: int) -> datetime:
        if not self.time_fields:
            raise ParseError("a time field (<Date>, <Time>, <Timestamp>...) in the log format",
                             source=self.source, line=lineno, field="log_format")
        text = " ".join(groups[f] for f in self.time_fields if groups[f])
        try:
            return self.timestamps.parse(text)
        except ParseError as err:
            err.field = "+".join(self.time_fields)
            raise err.located(source=self.source, line=lineno) from None


def header_format_parser(fmt: str, **kwargs: Any) -> RegexLineParser:
    return RegexLineParser(header_format_regex(fmt), **kwargs)


def named_regex_parser(regex: str, **kwargs: Any) -> RegexLineParser:
    """A user regex with named groups (``(?P<Content>...)``), anchored at the start."""
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        raise ParseError(f"a valid regular expression ({exc})", field="log_format",
                         got=regex) from exc
    if not pattern.groupindex:
        raise ParseError("a regex with named groups such as (?P<Content>.*)",
                         field="log_format", got=regex)
    return RegexLineParser(pattern, strip=False, **kwargs)

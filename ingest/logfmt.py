"""logfmt lines: ``ts=... level=warn msg="Scrape failed" err="context deadline exceeded"``.

What Prometheus, Alertmanager, Loki, Grafana and Go's logrus and go-kit write, so the
first logs an SRE points aiops at are often these. A line is its key=value pairs (a value
quoted with backslash escapes, or bare up to the next space); the pairs are then read under
the same names as a JSON log object (``ts``/``time``, ``msg``, ``level``, ``service``...),
the rest kept as attributes. A line without a message key (Heroku's router: ``at=info
method=GET path=/ status=200``) has its pairs, less time and level, as the message.
"""

from __future__ import annotations

import re
from typing import Any

from aiops.schema import LogRecord
from ingest.jsonlogs import LEVEL_KEYS, MSG_KEYS, TS_KEYS, record_from_object
from ingest.timestamps import TimestampParser

_KEY = r"[A-Za-z_@][\w.@/-]*"
_VALUE = r'"(?:[^"\\]|\\.)*"|[^\s"=]*'  # quoted with backslash escapes, or bare
PAIR = re.compile(rf"({_KEY})=({_VALUE})(?=\s|$)")
_LINE = re.compile(rf"\s*(?:{_KEY}=(?:{_VALUE})(?:\s+|$))+")
_ESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_TS_KEYS, _MSG_KEYS = frozenset(TS_KEYS), frozenset(MSG_KEYS)
_NOT_MESSAGE = _TS_KEYS | frozenset(LEVEL_KEYS)


def _unquote(value: str) -> str:
    if value[:1] != '"':
        return value
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), value[1:-1])


def logfmt_pairs(text: str) -> list[tuple[str, str, str]] | None:
    """(key, value, the pair as written) of every pair, or None unless the whole line is
    pairs (two at least: a sentence with one ``=`` in it is not logfmt)."""
    text = text.strip()
    if "=" not in text or _LINE.fullmatch(text) is None:
        return None
    pairs = [(m.group(1), _unquote(m.group(2)), m.group(0)) for m in PAIR.finditer(text)]
    return pairs if len(pairs) >= 2 else None


def logfmt_object(pairs: list[tuple[str, str, str]]) -> dict[str, Any]:
    """The pairs as an object to map; the message made of them when no key holds one."""
    obj: dict[str, Any] = {key: value for key, value, _ in pairs}
    if _MSG_KEYS.isdisjoint(obj):
        obj["msg"] = " ".join(text for key, _, text in pairs if key not in _NOT_MESSAGE)
    return obj


class LogfmtLineParser:
    """One logfmt line to a record; None for a line that is not logfmt with a time in it."""

    def __init__(self, *, service: str = "", source: str = "",
                 timestamps: TimestampParser | None = None) -> None:
        self.service = service
        self.source = source
        self.timestamps = timestamps or TimestampParser()

    def parse(self, line: str, lineno: int = 0) -> LogRecord | None:
        pairs = logfmt_pairs(line)
        if pairs is None or _TS_KEYS.isdisjoint(key for key, _, _ in pairs):
            return None
        return record_from_object(logfmt_object(pairs), location=f"line {lineno}",
                                  source=self.source, service=self.service,
                                  timestamps=self.timestamps, raw=line.rstrip("\r\n"))

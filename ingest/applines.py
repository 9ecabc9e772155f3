"""The line an app printed, found inside a wrapper that carries its own time.

A container runtime (CRI) or Docker's json-file driver (and Fluent Bit or Vector reading
it, as ``{"log": ...}``) wraps every line the app wrote to stdout/stderr with the time it
got it. The line is still the app's record: JSON, logfmt, or one of the text layouts
``auto`` knows, with the level an operator filters on. Read as a bare message, a container's ERROR
lines would count as no level at all and never make an error burst.
"""

from __future__ import annotations

from ingest.errors import ParseError
from ingest.jsondocs import object_line
from ingest.jsonlogs import TS_KEYS, record_from_object
from ingest.layouts import first_fit, text_layouts
from ingest.logfmt import logfmt_object, logfmt_pairs
from ingest.timestamps import TimestampParser

_TS_KEYS = frozenset(TS_KEYS)


class AppLines:
    """``parse(text)``: (message, service, host, level, fields) of the app's record in
    ``text``, or None when it is plain text. The wrapper's time is the record's, so the
    app's own stamp is not read (a year-less one would otherwise ask the clock)."""

    def __init__(self, source: str = "") -> None:
        self.source = source
        self.timestamps = TimestampParser(year=2000)
        self.layouts = text_layouts({"service": "", "source": source,
                                     "timestamps": self.timestamps})
        self.last_layout = 0  # a stream keeps its layout: tried first

    def parse(self, text: str, lineno: int = 0) -> tuple[str, str, str, str, dict] | None:
        obj = None
        if text[:1] == "{":
            obj = object_line(text)
        elif "=" in text and (pairs := logfmt_pairs(text)) is not None:
            obj = logfmt_object(pairs)
        if obj is not None:
            obj = {"ts": 0, **{k: v for k, v in obj.items() if k not in _TS_KEYS}}
            try:
                r = record_from_object(obj, location=f"line {lineno}", source=self.source,
                                       service="", timestamps=self.timestamps)
            except ParseError:
                return None  # not a log object after all: the text is the message
            return r.message, r.service, r.host, r.level, r.attributes
        found = first_fit(self.layouts, text, lineno, self.last_layout)
        if found is None:
            return None
        self.last_layout, r = found
        return r.message, r.service, r.host, r.level, r.attributes

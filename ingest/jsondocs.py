"""JSON bodies and files, located: one document, an array, or NDJSON, with strict field types.

Every ingester of a JSON format shares this so a bad item is reported the same
way everywhere: by line (NDJSON) or by item index (arrays), with the field path.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Iterable, Iterator, TextIO

import orjson

from ingest.errors import ErrorPolicy, ParseError
from ingest.timestamps import TimestampParser


def decode_utf8(data: bytes | str, source: str = "") -> str:
    """Bytes to text, or a ParseError naming the byte offset of the first invalid sequence."""
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ParseError(f"UTF-8 text (invalid byte at offset {exc.start})", source=source,
                         line=line, field="body", got=data[exc.start:exc.start + 4].hex()) from exc


def iter_json_items(data: bytes | str | TextIO, *, source: str = "",
                    policy: ErrorPolicy | None = None,
                    lines_before: int = 0) -> Iterator[tuple[str, Any]]:
    """Yield ``(location, item)`` for a JSON array, a single JSON object, or NDJSON lines.

    Location is ``"[i]"`` for array items (0-based) and ``"line N"`` for NDJSON
    lines; a bad NDJSON line is reported through ``policy`` and the rest kept. An open
    text file whose first line is a whole object is read as NDJSON line by line, so a
    file of any size costs one line of memory; anything else is read whole.
    ``lines_before``: an open file's lines before the first it gives (a grown file's rest).
    """
    policy = policy or ErrorPolicy()
    if not isinstance(data, (bytes, bytearray, str)):
        yield from _iter_json_file(data, source, policy, lines_before)
        return
    text = decode_utf8(data, source)
    stripped = text.lstrip()
    if not stripped:
        return
    if stripped[0] in "[{":
        try:
            doc = orjson.loads(stripped)
        except orjson.JSONDecodeError as exc:
            if stripped[0] == "[" or "\n" not in stripped.rstrip():
                raise _json_error(exc, stripped, source) from exc
        else:
            if isinstance(doc, list):
                for i, item in enumerate(doc):
                    yield f"[{i}]", item
            else:
                yield "line 1", doc
            return
    yield from _ndjson(enumerate(text.splitlines(), 1), source, policy)


def _ndjson(numbered: Iterable[tuple[int, str]], source: str, policy: ErrorPolicy
            ) -> Iterator[tuple[str, Any]]:
    for lineno, line in numbered:
        if not line.strip():
            continue
        try:
            yield f"line {lineno}", orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            policy.report(ParseError(f"a JSON value ({exc.msg})", source=source, line=lineno,
                                     got=line.rstrip("\r\n")))


def object_line(line: str) -> dict | None:
    """The JSON object ``line`` holds whole, or None: a file whose first line is one is read
    as JSON lines (NDJSON), anything else as one document."""
    if line.lstrip()[:1] != "{":
        return None
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return doc if type(doc) is dict else None


def _iter_json_file(fh: TextIO, source: str, policy: ErrorPolicy,
                    lines_before: int = 0) -> Iterator[tuple[str, Any]]:
    skipped = []
    for first in fh:
        if first.strip():
            break
        skipped.append(first)
    else:
        return
    doc = object_line(first)
    if doc is None:                       # a document over several lines, or an array
        yield from iter_json_items("".join(skipped) + first + fh.read(), source=source,
                                   policy=policy)
        return
    first_lineno = lines_before + len(skipped) + 1
    yield f"line {first_lineno}", doc
    yield from _ndjson(enumerate(fh, first_lineno + 1), source, policy)


def _json_error(exc: orjson.JSONDecodeError, text: str, source: str) -> ParseError:
    line = text.count("\n", 0, exc.pos) + 1
    return ParseError(f"valid JSON ({exc.msg} at char {exc.pos})", source=source, line=line,
                      got=text[max(0, exc.pos - 20):exc.pos + 20])


def location_line(location: str) -> int | None:
    return int(location[5:]) if location.startswith("line ") else None


class Fields:
    """Typed access to one JSON object, raising ParseErrors that name ``location.field``."""

    def __init__(self, obj: Any, location: str, source: str = "") -> None:
        self.source = source
        self.location = location
        self.line = location_line(location)
        if not isinstance(obj, dict):
            raise self.error(None, "a JSON object", obj)
        self.obj: dict[str, Any] = obj
        self.used: set[str] = set()

    def path(self, key: str | None) -> str:
        prefix = "" if self.line is not None else self.location
        if key is None:
            return prefix or "item"
        return f"{prefix}.{key}" if prefix else key

    def error(self, key: str | None, expected: str, got: Any) -> ParseError:
        return ParseError(expected, source=self.source, line=self.line, field=self.path(key),
                          got=got)

    def first(self, *keys: str) -> tuple[str | None, Any]:
        """The first present key among aliases, with dotted and nested lookups."""
        for key in keys:
            if key in self.obj:
                self.used.add(key)
                return key, self.obj[key]
            if "." in key:
                head, _, tail = key.partition(".")
                inner = self.obj.get(head)
                if isinstance(inner, dict) and tail in inner:
                    return key, inner[tail]
        return None, None

    def string(self, *keys: str, required: bool = False, expected: str = "a string") -> str:
        key, value = self.first(*keys)
        if value is None:
            if required:
                raise self.error(keys[0], f"{expected} (one of: {', '.join(keys)})", None)
            return ""
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            if isinstance(value, dict) and "name" in value and isinstance(value["name"], str):
                return value["name"]  # ECS style {"service": {"name": ...}}
            raise self.error(key, expected, value)
        return str(value)

    def number(self, *keys: str, required: bool = True) -> float | None:
        key, value = self.first(*keys)
        if value is None:
            if required:
                raise self.error(keys[0], "a number", None)
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, "a number (not a string or boolean)", value)
        number = float(value)
        if not math.isfinite(number):
            raise self.error(key, "a finite number", value)
        return number

    def timestamp(self, parser: TimestampParser, *keys: str, required: bool = True
                  ) -> datetime | None:
        key, value = self.first(*keys)
        if value is None:
            if required:
                raise self.error(keys[0], f"a timestamp (one of: {', '.join(keys)})", None)
            return None
        try:
            return parser.parse(value)
        except ParseError as err:
            raise self.error(key, err.expected, value) from err

    def string_map(self, *keys: str) -> dict[str, str]:
        key, value = self.first(*keys)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error(key, "an object of string values", value)
        out: dict[str, str] = {}
        for k, v in value.items():
            if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                raise self.error(f"{key}.{k}", "a string value", v)
            out[str(k)] = str(v)
        return out

    def rest(self) -> dict[str, Any]:
        """Fields not consumed: they go to ``attributes`` (never dropped)."""
        return {k: v for k, v in self.obj.items() if k not in self.used}

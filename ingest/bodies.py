"""HTTP request bodies to safe bytes and text: size limits, gzip/deflate, media types, UTF-8.

Everything here is about refusing hostile or mistaken bodies early and saying
exactly why: a body over the wire limit (413), a compressed body that inflates
past the decompressed limit (413, the gzip-bomb guard, checked while inflating so
a bomb never occupies more than the limit in memory), an unknown content type or
encoding (415), bytes that are not UTF-8 (400, naming the offset and line).
The HTTP layer maps ``BodyError.status`` onto the response.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MAX_BODY = 8 * 1024 * 1024            # on the wire, compressed or not
DEFAULT_MAX_DECOMPRESSED = 32 * 1024 * 1024   # after inflating gzip/deflate
_CHUNK = 256 * 1024
GZIP_MAGIC = b"\x1f\x8b"


class BodyError(ValueError):
    """A body refused as a whole, with the HTTP status that says why."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None,
                 expected: str | None = None, got: Any = None, line: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.expected = expected
        self.got = got
        self.line = line

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "code": self.code, "message": self.message,
                "field": self.field, "line": self.line, "expected": self.expected,
                "got": self.got}


@dataclass(frozen=True)
class MediaType:
    """A parsed ``Content-Type``: ``type/subtype`` lower-cased, the charset if given (lower-
    cased), and every parameter by its lower-cased name (remote write's ``proto``)."""

    essence: str
    charset: str | None = None
    params: dict[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def parse(cls, header: str | None) -> "MediaType":
        if not header:
            return cls("")
        parts = header.split(";")
        params = {}
        for param in parts[1:]:
            key, _, value = param.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        charset = params.get("charset")
        return cls(parts[0].strip().lower(), charset.lower() if charset is not None else None,
                   params)


def check_media_type(media: MediaType, accepted: dict[str, str], endpoint: str) -> str:
    """The format name ``accepted`` maps this media type to, or a 415 listing what is accepted.

    An empty ``Content-Type`` maps to ``""`` when ``accepted`` has that key (sniff the body).
    """
    if media.charset not in (None, "utf-8", "utf8", "us-ascii", "ascii"):
        raise BodyError(415, "unsupported_charset",
                        f"{endpoint}: only UTF-8 bodies are accepted",
                        field="Content-Type", expected="charset=utf-8", got=media.charset)
    fmt = accepted.get(media.essence)
    if fmt is None:
        kinds = ", ".join(sorted(k for k in accepted if k))
        raise BodyError(415, "unsupported_media_type",
                        f"{endpoint}: Content-Type {media.essence or '(none)'!r} is not accepted; "
                        f"send one of: {kinds}",
                        field="Content-Type", expected=kinds, got=media.essence or None)
    return fmt


def check_declared_length(header: str | None, limit: int) -> None:
    """Refuse early, before reading, when ``Content-Length`` already says too much."""
    if header is None:
        return
    try:
        length = int(header)
    except ValueError:
        raise BodyError(400, "bad_content_length", "Content-Length is not an integer",
                        field="Content-Length", expected="an integer", got=header) from None
    if length > limit:
        raise too_large(length, limit)


def too_large(size: int | str, limit: int) -> BodyError:
    return BodyError(413, "body_too_large",
                     f"request body of {size} bytes is over the limit of {limit} bytes; "
                     f"send smaller batches (the limit is [api] max_body_bytes)",
                     field="body", expected=f"at most {limit} bytes", got=f"{size} bytes")


def decompress(data: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding`` (gzip, deflate, identity), never producing more than ``limit``.

    A body starting with the gzip magic is inflated even without the header:
    such bytes are never valid UTF-8 text or an OTLP protobuf message.
    """
    enc = (encoding or "").strip().lower()
    if enc in ("", "identity"):
        if not data.startswith(GZIP_MAGIC):
            return data
        enc = "gzip"
    if enc in ("gzip", "x-gzip"):
        wbits = 31
    elif enc == "deflate":
        wbits = 47  # zlib or gzip header, auto-detected; raw deflate retried below
    else:
        raise BodyError(415, "unsupported_encoding",
                        f"Content-Encoding {encoding!r} is not supported; use gzip, deflate or "
                        f"none", field="Content-Encoding", expected="gzip, deflate or identity",
                        got=encoding)
    try:
        return _inflate(data, wbits, limit)
    except zlib.error as exc:
        if enc == "deflate":
            try:
                return _inflate(data, -15, limit)
            except zlib.error:
                pass
        raise BodyError(400, "bad_compression", f"body is not valid {enc} data: {exc}",
                        field="Content-Encoding", expected=f"a complete {enc} stream",
                        got=data[:8].hex()) from exc


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    d = zlib.decompressobj(wbits)
    out = bytearray()
    buf = data
    while True:
        # max_length bounds every step, so a bomb never grows past limit + one chunk
        chunk = d.decompress(buf, _CHUNK)
        out += chunk
        if len(out) > limit:
            raise BodyError(413, "decompressed_too_large",
                            f"compressed body inflates past the limit of {limit} bytes "
                            f"(possible compression bomb); send smaller batches",
                            field="body", expected=f"at most {limit} bytes after decompression",
                            got=f"more than {limit} bytes")
        buf = d.unconsumed_tail
        if d.eof:
            if d.unused_data and d.unused_data.startswith(GZIP_MAGIC):
                # concatenated gzip members (what some shippers send): keep going
                rest = _inflate(d.unused_data, wbits, limit - len(out))
                out += rest
            return bytes(out)
        if not buf and not chunk:
            raise zlib.error("truncated stream")


def decode_text(data: bytes, *, field: str = "body") -> str:
    """Strict UTF-8 (a leading BOM is dropped); the error names byte offset, line and bytes."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise utf8_error(data, exc, field) from None
    return text[1:] if text.startswith("\ufeff") else text


def utf8_error(data: bytes, exc: UnicodeDecodeError, field: str = "body",
               line_offset: int = 0) -> BodyError:
    line = data.count(b"\n", 0, exc.start) + 1 + line_offset
    return BodyError(400, "invalid_utf8",
                     f"body is not valid UTF-8: invalid byte(s) at offset {exc.start} "
                     f"(line {line})", field=field, line=line, expected="UTF-8 text",
                     got=data[exc.start:exc.start + 4].hex())


def split_lines(data: bytes) -> tuple[list[str], list[tuple[int, BodyError]]]:
    """Line-oriented bodies decoded line by line, so one bad line does not sink the batch.

    Returns the lines (a bad line becomes ``""`` to keep numbering) and the
    ``(line number, error)`` of each line that was not UTF-8.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if text.startswith("\ufeff"):
            text = text[1:]
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return lines, []
    lines: list[str] = []
    bad: list[tuple[int, BodyError]] = []
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    for i, raw in enumerate(raw_lines, 1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            err = utf8_error(raw, exc, "line", line_offset=i - 1)
            err.message = f"line {i} is not valid UTF-8 (invalid byte at column {exc.start})"
            bad.append((i, err))
            lines.append("")
    return lines, bad

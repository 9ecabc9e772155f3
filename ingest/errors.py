"""Parse errors that say where and what, and the strict/lenient policy readers share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def _snippet(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ParseError(ValueError):
    """Bad input, located: which source, which line (or batch index), which field, what was expected.

    The one exception ingesters raise for bad input; anything else escaping an
    ingester is a bug.
    """

    def __init__(
        self,
        expected: str,
        *,
        source: str = "",
        line: int | None = None,
        field: str | None = None,
        got: Any = None,
    ) -> None:
        self.source = source
        self.line = line
        self.field = field
        self.expected = expected
        self.got = None if got is None else _snippet(got)
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.source or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        what = f"field '{self.field}': " if self.field else ""
        got = f", got {self.got!r}" if self.got is not None else ""
        return f"{where}: {what}expected {self.expected}{got}"

    def located(self, *, source: str | None = None, line: int | None = None) -> "ParseError":
        """Fill in the location if the raiser did not know it."""
        if source and not self.source:
            self.source = source
        if line is not None and self.line is None:
            self.line = line
        self.args = (self._render(),)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source or None,
            "line": self.line,
            "field": self.field,
            "expected": self.expected,
            "got": self.got,
            "message": str(self),
        }


@dataclass
class ErrorPolicy:
    """Strict readers raise on the first bad record; lenient ones skip, count and keep the first few."""

    strict: bool = True
    keep: int = 20
    count: int = 0
    first: list[ParseError] = field(default_factory=list)

    def report(self, error: ParseError) -> None:
        if self.strict:
            raise error
        self.count += 1
        if len(self.first) < self.keep:
            self.first.append(error)

    def summary(self) -> dict[str, Any]:
        return {"rejected": self.count, "first_errors": [e.to_dict() for e in self.first]}


def lenient(keep: int = 20) -> ErrorPolicy:
    return ErrorPolicy(strict=False, keep=keep)


def binary_content(text: str) -> str | None:
    """Why a file's first characters (bad bytes already U+FFFD) are not text, or None.

    A log, JSON or CSV file has no NUL characters and almost no other control characters;
    an image, archive or executable has many, and echoing them back as the
    "line" that failed to parse filled the terminal with garbage. UTF-16 text (Windows
    event exports) is all NULs to a UTF-8 reader: said so, with the fix.
    """
    sample = text[:4096]
    if not sample:
        return None
    if "\x00" in sample:
        return "binary data with NUL bytes (UTF-16? iconv -f UTF-16 -t UTF-8 first)"
    # control characters, not U+FFFD: text in a legacy encoding (Latin-1, CP1251) is all
    # U+FFFD to a UTF-8 reader and still a log worth reading; random bytes are ~10 % controls
    odd = sum(1 for ch in sample if ch < " " and ch not in "\t\n\r\x0c\x1b")
    if odd * 20 > len(sample):
        return f"binary data ({odd} control characters in the first {len(sample)})"
    return None

"""Masking: turn the variable parts of a log message into ``<*>`` before clustering.

Drain only sees tokens, so everything that is obviously a value (addresses, ids,
numbers, paths, times) is replaced first; the clusterer then only has to decide
about words. All default masks are alternatives of ONE compiled regex applied in
one ``sub`` (drain3 applies one regex per instruction, which is over half of its
per-line cost).

After masking, :func:`Masker.normalize` makes parameter layout irrelevant:

* masks joined by punctuation inside a token (``<*>:<*>``, ``<*>##<*>##<*>``) or listed
  with commas (``<*>, <*>, <*>``) become one;
* brackets around a lone mask go (``(<*>)``, ``[<*>]`` -> ``<*>``), so an optional
  ``(1.2 KB)`` or ``[10.0.0.1]`` is laid out like any other parameter;
* a run of parameter tokens (``<*> <*> <*>``) becomes one: variable-length lists
  are one parameter.

Invariant the fast path relies on (see :func:`digit_key`): no mask bounds the
length of a run of digits, and every run of digits not preceded by a letter or
digit is always masked. So two lines that differ only in such digit runs mask to
the same text, and the line with those runs collapsed is a safe cache key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

PARAM = "<*>"

_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
          r"|Sep(?:t|tember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_WDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)(?:day|sday|nesday|rsday|urday)?,?"
_HEX = r"[0-9a-fA-F]"
_GTLD = (r"(?:com|net|org|edu|gov|mil|int|info|biz|io|cloud|local|localdomain|lan|internal"
         r"|arpa|corp|home)")
#: country codes that are rarely also the last word of a dotted config key or class name
_CCTLD = (r"(?:ar|au|br|ca|ch|cn|cz|de|dk|es|eu|fi|fr|gr|hk|hu|ie|il|jp|kr|mx|nl|nz|om|pl|pt"
          r"|ro|ru|se|sg|tr|tw|ua|uk|vn|za)")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
_NOT_BEFORE = r"(?<![A-Za-z0-9])"    # a value starts at a token/punctuation boundary
_VALUE_END = r"[^\s,;\"'()\[\]{}<>]"  # characters a key=value value may contain

#: Where a default mask can start: not inside an alphanumeric run, and the token holds a
#: digit or one of ``/"'=.:@\([{`` or starts with a day/month name. Checked once per
#: position before the alternatives, it makes plain words (most of a line) cheap to skip.
DEFAULT_GATE = (r"(?<![A-Za-z0-9])(?=[^\s\d/\"'=.:@\\(\[{]*+[\d/\"'=.:@\\(\[{]"
                r"|(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec))")

#: (name, regex) in priority order: at one position the first alternative that matches wins.
DEFAULT_MASKS: tuple[tuple[str, str], ...] = (
    ("url", r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s\"'<>\])},;]*"),
    ("timestamp", rf"\b{_WDAY} +{_MONTH} +\d+(?: +\d+:\d+(?::\d+(?:[.,]\d+)?)?)?(?: +\d+\b)?"),
    ("timestamp", rf"\b{_MONTH} +\d+(?:,? +\d+)?(?: +\d+:\d+(?::\d+(?:[.,]\d+)?)?)\b"),
    ("timestamp", r"\d+-\d+-\d+[T ]\d+:\d+(?::\d+(?:[.,]\d+)?)?(?:Z\b|[+-]\d+(?::\d+)?)?"),
    ("host", rf"(?<![\w.\-])(?=[\w\-]*+\.)(?:{_LABEL}\.)+[A-Za-z][A-Za-z0-9\-]*:\d+\b"),
    ("host", rf"(?<![\w.\-@/])(?=[\w\-]*+\.)(?:{_LABEL}\.)+(?:{_GTLD}(?:\.{_CCTLD})?|{_CCTLD})(?![\w\-]|\.\w)"),
    ("host", rf"(?<![\w.\-@/])\d[A-Za-z0-9\-]*(?:\.{_LABEL})*\.[A-Za-z][A-Za-z0-9\-]*[A-Za-z]"
             rf"(?![\w\-]|\.\w)"),
    ("uuid", rf"{_NOT_BEFORE}{_HEX}+-{_HEX}+-{_HEX}+-{_HEX}+-{_HEX}+(?![\w-])"),
    ("mac", rf"{_NOT_BEFORE}{_HEX}+(?:[:-]{_HEX}+){{5}}(?![\w:-])"),
    ("ipv6", rf"{_NOT_BEFORE}(?=[0-9a-fA-F:.]*\d)(?:{_HEX}*:){{2,7}}(?:{_HEX}+|\d+(?:\.\d+){{3}})"
             rf"(?![\w.:])"),
    ("ipv4", r"(?<![\w.])\d+\.\d+\.\d+\.\d+(?::\d+)?(?![\w.])"),
    ("path", r"(?<![\w.:/\\])(?:/[\w.\-@+~%]+)+/?|\b[A-Za-z]:\\[^\s\"']+"),
    ("quoted", r"\"[^\"]*\"|(?<![\w'])'[^'\s]+'(?![\w'])"),
    ("empty", r"(?<!\S)(?:\(\)|\[\]|\{\})(?!\S)"),
    ("kv", rf"(?<==){_VALUE_END}*[\d./:@\\]{_VALUE_END}*"),
    ("id", r"(?<![\w.\-/])[A-Za-z][A-Za-z0-9]*(?:[_\-][A-Za-z][A-Za-z0-9]*)*[_\-]-?\d[\w\-]*"),
    ("hex", rf"\b0[xX]{_HEX}+\b|\b(?=[a-fA-F]*\d)(?={_HEX}*[a-fA-F]){_HEX}{{6,}}\b"),
    ("size", r"(?<![A-Za-z0-9.])(?:[<>]=?|~)?[-+]?\d+(?:\.\d+)?\s?(?:[KMGTP]i?B|[kKMGT]?bytes?|B|ms|us|µs|ns"
             r"|s|secs?|seconds?|mins?|minutes?|hrs?|hours?|days?|%)(?![\w%])"),
    ("num", r"(?<![A-Za-z0-9.])(?:[<>]=?|~)?[-+]?\d\w*(?:[.,]\d\w*)*|(?<=\.)\d\w*"),
)

# Each starts with a literal or a bracket so the regex engine can skip ahead to candidates.
_IN_TOKEN = re.compile(r"<\*>(?:[^\w\s<]*<\*>|[,;]\s+<\*>)+")
_ENCLOSED = re.compile(r"\((?<![^\s(\[{]\()<\*>\)|\[(?<![^\s(\[{]\[)<\*>\]"
                       r"|\{(?<![^\s(\[{]\{)<\*>\}")
_RUN = re.compile(r"<\*>(?<!\S<\*>)(?:\s+<\*>)+")
_KEY_DIGITS = re.compile(r"(?<![A-Za-z0-9])\d+")


def digit_key(line: str) -> str:
    """The cache key: ``line`` with every maskable digit run collapsed to ``0``."""
    return _KEY_DIGITS.sub("0", line)


@dataclass(frozen=True)
class Mask:
    """One masking rule: a name (for docs/config) and a regex."""

    name: str
    pattern: str


class Masker:
    """Applies a set of masks as one combined regex and normalises parameter layout.

    ``masks`` replaces the default set; ``extra_masks`` are tried before it (so a
    user rule for a site-specific id wins). Masks must not bound digit-run lengths
    (``\\d{1,3}``) if the digit-key cache is used; the defaults don't.
    """

    def __init__(self, masks: Iterable[tuple[str, str]] | None = None,
                 extra_masks: Iterable[tuple[str, str]] = ()) -> None:
        extra = [tuple(m) for m in extra_masks]
        base = list(DEFAULT_MASKS) if masks is None else [tuple(m) for m in masks]
        for name, pattern in (*extra, *base):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"mask {name!r}: invalid regex {pattern!r} ({exc})") from exc
        self.rules = tuple(Mask(n, p) for n, p in (*extra, *base))
        parts = [f"(?:{p})" for _, p in extra]
        if base:
            alternatives = "|".join(f"(?:{p})" for _, p in base)
            # the default set is written so that every match passes the gate
            parts.append(f"{DEFAULT_GATE}(?:{alternatives})" if masks is None else alternatives)
        self._regex = re.compile("|".join(parts)) if parts else None

    def mask(self, text: str) -> str:
        """Replace every masked value with ``<*>`` (no layout normalisation)."""
        return self._regex.sub(PARAM, text) if self._regex is not None else text

    @staticmethod
    def normalize(masked: str) -> str:
        """Collapse masks joined inside a token, drop brackets around a lone mask, collapse runs."""
        if PARAM not in masked:
            return masked
        text = _IN_TOKEN.sub(PARAM, masked)
        text = _ENCLOSED.sub(PARAM, text)
        if text.count(PARAM) > 1:
            text = _RUN.sub(PARAM, text)
        return text

    def __call__(self, text: str) -> str:
        return self.normalize(self.mask(text))

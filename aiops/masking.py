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

The masks don't have to be perfect for the cache in front of the miner: a cached
template is only reused for a line that is an exact instance of it.
"""

from __future__ import annotations

import re
from typing import Iterable, NamedTuple

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
_LABEL = r"[A-Za-z0-9][A-Za-z0-9\-]*+"
_NOT_BEFORE = r"(?<![A-Za-z0-9])"    # a value starts at a token/punctuation boundary
_VALUE_END = r"[^\s,;\"'()\[\]{}<>]"  # characters a key=value value may contain

class Mask(NamedTuple):
    """One masking rule: a name, where a match can start (d/a/o), and a regex."""

    name: str
    starts: str
    pattern: str


#: Where a default mask can start: not inside an alphanumeric run, and the token holds a
#: digit or one of ``/"'=.:@\([{`` or starts with a day/month name. Checked once per
#: position before the alternatives, it makes plain words (most of a line) cheap to skip.
DEFAULT_GATE = (r"(?<![A-Za-z0-9])(?=[^\s\d/\"'=.:@\\(\[{]*+[\d/\"'=.:@\\(\[{]"
                r"|(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec))")

#: The default masks in priority order: at one position the first that matches wins. The
#: second field says which characters a match can start with (d: digit, a: letter,
#: o: anything else), so each position only tries the masks that can start there.
DEFAULT_MASKS: tuple["Mask", ...] = (
    Mask("url", "a", r"\b[A-Za-z][A-Za-z0-9+.\-]*+://[^\s\"'<>\])},;]*+"),
    Mask("timestamp", "a", rf"\b{_WDAY} +{_MONTH} +\d++(?: +\d++:\d++(?::\d++(?:[.,]\d++)?)?)?"
                           rf"(?: +\d++\b)?"),
    Mask("timestamp", "a", rf"\b{_MONTH} +\d++(?:,? +\d++)?(?: +\d++:\d++(?::\d++(?:[.,]\d++)?)?)\b"),
    Mask("timestamp", "d", r"\d++-\d++-\d++[T ]\d++:\d++(?::\d++(?:[.,]\d++)?)?"
                           r"(?:Z\b|[+-]\d++(?::\d++)?)?"),
    Mask("email", "dao", r"(?<![\w.+\-])[\w.+\-]++@[A-Za-z0-9\-]++(?:\.[A-Za-z0-9\-]++)++"),
    Mask("host", "da", rf"(?<![\w.\-])(?=[\w\-]*+\.)(?:{_LABEL}\.)++[A-Za-z][A-Za-z0-9\-]*+:\d++\b"),
    Mask("host", "da", rf"(?<![\w.\-@/])(?=[\w\-]*+\.)(?:{_LABEL}\.)++(?:{_GTLD}|{_CCTLD})"
                       rf"(?![\w\-]|\.\w)"),
    Mask("host", "d", rf"(?<![\w.\-@/])\d[A-Za-z0-9\-]*(?:\.{_LABEL})*\.[A-Za-z][A-Za-z0-9\-]*"
                      rf"[A-Za-z](?![\w\-]|\.\w)"),
    Mask("uuid", "da", rf"{_NOT_BEFORE}{_HEX}++-{_HEX}++-{_HEX}++-{_HEX}++-{_HEX}++(?![\w-])"),
    Mask("mac", "da", rf"{_NOT_BEFORE}{_HEX}++(?:[:-]{_HEX}++){{5}}(?![\w:-])"),
    Mask("ipv6", "dao", rf"{_NOT_BEFORE}(?:\[(?=[a-fA-F:.]*+\d)(?:{_HEX}*:){{2,7}}{_HEX}*\](?::\d++)?"
                        rf"|(?=[a-fA-F:.]*+\d)(?:{_HEX}*:){{2,7}}(?:{_HEX}+|\d+(?:\.\d+){{3}})"
                        rf"(?![\w.:]))"),
    Mask("ipv4", "d", r"(?<![\w.])\d++\.\d++\.\d++\.\d++(?::\d++)?(?![\w.])"),
    Mask("path", "ao", r"(?<![\w.:/\\])(?:/[\w.\-@+~%]++)++/?|\b[A-Za-z]:\\[^\s\"']++"),
    Mask("quoted", "o", r"\"(?!(?:GET|POST|PUT|DELETE|HEAD|PATCH|OPTIONS) )[^\"]*+\""
                        r"|(?<![\w'])'[^'\s]++'(?![\w'])"),
    Mask("empty", "o", r"(?<!\S)(?:\(\)|\[\]|\{\})(?!\S)"),
    Mask("id", "a", r"(?<![\w.\-/])(?=[A-Za-z][A-Za-z0-9]*+[_\-][\w\-]*?\d)"
                    r"[A-Za-z][A-Za-z0-9]*+(?:[_\-]++[A-Za-z0-9]++)++"),
    Mask("hex", "da", rf"\b0[xX]{_HEX}++\b|\b(?=[a-fA-F]*+\d)(?=\d*+[a-fA-F]){_HEX}{{6,}}+\b"),
    Mask("size", "do", r"(?<![A-Za-z0-9.])(?:[<>]=?|~)?[-+]?\d++(?:\.\d++)?\s?"
                       r"(?:[KMGTP]i?B|[kKMGT]?bytes?|B|ms|us|µs|ns|s|secs?|seconds?|mins?|minutes?"
                       r"|hrs?|hours?|days?|%)(?![\w%])"),
    Mask("num", "do", r"(?<![A-Za-z0-9.])(?:[<>]=?|~)?[-+]?\d\w*+(?:[.,]\d\w*+)*+|(?<=\.)\d\w*+"),
    Mask("kv", "dao", rf"(?<==)(?=[^\s,;\"'()\[\]{{}}<>\d./:@\\]*+[\d./:@\\]){_VALUE_END}++"),
)

# Each starts with a literal or a bracket so the regex engine can skip ahead to candidates.
_IN_TOKEN = re.compile(r"<\*>(?:[^\w\s<]*<\*>|[,;]\s+<\*>)+")
_ENCLOSED = re.compile(r"\((?<![^\s(\[{]\()<\*>\)|\[(?<![^\s(\[{]\[)<\*>\]"
                       r"|\{(?<![^\s(\[{]\{)<\*>\}")
_RUN = re.compile(r"<\*>(?<!\S<\*>)(?:\s+<\*>)+")
def _rule(m: Mask | tuple[str, str]) -> Mask:
    return m if isinstance(m, Mask) else Mask(m[0], "dao", m[1])


def _dispatch(rules: list[Mask]) -> str:
    """One group per kind of first character, each with the masks (in order) that can start so."""
    groups = []
    for kind, look in (("d", "(?=[0-9])"), ("a", "(?=[A-Za-z])"), ("o", "(?=[^0-9A-Za-z])")):
        alts = "|".join(f"(?:{m.pattern})" for m in rules if kind in m.starts)
        if alts:
            groups.append(f"{look}(?:{alts})")
    return "(?:" + "|".join(groups) + ")"


class Masker:
    """Applies a set of masks as one combined regex and normalises parameter layout.

    ``masks`` replaces the default set; ``extra_masks`` are tried before it (so a
    user rule for a site-specific id wins). Each is a :class:`Mask` or a
    ``(name, regex)`` pair.
    """

    def __init__(self, masks: Iterable[tuple[str, str]] | None = None,
                 extra_masks: Iterable[tuple[str, str]] = ()) -> None:
        extra = [_rule(m) for m in extra_masks]
        base = list(DEFAULT_MASKS) if masks is None else [_rule(m) for m in masks]
        for rule in (*extra, *base):
            try:
                re.compile(rule.pattern)
            except re.error as exc:
                raise ValueError(f"mask {rule.name!r}: invalid regex {rule.pattern!r} "
                                 f"({exc})") from exc
        self.rules = (*extra, *base)
        parts = [f"(?:{m.pattern})" for m in extra]
        if masks is None:
            parts.append(f"{DEFAULT_GATE}{_dispatch(base)}")  # every default match passes the gate
        elif base:
            parts.append("|".join(f"(?:{m.pattern})" for m in base))
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

"""Public templates and templates as patterns: is a line an instance, with which parameters.

A template is literal text with ``<*>`` holes, each standing for at least one
character (possibly spanning words: a run of values is one parameter). Matching
is done on whitespace-normalised text, so ``a  b`` and ``a b`` are the same line.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aiops.masking import PARAM

if TYPE_CHECKING:
    from aiops.template_events import Cluster

_COMPILE_AFTER = 64  # matches before an event's template is compiled to a regex


class Event:
    """A public template: stable ``id``, current ``template``, counts and event-time span."""

    __slots__ = ("id", "source", "cluster", "key", "template", "count", "first_seen",
                 "last_seen", "merged_into", "seq", "chunks", "regex", "uses")

    def __init__(self, id: str, source: str, cluster: "Cluster", key: tuple,
                 template: str, seq: int) -> None:
        self.id = id
        self.source = source
        self.cluster = cluster
        self.key = key
        self.count = 0
        self.first_seen: Any = None
        self.last_seen: Any = None
        self.merged_into: Event | None = None
        self.seq = seq
        self.set_template(template)

    def set_template(self, template: str) -> None:
        self.template = template
        self.chunks = tuple(template.split(PARAM))
        self.regex: re.Pattern[str] | None = None
        self.uses = 0

    def canonical(self) -> "Event":
        ev = self
        while ev.merged_into is not None:
            ev = ev.merged_into
        return ev

    def match(self, text: str) -> tuple[str, ...] | None:
        """The parameters if ``text`` (whitespace-normalised) is an instance of the template.

        Literal chunks are found left to right with ``str.find`` (the same answer as
        the anchored regex with one lazy group per ``<*>``); an event matched often
        gets that regex compiled, which is faster per line but costs ~0.1 ms once.
        """
        regex = self.regex
        if regex is not None:
            m = regex.match(text)
            return m.groups() if m is not None else None
        self.uses += 1
        if self.uses > _COMPILE_AFTER:
            self.regex = template_regex(self.template)
        return glob(self.chunks, text)


def glob(chunks: tuple[str, ...], text: str) -> tuple[str, ...] | None:
    """Match ``text`` against literal ``chunks`` joined by ``<*>`` (each at least one char)."""
    first = chunks[0]
    if len(chunks) == 1:
        return () if text == first else None
    if not text.startswith(first):
        return None
    last = chunks[-1]
    end = len(text) - len(last)
    if not text.endswith(last):
        return None
    pos = len(first)
    params = []
    for lit in chunks[1:-1]:
        j = text.find(lit, pos + 1, end)
        if j < 0:
            return None
        params.append(text[pos:j])
        pos = j + len(lit)
    if end <= pos:
        return None
    params.append(text[pos:end])
    return tuple(params)


def related(a: str, b: str) -> bool:
    """Two values of one position that are the same kind of value, so the position is one.

    A masked value (``<*>``) next to anything: the slot holds values, and a word there
    is one more (``user 0`` / ``user root``, ``lifetime <1 sec`` / ``lifetime 00:01``);
    this is also what the shape cache assumes, a ``<*>`` fits any value. And a word that
    is an instance of a partly masked token: ``user=ririan`` next to ``user=<*>``.
    """
    if a == PARAM or b == PARAM:
        return True
    for x, y in ((a, b), (b, a)):
        if PARAM in x and glob(tuple(x.split(PARAM)), y) is not None:
            return True
    return False


def template_regex(template: str) -> re.Pattern[str]:
    """The template as an anchored regex over whitespace-normalised text, one group per ``<*>``."""
    return re.compile("(.+?)".join(re.escape(c) for c in template.split(PARAM)) + r"\Z",
                      re.DOTALL)

"""Templates as patterns: is a line an instance of a template, with which parameters.

A template is literal text with ``<*>`` holes, each standing for at least one
character (possibly spanning words: a run of values is one parameter). Matching
is done on whitespace-normalised text, so ``a  b`` and ``a b`` are the same line.
"""

from __future__ import annotations

import re

from aiops.masking import PARAM


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
    this is also what the line cache assumes, a ``<*>`` fits any value. And a word that
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

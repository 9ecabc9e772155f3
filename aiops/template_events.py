"""One log source's template tree: drain3 clusters refined into stable public templates.

drain3 merges two messages as soon as enough tokens agree, and a differing word
becomes ``<*>``. That is right for a user name and wrong for ``startup`` vs
``shutdown`` or ``SCREEN_ON`` vs ``SCREEN_OFF``: an enumeration is part of the
event. So a drain cluster here is only a *candidate* group; a word position that
drain generalised stays a distinguishing part of the public template (an
*enumerated position*) until it has shown more than ``max_enum_values``
distinct words, or a value of the same kind as a masked one (see
:func:`aiops.template_match.related`), at which point it is a parameter and the
variants merge. Everything else that varies was masked before drain saw it.

A public template (:class:`Event`) gets its id once, from a hash of its source
and its first template, and keeps it while drain generalises: the id a user sees
never changes. When two events become the same (a position turns out to be a
parameter, or two drain clusters end with identical templates) the younger is
aliased to the older; lines already labelled keep their id, new lines get the
surviving one, and :attr:`SourceTree.history` records both kinds of change (event time ``at``).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import deque
from typing import Any

from drain3.drain import Drain

from aiops.masking import PARAM, Masker
from aiops.template_match import Event, glob, related

_DIGITS = b"0123456789"
_HAS_DIGIT = re.compile(r"\d").search
_CANDIDATES = 8      # events remembered per cache key


class Cluster:
    """Per drain cluster: its last template, the enumerated positions and their events."""

    __slots__ = ("cid", "tokens", "enum", "pos", "events", "shape", "used")

    def __init__(self, cid: int, tokens: tuple[str, ...]) -> None:
        self.cid = cid
        self.tokens = tokens
        self.enum: dict[int, set[str]] = {}   # position -> distinct words seen there
        self.pos: list[int] = []              # sorted enumerated positions (the event key order)
        self.events: dict[tuple, Event] = {}  # key (words at self.pos) -> event
        self.shape: dict[int, str] = {}       # parameter position -> what all its values look like
        self.used = 0

    def template_for(self, key: tuple) -> str:
        tokens = list(self.tokens)
        for p, token in self.shape.items():
            tokens[p] = token
        for p, word in zip(self.pos, key):
            tokens[p] = word
        return " ".join(tokens)


def common_shape(values: set[str]) -> str | None:
    """What every value of a parameter position looks like, if more than ``<*>``.

    A partly masked value the others are instances of (``user=<*>`` for ``user=ann``),
    else the common prefix up to a punctuation mark and suffix from one
    (``user=<*>`` for ``user=ann`` and ``user=bob``, ``(<*>)`` for ``(a)`` and ``(b)``).
    """
    for shape in values:
        if PARAM in shape and shape != PARAM:
            chunks = tuple(shape.split(PARAM))
            if all(v == shape or glob(chunks, v) is not None for v in values):
                return shape
    if len(values) < 2 or PARAM in values:
        return None
    prefix = _cut(os.path.commonprefix(list(values)))
    suffix = _cut(os.path.commonprefix([v[::-1] for v in values]))[::-1]
    if not (prefix or suffix) or len(prefix) + len(suffix) >= min(map(len, values)):
        return None
    return prefix + PARAM + suffix


def _cut(common: str) -> str:
    """``common`` up to and including its last non-alphanumeric character."""
    for i in range(len(common) - 1, -1, -1):
        if not common[i].isalnum():
            return common[:i + 1]
    return ""


class SourceTree:
    """Template mining for one source: mask, shape cache, drain3, enumerations, stable ids."""

    def __init__(self, source: str, *, masker: Masker, sim_th: float, depth: int,
                 max_children: int, max_clusters: int | None, max_enum_values: int,
                 max_variants: int, cache_size: int, registry: dict[str, Event],
                 history_size: int) -> None:
        self.source = source
        self.masker = masker
        self.drain = Drain(depth=depth, sim_th=sim_th, max_children=max_children,
                           param_str=PARAM)
        self.max_clusters = max_clusters
        self.max_enum_values = max_enum_values
        self.max_variants = max_variants
        self.cache_half = max(1, cache_size // 2) if cache_size else 0
        self.registry = registry          # id -> Event, shared by all sources of a miner
        self.history: deque[dict] = deque(maxlen=history_size)
        self.changes = 0                  # template changes ever recorded (orders history)
        self.clusters: dict[int, Cluster] = {}
        self.by_template: dict[str, Event] = {}
        # shape key (the line without digits, or (token count, first word)) -> recent events
        self.cache: dict[bytes | tuple, tuple[Event, ...]] = {}
        self.cache_old: dict[bytes | tuple, tuple[Event, ...]] = {}
        self.tick = 0
        self.seq = 0
        self.evictions = 0
        self.now: Any = None              # event time of the line being mined (for history)

    # -- the per-line path -------------------------------------------------------------
    def mine(self, records: list, i: int) -> int:
        """Mine ``records[i:]`` while they belong to this source; return the next index.

        Fast path: two keys, the line with its digits deleted (exact shape) and
        (token count, first word) (any values, like drain's first tree levels), each
        map to a few recent events; the first whose template the line is an exact
        instance of is the answer, and that match yields the parameters. Only a line
        no cached template fits is masked and sent to drain. Whole lines are not
        cached: at 1M lines they were 11 % of the hits, two thirds of the cache's
        memory, and their churn pushed shape keys out (mining 1.7x slower with them).
        """
        source, n = self.source, len(records)
        cache, half = self.cache, self.cache_half
        tick = self.tick
        while i < n:
            rec = records[i]
            if (rec.service or rec.source) != source:
                break
            i += 1
            tick += 1
            message = rec.message
            tokens = message.split()
            text = " ".join(tokens)
            params = None
            seen = []
            if half:
                try:
                    key = message.encode().translate(None, _DIGITS)
                except UnicodeEncodeError:
                    key = message.encode("utf-8", "surrogatepass").translate(None, _DIGITS)
                cands = cache.get(key) or self._revive(key)
                if cands is not None:
                    params = self._lookup(cands, key, text)
                if params is None:
                    seen.append((key, cands))
                    first = tokens[0] if tokens else ""
                    if not first.isalpha() and _HAS_DIGIT(first):
                        first = ""                  # a value, like drain's <*> node
                    key = (len(tokens), first)
                    cands = cache.get(key) or self._revive(key)
                    if cands is not None:
                        params = self._lookup(cands, key, text)
                    if params is None:
                        seen.append((key, cands))
            if params is not None:
                ev, params = params
            else:
                self.tick, self.now = tick, rec.ts
                evictions = self.evictions
                ev = self._mine(message)
                if self.evictions != evictions:    # cached candidates may be gone
                    seen = [(key, None) for key, _ in seen]
                params = ev.match(text)
                if params is None:      # cannot happen with the default masks; stay safe
                    params = ()
                    seen = ()
            if seen:
                if len(cache) >= half:
                    self.cache_old = cache
                    self.cache = cache = {}
                for key, cands in seen:                 # teach the keys that missed
                    cache[key] = (ev, *(cands or ())[:_CANDIDATES - 1])
            ev.cluster.used = tick
            ev.count += 1
            ts = rec.ts
            if ts is not None:
                if ev.last_seen is None:
                    ev.first_seen = ev.last_seen = ts
                elif ts > ev.last_seen:
                    ev.last_seen = ts
                elif ts < ev.first_seen:
                    ev.first_seen = ts
            rec.template_id = ev.id
            rec.params = params
        self.tick = tick
        return i

    def _revive(self, key: Any) -> tuple | None:
        """A key of the previous generation, moved into the current one (None if unknown)."""
        cands = self.cache_old.get(key)
        if cands is not None:
            self.cache[key] = cands
        return cands

    def _lookup(self, cands: tuple, key: Any, text: str) -> tuple | None:
        """The first candidate ``text`` is an instance of, moved to the front: (event, params)."""
        for j, ev in enumerate(cands):
            while ev.merged_into is not None:
                ev = ev.merged_into
            params = ev.match(text)
            if params is not None:
                if j:
                    self.cache[key] = (ev, *cands[:j], *cands[j + 1:])
                return ev, params
        return None

    def _mine(self, message: str) -> Event:
        normalized = self.masker(message)
        tokens = normalized.split()
        cluster, _ = self.drain.add_log_message(normalized)
        st = self.clusters.get(cluster.cluster_id)
        if st is None:
            st = Cluster(cluster.cluster_id, cluster.log_template_tokens)
            self.clusters[st.cid] = st
            if self.max_clusters and len(self.clusters) > self.max_clusters:
                self._evict(keep=st)
        elif cluster.log_template_tokens != st.tokens:
            self._generalised(st, cluster.log_template_tokens, tokens)
        if st.shape:
            misfits = [p for p, shape in st.shape.items() if tokens[p] != shape
                       and glob(tuple(shape.split(PARAM)), tokens[p]) is None]
            if misfits:                         # a value of another look: plain <*> there
                for p in misfits:
                    del st.shape[p]
                self._retemplate(st)
        if st.pos:
            self._observe_words(st, tokens)
        key = tuple(tokens[p] for p in st.pos)
        ev = st.events.get(key)
        if ev is None:
            ev = self._new_event(st, key)
        while ev.merged_into is not None:
            ev = ev.merged_into
        return ev

    # -- enumerations ------------------------------------------------------------------
    def _generalised(self, st: Cluster, new: tuple[str, ...], tokens: list[str]) -> None:
        """drain turned constant positions into ``<*>``: each becomes an enumerated position."""
        old = st.tokens
        st.tokens = new
        fresh, variable = [], False
        for p, (before, after) in enumerate(zip(old, new)):
            if before != PARAM and after == PARAM:
                if self.max_enum_values < 2 or related(before, tokens[p]):
                    variable = True
                    shape = common_shape({before, tokens[p]})
                    if shape is not None:
                        st.shape[p] = shape
                else:
                    fresh.append((p, before, tokens[p]))
        if fresh:
            for p, before, word in fresh:
                st.enum[p] = {before, word}
            old_pos = st.pos
            st.pos = sorted(st.enum)
            constants = {p: before for p, before, _ in fresh}   # what existing events had there
            rekeyed: dict[tuple, Event] = {}
            for ev in st.events.values():
                full = dict(zip(old_pos, ev.key))
                full.update(constants)
                ev.key = tuple(full[q] for q in st.pos)
                rekeyed[ev.key] = ev
            st.events = rekeyed
        if variable:
            self._retemplate(st)

    def _observe_words(self, st: Cluster, tokens: list[str]) -> None:
        to_param = []
        for p in st.pos:
            word = tokens[p]
            seen = st.enum[p]
            if word not in seen:
                if len(seen) >= self.max_enum_values or any(related(word, v) for v in seen):
                    to_param.append(p)
                seen.add(word)
        if not to_param and len(st.events) >= self.max_variants:
            to_param.append(max(st.pos, key=lambda q: len(st.enum[q])))
        if to_param:
            self._parametrise(st, to_param)

    def _parametrise(self, st: Cluster, positions: list[int]) -> None:
        """These enumerated positions are parameters after all: merge the variants they split."""
        for p in positions:
            shape = common_shape(st.enum.pop(p))
            if shape is not None:
                st.shape[p] = shape
        keep = [i for i, p in enumerate(st.pos) if p not in positions]
        st.pos = [st.pos[i] for i in keep]
        merged: dict[tuple, Event] = {}
        for ev in sorted(st.events.values(), key=lambda e: e.seq):
            ev.key = tuple(ev.key[i] for i in keep)
            other = merged.get(ev.key)
            if other is None:
                merged[ev.key] = ev
            else:
                self._merge(ev, other)
        st.events = merged
        self._retemplate(st)

    # -- events, ids, merges -----------------------------------------------------------
    def _new_event(self, st: Cluster, key: tuple) -> Event:
        template = st.template_for(key)
        self.seq += 1
        ev = Event(self._new_id(template), self.source, st, key, template, self.seq)
        st.events[key] = ev
        self.registry[ev.id] = ev
        other = self.by_template.get(template)
        if other is not None and other.merged_into is None:
            self._merge(ev, other)
        else:
            self.by_template[template] = ev
        return ev

    def _new_id(self, template: str) -> str:
        text = f"{self.source}\x00{template}"
        for salt in range(1000):
            data = f"{text}\x00{salt}" if salt else text
            digest = hashlib.blake2b(data.encode("utf-8", "surrogatepass"),
                                     digest_size=6).hexdigest()
            if digest not in self.registry:
                return digest
        raise RuntimeError("template id space exhausted")  # pragma: no cover

    def _retemplate(self, st: Cluster) -> None:
        for ev in list(st.events.values()):
            if ev.merged_into is not None:
                continue
            new = st.template_for(ev.key)
            if new == ev.template:
                continue
            if self.by_template.get(ev.template) is ev:
                del self.by_template[ev.template]
            self._record({"id": ev.id, "source": self.source, "old": ev.template,
                          "new": new, "at": self.now})
            ev.set_template(new)
            other = self.by_template.get(new)
            if other is not None and other is not ev and other.merged_into is None:
                self._merge(ev, other)
            else:
                self.by_template[new] = ev

    def _merge(self, a: Event, b: Event) -> None:
        """Alias the younger of two events to the older; lines keep flowing to the survivor."""
        a, b = a.canonical(), b.canonical()
        if a is b:
            return
        winner, loser = (a, b) if a.seq < b.seq else (b, a)
        loser.merged_into = winner
        winner.count += loser.count
        if loser.first_seen is not None and (winner.first_seen is None
                                             or loser.first_seen < winner.first_seen):
            winner.first_seen = loser.first_seen
        if loser.last_seen is not None and (winner.last_seen is None
                                            or loser.last_seen > winner.last_seen):
            winner.last_seen = loser.last_seen
        if self.by_template.get(loser.template) is loser:
            del self.by_template[loser.template]
        self._record({"id": loser.id, "source": self.source, "old": loser.template,
                      "new": winner.template, "at": self.now, "merged_into": winner.id})

    def _record(self, change: dict) -> None:
        self.changes += 1
        change["n"] = self.changes
        self.history.append(change)

    # -- memory bound ------------------------------------------------------------------
    def _evict(self, keep: Cluster) -> None:
        """Drop the least recently used tenth of the clusters (and their events)."""
        self.evictions += 1
        victims = sorted((c for c in self.clusters.values() if c is not keep),
                         key=lambda c: c.used)[:max(1, len(self.clusters) // 10)]
        gone = {st.cid for st in victims}
        for cid in gone:
            del self.clusters[cid]
            self.drain.id_to_cluster.pop(cid, None)
        dropped = [ev for ev in self.registry.values()
                   if ev.source == self.source and ev.cluster.cid in gone]
        for ev in dropped:
            del self.registry[ev.id]
            if self.by_template.get(ev.template) is ev:
                del self.by_template[ev.template]
        for ev in self.registry.values():         # aliases into dropped events move on
            target = ev.merged_into
            if target is None or target.cluster.cid not in gone or ev.source != self.source:
                continue
            while target is not None and target.cluster.cid in gone:
                target = target.merged_into
            ev.merged_into = target
            if target is None:
                self.by_template.setdefault(ev.template, ev)
        self.cache.clear()
        self.cache_old.clear()

    def events(self) -> list[Event]:
        return [ev for st in self.clusters.values() for ev in st.events.values()
                if ev.merged_into is None]

"""Log template mining: a small facade over drain3, in the style of drain3's TemplateMiner.

The engine builds the miner from the ``[templates]`` config section with
:func:`build_miner` and calls :meth:`TemplateMiner.mine` on every batch of log
records; it fills ``record.template_id`` (a stable public id) and
``record.params``. Each log source (``record.service or record.source``) gets its
own tree, so unrelated systems never share clusters.

What sits around drain3 and why (details in ``aiops.masking``,
``aiops.template_events`` and ``aiops.template_match``):

* one combined masking regex plus parameter-layout normalisation, so values never
  reach drain and variable-length parameters don't split an event;
* a cache in front of everything (the exact line; the line with digits deleted;
  token count and first word), whose answers are checked by matching the line
  against the template: most lines skip masking and drain entirely, which is
  where the speed comes from;
* enumerated positions: a word drain generalised stays part of the template until
  it shows more than ``max_enum_values`` distinct values (``startup``/``shutdown``
  are two events, user names are a parameter);
* stable ids, merges of identical templates, a history of template changes;
* a memory bound (``max_clusters`` per source) and ``get_state``/``set_state``
  (plus a drain3-style persistence handler) so a restart continues with the same ids.
"""

from __future__ import annotations

import inspect
import io
import json
import os
import pickle
import tempfile
import zlib
from datetime import datetime
from typing import Any, Iterable, Protocol

import orjson

from aiops.masking import Masker
from aiops.schema import LogRecord, iso
from aiops.store.codec import Deflater
from aiops.template_events import SourceTree
from aiops.template_match import Event
from aiops.template_state import dump_tree, load_tree

STATE_VERSION = 3
_READABLE = {1, 2, 3}


class TemplateConfigError(TypeError, ValueError):
    """A bad ``[templates]`` setting; a TypeError too, so ``config.build_component`` names it."""


class PersistenceHandler(Protocol):
    """drain3's persistence interface: opaque bytes in, the last bytes (or None) out."""

    def save_state(self, state: bytes) -> None: ...

    def load_state(self) -> bytes | None: ...


class FilePersistence:
    """Keeps the miner state in one file, replaced atomically (write temp, fsync, rename)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)

    def save_state(self, state: bytes) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(prefix=".templates-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(state)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def load_state(self) -> bytes | None:
        try:
            with open(self.path, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            return None


class MemoryPersistence:
    """Keeps the last saved state in memory (tests, embedding)."""

    def __init__(self) -> None:
        self.state: bytes | None = None

    def save_state(self, state: bytes) -> None:
        self.state = state

    def load_state(self) -> bytes | None:
        return self.state


def _mask_rules(value: Any, name: str) -> list[tuple[str, str]] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes, dict)):
        raise TemplateConfigError(f"{name} must be a list of masks, got {value!r}")
    rules = []
    for i, item in enumerate(value):
        if isinstance(item, dict):
            rule = (str(item.get("name", f"{name}{i}")), item.get("regex", item.get("pattern")))
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            rule = (str(item[0]), item[1])
        else:
            rule = (f"{name}{i}", item)
        if not isinstance(rule[1], str):
            raise TemplateConfigError(f"{name}[{i}]: expected a regex string, a {{name, regex}} "
                                      f"table or a [name, regex] pair, got {item!r}")
        rules.append(rule)
    return rules


class _StateUnpickler(pickle.Unpickler):
    """Plain data only (a state is dicts, lists, strings, numbers, datetimes and bytes)."""

    _ALLOWED = {("datetime", "datetime"), ("datetime", "timezone"), ("datetime", "timedelta")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"template miner state may not load {module}.{name}")


def _check_int(name: str, value: Any, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise TemplateConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


class TemplateMiner:
    """Mines a stable template id and parameters for every log record.

    Parameters
    ----------
    sim_th, depth, max_children:
        drain3's similarity threshold, tree depth and fan-out.
    max_enum_values:
        distinct words a position may take and still distinguish events (``ON``/``OFF``);
        one more and it is a parameter. ``1`` gives plain drain behaviour.
    max_variants:
        at most this many events per drain cluster before its most varied
        enumerated position is made a parameter.
    max_clusters:
        memory bound: drain clusters kept per source; the least recently used tenth
        is dropped when exceeded (``0``/``None``: unbounded).
    cache_size:
        cache keys remembered per source for the fast path (two per new line shape);
        ``0`` disables the cache.
    masks, extra_masks:
        replace the default masking set / add rules tried before it; each a
        ``{name, regex}`` table or ``[name, regex]`` pair.
    history_size:
        template changes kept per source (the newest).
    persistence:
        a drain3-style handler (``save_state``/``load_state``); state is loaded at
        construction and written by :meth:`save`.
    """

    def __init__(self, sim_th: float = 0.4, depth: int = 4, max_children: int = 100,
                 max_enum_values: int = 3, max_variants: int = 64,
                 max_clusters: int | None = 5000, cache_size: int = 10_000,
                 masks: Iterable[Any] | None = None,
                 extra_masks: Iterable[Any] = (), history_size: int = 10_000,
                 persistence: PersistenceHandler | None = None) -> None:
        if (not isinstance(sim_th, (int, float)) or isinstance(sim_th, bool)
                or not 0.0 < sim_th <= 1.0):
            raise TemplateConfigError(f"sim_th must be a number in (0, 1], got {sim_th!r}")
        self.sim_th = float(sim_th)
        self.depth = _check_int("depth", depth, 3)
        self.max_children = _check_int("max_children", max_children, 2)
        self.max_enum_values = _check_int("max_enum_values", max_enum_values, 1)
        self.max_variants = _check_int("max_variants", max_variants, 1)
        self.max_clusters = _check_int("max_clusters", max_clusters or 0, 0) or None
        self.cache_size = _check_int("cache_size", cache_size, 0)
        self.history_size = _check_int("history_size", history_size, 0)
        self.masks = _mask_rules(masks, "masks")
        self.extra_masks = _mask_rules(extra_masks, "extra_masks") or []
        self.persistence = persistence
        try:
            self.masker_ = Masker(self.masks, self.extra_masks)
        except ValueError as exc:
            raise TemplateConfigError(str(exc)) from None
        self.trees_: dict[str, SourceTree] = {}
        self.registry_: dict[str, Event] = {}
        if persistence is not None:
            state = persistence.load_state()
            if state:
                self.set_state(state)

    # -- mining -----------------------------------------------------------------------
    def _tree(self, source: str) -> SourceTree:
        tree = self.trees_.get(source)
        if tree is None:
            tree = self.trees_[source] = SourceTree(
                source, masker=self.masker_, sim_th=self.sim_th, depth=self.depth,
                max_children=self.max_children, max_clusters=self.max_clusters,
                max_enum_values=self.max_enum_values, max_variants=self.max_variants,
                cache_size=self.cache_size, registry=self.registry_,
                history_size=self.history_size)
        return tree

    def mine(self, records: list[LogRecord]) -> None:
        """Fill ``template_id`` and ``params`` of each record, learning from it.

        Each source's records are mined in their order; sources are independent, so
        how a stream is cut into batches or interleaved never changes a result.
        """
        if not records:
            return
        trees = self.trees_
        first = records[0].service or records[0].source
        done = (trees.get(first) or self._tree(first)).mine(records, 0)
        if done == len(records):
            return
        groups: dict[str, list[LogRecord]] = {}
        for rec in records[done:]:
            source = rec.service or rec.source
            group = groups.get(source)
            if group is None:
                group = groups[source] = []
            group.append(rec)
        for source, group in groups.items():
            (trees.get(source) or self._tree(source)).mine(group, 0)

    def add(self, message: str, source: str = "", ts: datetime | None = None
            ) -> tuple[str, tuple[str, ...]]:
        """Mine one message outside the engine: ``(template_id, params)``."""
        rec = LogRecord(ts=ts, message=message, source=source)  # type: ignore[arg-type]
        self.mine([rec])
        return rec.template_id or "", rec.params

    # -- reading ----------------------------------------------------------------------
    def resolve(self, template_id: str) -> str:
        """The id that now stands for ``template_id`` (itself unless it was merged)."""
        ev = self.registry_.get(template_id)
        return ev.canonical().id if ev is not None else template_id

    def template(self, template_id: str) -> str | None:
        ev = self.registry_.get(template_id)
        return ev.canonical().template if ev is not None else None

    def templates(self) -> list[dict]:
        """One row per live template, per source in creation order (``GET /api/v1/templates``)."""
        rows = []
        for source, tree in self.trees_.items():
            for ev in sorted(tree.events(), key=lambda e: e.seq):
                rows.append({"id": ev.id, "source": source, "template": ev.template,
                             "count": ev.count, "first_seen": iso(ev.first_seen),
                             "last_seen": iso(ev.last_seen)})
        return rows

    def history(self) -> list[dict]:
        """Template changes in event-time order: ``{id, source, old, new, at[, merged_into]}``.

        ``merged_into`` marks an id that now resolves to another one (see :meth:`resolve`).
        """
        changes = [h for tree in self.trees_.values() for h in tree.history]
        changes.sort(key=lambda h: (h["at"] is not None, h["at"] or 0, h["source"], h["n"]))
        return [{k: (iso(v) if k == "at" and isinstance(v, datetime) else v)
                 for k, v in h.items() if k != "n"} for h in changes]

    # -- state ------------------------------------------------------------------------
    def get_state(self) -> bytes:
        """Everything learned, as a compressed pickle of plain data: trees, ids, caches, history.

        Read back only from the engine's own store or a persistence handler's file (a
        pickle must not come from users); version 1 (JSON) and 2 (one pickle) states still load.
        """
        sink = Deflater(3)  # the uncompressed pickle (~5 MB at 1M lines) is never whole
        trees = list(self.trees_.values())
        pickle.dump({"version": STATE_VERSION, "trees": len(trees)}, sink,
                    protocol=pickle.HIGHEST_PROTOCOL)
        # one pickle per source after the header: one tree's plain data exists at a time
        # (all of them at once were ~5 MB at the 1M-line replay's final checkpoint, its peak)
        for tree in trees:
            pickle.dump(dump_tree(tree), sink, protocol=pickle.HIGHEST_PROTOCOL)
        return sink.getvalue()

    def set_state(self, state: bytes) -> None:
        """Restore :meth:`get_state` output; settings stay those given to ``__init__``."""
        try:
            raw = zlib.decompress(state)
        except zlib.error as exc:  # not something get_state wrote
            raise ValueError(f"not a template miner state (a zlib stream: {exc})") from None
        stream = io.BytesIO(raw)
        is_json = raw[:1] in (b"{", b"[")                 # version 1 wrote JSON
        if is_json:
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                data = json.loads(raw)
        else:
            data = _StateUnpickler(stream).load()
        if not isinstance(data, dict) or data.get("version") not in _READABLE:
            found = data.get("version") if isinstance(data, dict) else None
            raise ValueError(f"template miner state version {found!r} "
                             f"is not one of {sorted(_READABLE)}")
        if data["version"] >= 3:  # a header, then one pickle per source
            if is_json:
                raise ValueError("a version 3 template miner state is a pickle, not JSON")
            # an unpickler per pickle: one keeps its memo, and the next pickle's indices
            # would reach into the previous one's objects
            trees: Any = (_StateUnpickler(stream).load() for _ in range(int(data["trees"])))
        else:
            trees = data["trees"]
        self.trees_.clear()
        self.registry_.clear()
        for tree_data in trees:
            load_tree(self._tree(tree_data["source"]), tree_data)

    def save(self) -> None:
        """Write the state through the persistence handler (no-op without one)."""
        if self.persistence is not None:
            self.persistence.save_state(self.get_state())


_SETTINGS = tuple(p for p in inspect.signature(TemplateMiner.__init__).parameters
                  if p not in ("self", "persistence"))


def build_miner(config: dict | None = None) -> TemplateMiner:
    """The engine's factory: a miner from the ``[templates]`` section; unknown keys are errors."""
    config = dict(config or {})
    unknown = sorted(set(config) - set(_SETTINGS))
    if unknown:
        raise TemplateConfigError(f"unknown setting(s) {', '.join(map(repr, unknown))}; "
                                  f"valid settings: {', '.join(_SETTINGS)}")
    return TemplateMiner(**config)

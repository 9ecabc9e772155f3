"""A source tree as plain data and back, exactly (drain tree, ids, caches).

drain3 pickles its ``Drain`` object with jsonpickle; here the prefix tree is
written node by node instead, because re-inserting clusters would not rebuild it:
drain routes a cluster by the tokens it had when it was *created*, so a restored
tree must be the same tree for a restart to continue with the same ids.
"""

from __future__ import annotations

import io
import pickle
from datetime import datetime
from typing import Any

from drain3.drain import LogCluster, Node

from aiops.template_events import Cluster, SourceTree
from aiops.template_match import Event


def _dump_node(node: Node) -> list:
    return [list(node.cluster_ids), {k: _dump_node(c) for k, c in node.key_to_child_node.items()}]


def _load_node(data: list) -> Node:
    node = Node()
    node.cluster_ids = list(data[0])
    node.key_to_child_node = {k: _load_node(c) for k, c in data[1].items()}
    return node


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _event_ref(event_id: str) -> Event:
    raise RuntimeError("an event reference is resolved by _CacheUnpickler")  # pragma: no cover


def _reduce_event(ev: Event) -> tuple:
    return _event_ref, (ev.id,)


def _dump_cache(cache: dict) -> bytes:
    """The cache as a pickle whose events are references by id.

    Walking the cache in Python made the checkpoint of a 1M-line replay cost seconds, a
    pickle with events reduced to their ids (each pickled once, the pickler memoises)
    costs milliseconds. Keys: the line with digits deleted (bytes) or (token count, first
    word) (tuple), each mapping to a tuple of events.
    """
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {Event: _reduce_event}
    pickler.dump(cache)
    return buf.getvalue()


class _CacheUnpickler(pickle.Unpickler):
    """Only strings, bytes, tuples, numbers and event references: nothing else loads."""

    def __init__(self, data: bytes, registry: dict[str, Event]) -> None:
        super().__init__(io.BytesIO(data))
        self.registry = registry

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == (__name__, "_event_ref"):
            return self.registry.get
        raise pickle.UnpicklingError(f"template cache state may not load {module}.{name}")


def _unpickle_cache(data: bytes, registry: dict[str, Event]) -> dict:
    cache: dict = {}
    for key, value in _CacheUnpickler(data, registry).load().items():
        if isinstance(key, str):
            continue                          # a whole line: states before shape keys only
        value = tuple(ev for ev in value if ev is not None)
        if value:
            cache[key] = value
    return cache


def _load_cache(rows: list | bytes, registry: dict[str, Event]) -> dict:
    if isinstance(rows, bytes):
        return _unpickle_cache(rows, registry)
    cache: dict = {}                   # a version 1 (JSON) state
    for row in rows:
        kind = row[0]
        if kind == "l":
            continue                          # a whole line: the miner no longer reads them
        if kind == "b":
            cache[row[1].encode("latin-1")] = tuple(registry[i] for i in row[2])
        else:
            cache[tuple(row[1])] = tuple(registry[i] for i in row[2])
    return cache


def dump_tree(tree: SourceTree) -> dict:
    drain = tree.drain
    events = [ev for ev in tree.registry.values() if ev.source == tree.source]
    return {
        "source": tree.source, "tick": tree.tick, "seq": tree.seq, "changes": tree.changes,
        "history": list(tree.history),
        "drain": {"counter": drain.clusters_counter, "root": _dump_node(drain.root_node),
                  "clusters": [[c.cluster_id, list(c.log_template_tokens), c.size]
                               for c in drain.id_to_cluster.values()]},
        "clusters": [[st.cid, list(st.tokens), {p: sorted(v) for p, v in st.enum.items()},
                      st.used, st.shape] for st in tree.clusters.values()],
        "events": [[ev.id, ev.cluster.cid, list(ev.key), ev.template, ev.count,
                    ev.first_seen, ev.last_seen,
                    ev.merged_into.id if ev.merged_into is not None else None, ev.seq,
                    ev.cluster.events.get(ev.key) is ev]
                   for ev in sorted(events, key=lambda e: e.seq)],
        "cache": _dump_cache(tree.cache),
        "cache_old": _dump_cache(tree.cache_old),
    }


def load_tree(tree: SourceTree, data: dict) -> None:
    tree.tick = data["tick"]
    tree.seq = data["seq"]
    tree.changes = data["changes"]
    tree.history.clear()
    for change in data["history"]:
        change["at"] = _time(change.get("at"))
        tree.history.append(change)
    drain = tree.drain
    drain.clusters_counter = data["drain"]["counter"]
    drain.root_node = _load_node(data["drain"]["root"])
    drain.id_to_cluster.clear()
    for cid, tokens, size in data["drain"]["clusters"]:
        cluster = LogCluster(tokens, cid)
        cluster.size = size
        drain.id_to_cluster[cid] = cluster
    tree.clusters.clear()
    for cid, tokens, enum, used, shape in data["clusters"]:
        st = Cluster(cid, tuple(tokens))
        st.enum = {int(p): set(v) for p, v in enum.items()}
        st.shape = {int(p): v for p, v in shape.items()}
        st.pos = sorted(st.enum)
        st.used = used
        tree.clusters[cid] = st
    merged: list[tuple[Event, str]] = []
    for (eid, cid, key, template, count, first, last, into, seq, live) in data["events"]:
        st = tree.clusters[cid]
        ev = Event(eid, tree.source, st, tuple(key), template, seq)
        ev.count, ev.first_seen, ev.last_seen = count, _time(first), _time(last)
        tree.registry[eid] = ev
        if live:
            st.events[ev.key] = ev
        if into is not None:
            merged.append((ev, into))
        elif tree.by_template.get(template) is None:
            tree.by_template[template] = ev
    for ev, into in merged:
        winner = tree.registry[into]
        ev.merged_into = winner
    tree.cache = _load_cache(data["cache"], tree.registry)
    tree.cache_old = _load_cache(data["cache_old"], tree.registry)

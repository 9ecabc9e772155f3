"""The service dependency graph: declared edges (``graph``: caller -> dependencies,
``hosts``: host -> services placed on it), placement learned from alert labels
(``instance="10.0.0.5:8080"`` puts that service on host 10.0.0.5) and co-occurrence
learned from past incidents. Also decides which *entity* (service or host) an
alert is about.
"""

from __future__ import annotations

import re
from collections import deque

from aiops.correlate.config import CorrelateConfig
from aiops.schema import host_label, host_part

_SERVICE_LABELS = ("service", "app", "application", "container", "deployment", "k8s_app")
_HOSTISH_NAME = re.compile(r"^(node|host|machine|kernel|disk|filesystem|cpu|network|nic|instance)", re.I)


class ServiceGraph:
    """Graph queries the grouping and root-cause stages need; learned state ends in ``_``."""

    def __init__(self, cfg: CorrelateConfig) -> None:
        self.cfg = cfg
        self.deps_: dict[str, set[str]] = {}
        self.hosts_: set[str] = set()
        self.cooc_: dict[str, int] = {}
        self.pending_: dict[str, set[str]] = {}  # instance host -> services seen on it (not yet a node)
        for caller, deps in cfg.graph.items():
            self.deps_.setdefault(caller, set()).update(deps)
            for d in deps:
                self.deps_.setdefault(d, set())
        for host, services in cfg.hosts.items():
            self.hosts_.add(host)
            self.deps_.setdefault(host, set())
            for s in services:
                self.deps_.setdefault(s, set()).add(host)
        self._declared = set(self.deps_)
        self._dist_cache: dict[tuple[str, str], int | None] = {}
        self._adj: dict[str, set[str]] | None = None
        self._closure: dict[str, frozenset[str]] = {}
        self._parts: set[str] | None = None

    # -- entities -----------------------------------------------------------------
    def entity_of(self, labels: dict[str, str]) -> tuple[str, bool]:
        """(entity, is_host): the service label wins, then node-level alerts name their host,
        then ``job``, then the host of ``instance``."""
        placeholder = {labels.get("metric"), labels.get("__name__")} - {None, ""}
        for key in _SERVICE_LABELS:
            value = labels.get(key)
            if value and value not in placeholder:  # a detector names series without a service by metric
                return value, value in self.hosts_
        host = host_label(labels, self.cfg.host_labels)
        job = labels.get("job", "")
        nodeish = job in self.cfg.host_jobs or bool(_HOSTISH_NAME.match(labels.get("alertname", "")))
        if host and (nodeish or not job):
            return host, True
        if job:
            return job, job in self.hosts_
        return "", False

    def learn(self, labels: dict[str, str], entity: str, is_host: bool) -> bool:
        """Learn where a service runs from its alert's ``host``/``node`` label, or from the host
        part of ``instance`` once that host is known as a node (pod IPs are not hosts). A node
        alert makes its host known. Returns True when the graph changed."""
        if not entity:
            return False
        if is_host:
            if entity in self.hosts_:
                return False
            self.hosts_.add(entity)
            self.deps_.setdefault(entity, set())
            for svc in sorted(self.pending_.pop(entity, ())):
                self.deps_.setdefault(svc, set()).add(entity)
            self._invalidate()
            return True
        for key in self.cfg.host_labels:
            host = host_part(labels.get(key, ""))
            if not host or host == entity:
                continue
            if key == "instance" and host not in self.hosts_:
                if len(self.pending_) < 10_000:
                    self.pending_.setdefault(host, set()).add(entity)
                return False
            if host in self.deps_.get(entity, ()):
                return False
            self.deps_.setdefault(entity, set()).add(host)
            self.deps_.setdefault(host, set())
            self.hosts_.add(host)
            self._invalidate()
            return True
        return False

    def is_host(self, entity: str) -> bool:
        return entity in self.hosts_

    def declared(self, entity: str) -> bool:
        """Whether the operator's graph names ``entity`` (then it also says what it is unrelated to)."""
        return entity in self._declared

    # -- co-occurrence ------------------------------------------------------------
    def learn_cooccurrence(self, entities: set[str]) -> None:
        ents = sorted(e for e in entities if e)
        for i, a in enumerate(ents):
            for b in ents[i + 1 :]:
                k = f"{a}\x00{b}"
                self.cooc_[k] = self.cooc_.get(k, 0) + 1

    def cooccurrence(self, a: str, b: str) -> int:
        a, b = sorted((a, b))
        return self.cooc_.get(f"{a}\x00{b}", 0)

    # -- queries ------------------------------------------------------------------
    def distance(self, a: str, b: str) -> int | None:
        """Hops between two entities over dependency and placement edges (either direction),
        passing *through* a host never: co-location alone is one hop, not a hub."""
        if a == b:
            return 0
        key = (a, b) if a < b else (b, a)
        if key in self._dist_cache:
            return self._dist_cache[key]
        result = None
        if a in self.deps_ and b in self.deps_:
            adj = self._undirected()
            seen = {a: 0}
            q = deque([a])
            while q:
                x = q.popleft()
                if seen[x] >= self.cfg.max_hops or (x != a and x in self.hosts_):
                    continue
                for y in sorted(adj.get(x, ())):
                    if y not in seen:
                        seen[y] = seen[x] + 1
                        if y == b:
                            q.clear()
                            break
                        q.append(y)
            result = seen.get(b)
            if result is not None and result > 1 and (a in self.hosts_ or b in self.hosts_):
                result = None  # a host relates only to what runs on it
        self._dist_cache[key] = result
        return result

    def _invalidate(self) -> None:
        self._dist_cache.clear()
        self._adj = None
        self._closure.clear()
        self._parts = None

    def name_parts(self) -> set[str]:
        """Lower-cased pieces of every known entity name (dropped from alert texts)."""
        if self._parts is None:
            self._parts = {p for e in self.deps_ for p in e.lower().replace("_", "-").split("-") if p}
        return self._parts

    def _undirected(self) -> dict[str, set[str]]:
        if self._adj is not None:
            return self._adj
        adj: dict[str, set[str]] = {}
        for x, ys in self.deps_.items():
            for y in ys:
                adj.setdefault(x, set()).add(y)
                adj.setdefault(y, set()).add(x)
        self._adj = adj
        return adj

    def depends_on(self, a: str, b: str) -> bool:
        """Whether ``a`` (transitively) depends on ``b``: calls it or runs on it."""
        if a == b or a not in self.deps_:
            return False
        closure = self._closure.get(a)
        if closure is None:
            seen: set[str] = set()
            q = deque(self.deps_.get(a, ()))
            while q:
                y = q.popleft()
                if y not in seen:
                    seen.add(y)
                    q.extend(self.deps_.get(y, ()))
            closure = self._closure[a] = frozenset(seen)
        return b in closure

    # -- persistence --------------------------------------------------------------
    def state(self) -> dict:
        learned = {k: sorted(v) for k, v in self.deps_.items() if v}
        return {
            "deps": learned,
            "hosts": sorted(self.hosts_),
            "cooc": dict(self.cooc_),
            "pending": {k: sorted(v) for k, v in self.pending_.items()},
        }

    def load(self, st: dict) -> None:
        for k, v in st.get("deps", {}).items():
            self.deps_.setdefault(k, set()).update(v)
            for d in v:
                self.deps_.setdefault(d, set())
        self.hosts_.update(st.get("hosts", ()))
        self.cooc_ = dict(st.get("cooc", {}))
        self.pending_ = {k: set(v) for k, v in st.get("pending", {}).items()}
        self._invalidate()

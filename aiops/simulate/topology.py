"""Simulated systems: services, the hosts they run on and who calls whom.

The same topology object drives every generated signal (logs, metrics, alerts)
and is written into the scenario's ``[correlate]`` config, so the correlator
sees the graph an operator would have declared.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Service:
    name: str
    kind: str  # web | gateway | app | db | cache | model
    hosts: list[str]  # one entry per replica
    depends_on: list[str] = field(default_factory=list)
    log_format: str = "json"  # json | header
    port: int = 8080

    @property
    def model_endpoint(self) -> bool:
        return self.kind == "model"

    def instances(self) -> list[tuple[str, str]]:
        """(instance label, host) per replica, as Prometheus would label them."""
        seen: dict[str, int] = {}
        out = []
        for h in self.hosts:
            k = seen[h] = seen.get(h, -1) + 1
            out.append((f"{h}:{self.port + k}", h))
        return out


@dataclass
class Topology:
    services: dict[str, Service]
    hosts: list[str]

    def callers(self, name: str) -> list[str]:
        return sorted(s.name for s in self.services.values() if name in s.depends_on)

    def on_host(self, host: str) -> list[str]:
        return sorted(s.name for s in self.services.values() if host in s.hosts)

    def placement(self) -> dict[str, list[str]]:
        return {h: self.on_host(h) for h in self.hosts if self.on_host(h)}

    def upstream_chain(self, root: str) -> dict[str, int]:
        """Services hit by a fault in ``root`` with their hop distance (callers of callers...)."""
        hops = {root: 0}
        frontier = [root]
        while frontier:
            nxt = []
            for s in frontier:
                for c in self.callers(s):
                    if c not in hops:
                        hops[c] = hops[s] + 1
                        nxt.append(c)
            frontier = nxt
        return hops

    def of_kind(self, kind: str) -> list[str]:
        return sorted(s.name for s in self.services.values() if s.kind == kind)

    def correlate_config(self) -> dict:
        """The ``[correlate]`` graph section an operator would write for this system."""
        return {
            "graph": {s.name: sorted(s.depends_on) for s in self.services.values() if s.depends_on},
            "hosts": self.placement(),
            "model_endpoints": self.of_kind("model"),
        }


def shop_topology(with_model: bool = False) -> Topology:
    """The sample system: a small shop on three hosts (plus an ML node when asked)."""
    svc = [
        Service("frontend", "web", ["host-1", "host-2"], ["api-gateway"], "json", 8080),
        Service("api-gateway", "gateway", ["host-1", "host-2"], ["checkout", "payments"], "json", 8081),
        Service("checkout", "app", ["host-1", "host-2"], ["payments", "postgres", "redis"], "json", 8082),
        Service("payments", "app", ["host-2"], ["postgres"], "header", 8083),
        Service("postgres", "db", ["host-3"], [], "header", 5432),
        Service("redis", "cache", ["host-3"], [], "header", 6379),
    ]
    hosts = ["host-1", "host-2", "host-3"]
    if with_model:
        svc[0].depends_on = ["api-gateway", "recommender"]
        svc.append(Service("recommender", "model", ["ml-1", "ml-1"], ["redis"], "json", 8501))
        hosts.append("ml-1")
    return Topology({s.name: s for s in svc}, hosts)


_NAMES = {
    "web": ["frontend", "storefront", "admin-ui", "mobile-bff", "web"],
    "gateway": ["api-gateway", "edge-proxy", "graphql"],
    "app": [
        "checkout",
        "payments",
        "orders",
        "catalog",
        "inventory",
        "shipping",
        "accounts",
        "search",
        "pricing",
        "notifications",
        "cart",
        "reviews",
        "billing",
        "auth",
        "media",
    ],
    "db": ["postgres", "mysql", "orders-db", "accounts-db"],
    "cache": ["redis", "memcached"],
    "model": ["recommender", "fraud-model", "ranker", "embedder"],
}


def random_topology(rng: random.Random, n_services: int) -> Topology:
    """A layered call graph of ``n_services`` services (web -> gateway -> apps -> stores/models)."""
    n = max(6, n_services)
    n_db = max(1, n // 8)
    n_cache = max(1, n // 10)
    n_model = max(1, n // 10)
    n_gw = max(1, n // 12)
    n_web = max(1, n // 10)
    n_app = n - n_db - n_cache - n_model - n_gw - n_web
    counts = {"web": n_web, "gateway": n_gw, "app": n_app, "db": n_db, "cache": n_cache, "model": n_model}
    names: dict[str, list[str]] = {}
    for kind, k in counts.items():
        pool = _NAMES[kind]
        names[kind] = [
            pool[i] if i < len(pool) else f"{pool[i % len(pool)]}-{i // len(pool) + 1}" for i in range(k)
        ]
    n_hosts = max(3, (n + 2) // 3)
    hosts = [f"host-{i + 1}" for i in range(n_hosts)]
    n_ml = max(1, n_model // 2)
    ml_hosts = [f"ml-{i + 1}" for i in range(n_ml)]
    services: dict[str, Service] = {}
    port = 8080
    for kind in ("db", "cache", "model", "app", "gateway", "web"):
        for name in names[kind]:
            if kind == "model":
                placement = [rng.choice(ml_hosts)]
            elif kind in ("db", "cache"):
                placement = [rng.choice(hosts)]
            else:
                placement = sorted(rng.sample(hosts, k=min(len(hosts), rng.choice((1, 2, 2)))))
            deps: list[str] = []
            if kind == "app":
                deps += rng.sample(names["db"], k=1)
                if rng.random() < 0.5:
                    deps += rng.sample(names["cache"], k=1)
                earlier = [s for s in names["app"] if s in services]
                if earlier and rng.random() < 0.6:
                    deps += rng.sample(earlier, k=min(len(earlier), rng.choice((1, 2))))
            elif kind == "gateway":
                deps += rng.sample(names["app"], k=min(len(names["app"]), 4))
            elif kind == "web":
                deps += rng.sample(names["gateway"], k=1)
                deps += rng.sample(names["model"], k=1)
            elif kind == "model" and rng.random() < 0.5:
                deps += rng.sample(names["cache"], k=1)
            fmt = "header" if kind in ("db", "cache") or rng.random() < 0.3 else "json"
            services[name] = Service(name, kind, placement, sorted(set(deps)), fmt, port)
            port += 1
    return Topology(services, hosts + ml_hosts)

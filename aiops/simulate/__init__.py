"""Deterministic scenario generator: the shipped sample scenarios and larger random
ones for benchmarks (``aiops simulate``). Same seed => byte-identical files.

Every scenario is a small production-like system: logs (JSON lines, a header
format, RFC 5424 syslog), metrics (CSV and JSON samples), change events,
Alertmanager webhook bodies produced by emulating Prometheus rules and
Alertmanager grouping over the metrics, and ``truth.json`` naming each fault's
alerts, root cause and owning layer. Formats: ``sample_telemetry/README.md``.
"""

from __future__ import annotations

import random
from datetime import datetime, timezone
from pathlib import Path

from aiops.simulate.faults import BUILDERS, pick_root
from aiops.simulate.scenario import Spec, generate
from aiops.simulate.topology import random_topology, shop_topology

__all__ = ["SHIPPED", "Spec", "generate", "shipped_spec", "random_spec", "simulate"]

_T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)

#: name -> (description, with model endpoint, fault kind, root, start s, duration s, seed)
SHIPPED = {
    "db-pool-exhaustion": (
        "Shop on 3 hosts, 45 min. postgres runs out of connections at 10:21; checkout and payments "
        "time out, api-gateway and frontend return errors. Noise: a flapping status-page probe, "
        "memory blips, a certificate reminder, a batch job failing inside a silenced maintenance "
        "window, routine deploys, Alertmanager re-sends.",
        False,
        "db_pool_exhaustion",
        "postgres",
        1260,
        600,
        11,
    ),
    "bad-deploy": (
        "Shop on 3 hosts, 45 min. checkout is deployed at ~10:24:50 with a bug; its error rate "
        "jumps and the errors spread to api-gateway and frontend until a rollback at 10:33. Same "
        "kinds of noise, including an unrelated routine deploy.",
        False,
        "bad_deploy",
        "checkout",
        1500,
        480,
        12,
    ),
    "node-disk-full": (
        "Shop on 3 hosts, 45 min. A runaway log fills / on host-3 from 10:20; postgres and redis "
        "(on host-3) start failing writes and checkout/payments errors follow.",
        False,
        "disk_fill",
        "host-3",
        1200,
        900,
        13,
    ),
    "model-latency-node-cpu": (
        "Shop with a recommender model endpoint on node ml-1, 45 min. A batch job saturates ml-1's "
        "CPU at 10:22: recommender inference slows and the frontend slows with it (infrastructure).",
        True,
        "node_cpu_saturation",
        "ml-1",
        1320,
        600,
        14,
    ),
    "model-latency-drift": (
        "Shop with a recommender model endpoint, 45 min. Input drift from 10:20 makes the model "
        "slower and less confident; ML monitoring reports drift; the frontend slows (model layer).",
        True,
        "model_drift",
        "recommender",
        1200,
        720,
        15,
    ),
}


def shipped_spec(name: str) -> Spec:
    desc, with_model, kind, root, start, dur, seed = SHIPPED[name]
    return Spec(
        name,
        desc,
        shop_topology(with_model),
        _T0,
        2700.0,
        [(kind, root, float(start), float(dur))],
        seed=seed,
    )


def random_spec(seed: int, services: int, hours: float, log_rate: float = 1.0) -> Spec:
    """A generated system of ``services`` services with a fault every ~45-75 minutes."""
    rng = random.Random(seed)
    topo = random_topology(rng, services)
    duration = hours * 3600.0
    faults = []
    t = rng.uniform(900, 1800)
    kinds = sorted(BUILDERS)
    while t < duration - 900:
        kind = rng.choice(kinds)
        dur = rng.uniform(360, 900)
        faults.append((kind, pick_root(topo, kind, rng), round(t, 1), round(dur, 1)))
        t += dur + rng.uniform(1800, 3600)
    desc = (
        f"Generated system: {len(topo.services)} services on {len(topo.hosts)} hosts, "
        f"{hours:g} h, {len(faults)} faults (seed {seed})."
    )
    return Spec(
        f"sim-{seed}-{services}x{hours:g}h",
        desc,
        topo,
        _T0,
        duration,
        faults,
        seed=seed,
        log_rate=log_rate,
        templates=200,
    )


def simulate(seed: int, services: int, hours: float, out: str | Path, log_rate: float = 1.0) -> dict:
    return generate(random_spec(seed, services, hours, log_rate), Path(out))

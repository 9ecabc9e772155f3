"""Fault kinds: how a real failure moves the metrics, what it writes to the logs,
which change events precede it, and who should own it.

Each builder turns (topology, root, start, duration) into a ``Fault``: metric
impacts that spread from the root to its callers hop by hop (so the alert
cascade arrives in a realistic order), log lines, and events.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from aiops.simulate.signals import Impact
from aiops.simulate.topology import Topology

LAYER_TEAM = {"infrastructure": "SRE", "application": "application team", "model serving": "ML engineering"}


@dataclass
class LogEffect:
    entity: str  # service (app log) or host (syslog)
    start: float
    end: float
    rate: float  # lines per second per replica
    templates: list[tuple[str, str]]  # (level, template); syslog: (level, "app|template")


@dataclass
class Fault:
    id: str
    kind: str
    root: str
    layer: str
    start: float
    end: float
    description: str
    impacts: list[Impact] = field(default_factory=list)
    logs: list[LogEffect] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)  # {"t": seconds, ...event fields}
    generic_alerts: list[dict] = field(default_factory=list)  # ML-monitor style alerts
    affected: set[str] = field(default_factory=set)

    @property
    def team(self) -> str:
        return LAYER_TEAM[self.layer]


def _cascade(
    f: Fault,
    topo: Topology,
    origin: str,
    t0: float,
    rng: random.Random,
    lat: float,
    err: float,
    skip: set[str] = frozenset(),
) -> None:
    """Callers of ``origin`` degrade hop by hop: slower and erroring, attenuated with distance."""
    for svc, hop in sorted(topo.upstream_chain(origin).items(), key=lambda x: (x[1], x[0])):
        if hop == 0 or svc in skip or topo.services[svc].kind not in ("web", "gateway", "app", "model"):
            continue
        start = t0 + hop * rng.uniform(12, 25)
        scale = 1.0 / hop
        f.impacts.append(
            Impact(
                "http_request_duration_seconds_p99",
                svc,
                start,
                f.end,
                "mul",
                1 + (lat - 1) * scale,
                25,
                60,
                f.id,
            )
        )
        if err > 0:
            f.impacts.append(
                Impact("http_requests_error_ratio", svc, start, f.end, "add", err * scale, 25, 60, f.id)
            )
        peers = (
            ", ".join(d for d in topo.services[svc].depends_on if d in f.affected or d == origin) or origin
        )
        f.logs.append(
            LogEffect(
                svc,
                start,
                f.end,
                0.6 * scale,
                [
                    ("ERROR", f"upstream {peers} request failed: timeout after {{dur}}ms path={{path}}"),
                    ("WARN", "Circuit breaker for " + peers + " is HALF_OPEN, {n} calls failed"),
                    ("ERROR", "Request {uuid} failed with status=503 in {dur}ms"),
                ],
            )
        )
        f.affected.add(svc)


def db_pool_exhaustion(
    topo: Topology, root: str, start: float, dur: float, rng: random.Random, fid: str
) -> Fault:
    f = Fault(
        fid,
        "db_pool_exhaustion",
        root,
        "application",
        start,
        start + dur,
        f"{root} runs out of connections (a slow query holds them); callers time out in a cascade",
    )
    f.affected.add(root)
    f.impacts += [
        Impact("db_connections_used_ratio", root, start, f.end, "toward", 0.995, 20, 60, fid),
        Impact("db_query_duration_seconds_p99", root, start, f.end, "mul", 40, 30, 60, fid),
        Impact("db_errors_per_second", root, start + 10, f.end, "add", 25, 20, 60, fid),
    ]
    f.logs.append(
        LogEffect(
            root,
            start + 5,
            f.end,
            1.5,
            [
                (
                    "FATAL",
                    "remaining connection slots are reserved for non-replication superuser connections",
                ),
                ("ERROR", "sorry, too many clients already"),
                ("WARN", "process {n} still waiting for ShareLock on transaction {id} after {dur}ms"),
            ],
        )
    )
    for c in topo.callers(root):
        f.logs.append(
            LogEffect(
                c,
                start + 8,
                f.end,
                1.0,
                [
                    (
                        "ERROR",
                        f"Timeout acquiring connection from pool {root} after {{dur}}ms "
                        "(active=50, idle=0, waiting={n})",
                    ),
                    ("ERROR", "HikariPool-1 - Connection is not available, request timed out after {dur}ms."),
                ],
            )
        )
    _cascade(f, topo, root, start, rng, lat=9.0, err=0.3)
    return f


def bad_deploy(topo: Topology, root: str, start: float, dur: float, rng: random.Random, fid: str) -> Fault:
    f = Fault(
        fid,
        "bad_deploy",
        root,
        "model serving" if topo.services[root].model_endpoint else "application",
        start,
        start + dur,
        f"deploy of {root} introduces a bug; its error rate jumps until rollback",
    )
    old, new = f"v2.{rng.randint(10, 40)}.{rng.randint(0, 9)}", None
    new = old[:-1] + str(int(old[-1]) + 1)
    f.events.append(
        {
            "t": start - rng.uniform(5, 20),
            "type": "deploy",
            "service": root,
            "message": f"Deployed {root} {new} (was {old})",
            "version": new,
            "previous_version": old,
            "tool": "argocd",
            "commit": f"{rng.getrandbits(28):07x}",
        }
    )
    f.events.append(
        {
            "t": f.end + 5,
            "type": "rollback",
            "service": root,
            "message": f"Rolled back {root} to {old}",
            "version": old,
            "tool": "argocd",
        }
    )
    f.affected.add(root)
    f.impacts += [
        Impact("http_requests_error_ratio", root, start, f.end, "add", 0.35, 15, 30, fid),
        Impact("http_request_duration_seconds_p99", root, start, f.end, "mul", 5, 15, 30, fid),
    ]
    f.logs.append(
        LogEffect(
            root,
            start + 2,
            f.end,
            2.0,
            [
                ("ERROR", "Unhandled exception in {cls}.apply: KeyError 'currency' request={uuid}"),
                ("ERROR", "java.lang.NullPointerException at com.shop.{cls}.total({cls}.java:{n})"),
                ("ERROR", "Request {uuid} failed with status=500 in {dur}ms"),
            ],
        )
    )
    _cascade(f, topo, root, start, rng, lat=2.5, err=0.2)
    return f


def disk_fill(topo: Topology, root: str, start: float, dur: float, rng: random.Random, fid: str) -> Fault:
    f = Fault(
        fid,
        "disk_fill",
        root,
        "infrastructure",
        start,
        start + dur,
        f"a runaway log fills / on {root}; services on it start failing writes",
    )
    f.affected.add(root)
    fill = dur * 0.55
    f.impacts.append(
        Impact("node_filesystem_avail_ratio", root, start, f.end, "toward", 0.004, fill, 120, fid)
    )
    f.logs.append(
        LogEffect(
            root,
            start + fill * 0.7,
            f.end,
            0.3,
            [
                ("WARN", "systemd-journald|Disk space is running low, vacuuming journal files"),
                (
                    "ERROR",
                    "kernel|EXT4-fs warning (device sda1): ext4_da_writepages: No space left on device",
                ),
            ],
        )
    )
    for svc in topo.on_host(root):
        s = topo.services[svc]
        t = start + fill * 0.8
        f.affected.add(svc)
        if s.kind == "db":
            f.impacts += [
                Impact("db_errors_per_second", svc, t, f.end, "add", 30, 20, 60, fid),
                Impact("db_query_duration_seconds_p99", svc, t, f.end, "mul", 20, 20, 60, fid),
            ]
            f.logs.append(
                LogEffect(
                    svc,
                    t,
                    f.end,
                    1.2,
                    [
                        ("ERROR", 'could not extend file "base/16384/{id}": No space left on device'),
                        ("PANIC", 'could not write to file "pg_wal/xlogtemp.{n}": No space left on device'),
                    ],
                )
            )
            _cascade(f, topo, svc, t, rng, lat=4.0, err=0.25)
        elif s.kind in ("web", "gateway", "app", "model"):
            f.impacts.append(Impact("http_requests_error_ratio", svc, t, f.end, "add", 0.2, 20, 60, fid))
            f.logs.append(
                LogEffect(
                    svc, t, f.end, 0.8, [("ERROR", "write /var/log/app/{n}.log: no space left on device")]
                )
            )
            _cascade(f, topo, svc, t, rng, lat=2.0, err=0.15)
    return f


def node_cpu(topo: Topology, root: str, start: float, dur: float, rng: random.Random, fid: str) -> Fault:
    f = Fault(
        fid,
        "node_cpu_saturation",
        root,
        "infrastructure",
        start,
        start + dur,
        f"a noisy batch job saturates the CPU of {root}; the model endpoint on it slows down",
    )
    f.affected.add(root)
    f.events.append(
        {
            "t": start - 3,
            "type": "other",
            "host": root,
            "service": "",
            "message": f"batch job feature-backfill-{rng.randint(100, 999)} scheduled on {root}",
            "tool": "airflow",
        }
    )
    f.impacts.append(Impact("node_cpu_utilisation", root, start, f.end, "toward", 0.985, 10, 60, fid))
    f.logs.append(
        LogEffect(
            root,
            start + 30,
            f.end,
            0.2,
            [
                ("WARN", "kernel|sched: RT throttling activated"),
                ("INFO", "kernel|INFO: task python3:{n} blocked for more than 120 seconds."),
            ],
        )
    )
    for svc in topo.on_host(root):
        t = start + rng.uniform(5, 12)
        f.affected.add(svc)
        if topo.services[svc].kind == "model":
            f.impacts.append(
                Impact("model_inference_duration_seconds_p99", svc, t, f.end, "mul", 9, 20, 60, fid)
            )
        f.impacts.append(Impact("http_request_duration_seconds_p99", svc, t, f.end, "mul", 7, 20, 60, fid))
        f.logs.append(
            LogEffect(
                svc,
                t,
                f.end,
                1.0,
                [
                    ("WARN", "inference request {uuid} exceeded deadline: {dur}ms (queue depth {n})"),
                    ("WARN", "worker pool saturated, {n} requests queued"),
                ],
            )
        )
        _cascade(f, topo, svc, t, rng, lat=5.0, err=0.0)
    return f


def model_drift(topo: Topology, root: str, start: float, dur: float, rng: random.Random, fid: str) -> Fault:
    f = Fault(
        fid,
        "model_drift",
        root,
        "model serving",
        start,
        start + dur,
        f"input drift on {root}: larger candidate sets slow inference and confidence drops",
    )
    f.affected.add(root)
    feature = rng.choice(("basket_size", "session_length", "user_embedding_norm", "item_price"))
    psi = round(rng.uniform(0.35, 0.6), 2)
    f.impacts += [
        Impact("model_feature_drift_psi", root, start, f.end, "toward", psi, 30, 120, fid),
        Impact("model_inference_duration_seconds_p99", root, start + 5, f.end, "mul", 7, 20, 60, fid),
        Impact("http_request_duration_seconds_p99", root, start + 5, f.end, "mul", 5, 20, 60, fid),
        Impact("model_prediction_confidence_mean", root, start + 5, f.end, "toward", 0.55, 60, 120, fid),
    ]
    f.events.append(
        {
            "t": start + 25,
            "type": "drift",
            "service": root,
            "tool": "evidently",
            "message": f"data drift detected on feature {feature}: PSI {psi} > 0.25",
            "feature": feature,
            "psi": psi,
            "model": f"{root}-v7",
        }
    )
    f.events.append(
        {
            "t": start + 240,
            "type": "prediction_quality",
            "service": root,
            "tool": "evidently",
            "message": "precision@10 dropped from 0.31 to 0.17 on live traffic",
            "metric": "precision@10",
            "value": 0.17,
            "model": f"{root}-v7",
        }
    )
    f.generic_alerts.append(
        {
            "t": start + 22,
            "end": f.end + 60,
            "labels": {
                "alertname": "ModelFeatureDrift",
                "service": root,
                "severity": "warning",
                "model": f"{root}-v7",
                "feature": feature,
            },
            "annotations": {
                "summary": f"Feature {feature} drifted (PSI {psi})",
                "description": f"Population stability index of {feature} on live traffic "
                f"vs training is {psi}",
            },
        }
    )
    f.logs.append(
        LogEffect(
            root,
            start + 5,
            f.end,
            1.0,
            [
                ("WARN", "inference request {uuid} exceeded deadline: {dur}ms (candidates {n})"),
                ("WARN", "input feature " + feature + " out of training range: value {n}"),
            ],
        )
    )
    _cascade(f, topo, root, start + 5, rng, lat=5.0, err=0.0)
    return f


BUILDERS = {
    "db_pool_exhaustion": db_pool_exhaustion,
    "bad_deploy": bad_deploy,
    "disk_fill": disk_fill,
    "node_cpu_saturation": node_cpu,
    "model_drift": model_drift,
}


def pick_root(topo: Topology, kind: str, rng: random.Random) -> str:
    """A plausible root for a fault kind in ``topo``."""
    if kind == "db_pool_exhaustion":
        return rng.choice(topo.of_kind("db"))
    if kind == "bad_deploy":
        return rng.choice(topo.of_kind("app"))
    if kind == "disk_fill":
        return rng.choice(sorted({h for s in topo.of_kind("db") for h in topo.services[s].hosts}))
    if kind == "node_cpu_saturation":
        return rng.choice(sorted({h for s in topo.of_kind("model") for h in topo.services[s].hosts}))
    return rng.choice(topo.of_kind("model"))

"""Log lines with realistic variety: ~200 templates at Zipf-like frequencies with
IPs, ids, paths and durations as parameters, in JSON-lines, a loghub-style
header format and RFC 5424 syslog.
"""

from __future__ import annotations

import random
from bisect import bisect
from datetime import datetime, timedelta
from itertools import accumulate

HEADER_FORMAT = "<Date> <Time> <Level> <Component>: <Content>"

_ENTITIES = ["order", "user", "cart", "invoice", "session", "product", "shipment", "coupon"]

# (level, template); {E} expands over the entities above, the rest are parameters.
_EXPANDED = [
    ("INFO", "Loaded {E} {id} from cache in {dur}ms"),
    ("INFO", "Created {E} {id} for {user}"),
    ("INFO", "Updated {E} {id} fields=[status,updated_at] version={n}"),
    ("DEBUG", "Cache miss for {E}:{id}, fetching from store"),
    ("INFO", "GET /api/v1/{E}s/{id} 200 {dur}ms"),
    ("INFO", "POST /api/v1/{E}s 201 {dur}ms bytes={size}"),
    ("WARN", "Slow query on {E}s table: {dur}ms rows={n}"),
    ("INFO", "Published {E}.changed event id={uuid} partition={n}"),
    ("DEBUG", "Validating {E} payload of {size} bytes"),
    ("INFO", "Deleted expired {E} {id} after {n} days"),
    ("WARN", "Retrying {E} sync {id} attempt {n}/5"),
    ("INFO", "Indexed {n} {E}s in {dur}ms"),
    ("ERROR", "Failed to serialize {E} {id}: unexpected null in field price"),
    ("INFO", "Evicted {n} {E} entries from local cache"),
    ("DEBUG", "Lock acquired on {E} {id} by worker-{n}"),
    ("INFO", "Batch export of {n} {E}s finished in {dur}ms"),
    ("WARN", "Stale {E} {id} detected, version {n} behind"),
    ("INFO", "Consumer caught up on {E}-events lag={n}"),
    ("INFO", "Hydrated {E} {id} with {n} related records"),
    ("DEBUG", "Skipping {E} {id}: unchanged since {n}s"),
    ("INFO", "Rate limit check passed for {user} on {E} endpoint"),
    ("WARN", "{E} {id} payload exceeds soft limit: {size} bytes"),
    ("INFO", "Archived {n} {E}s to s3://archive/{E}s/{uuid}.parquet"),
    ("INFO", "Reconciled {E} {id} with upstream ledger"),
]
_PLAIN = [
    ("INFO", "Request {uuid} from {ip} completed status={status} in {dur}ms"),
    ("INFO", "Accepted connection from {ip}:{port}"),
    ("INFO", "Closed connection from {ip}:{port} after {dur}ms"),
    ("DEBUG", "Health check OK from {ip}"),
    ("INFO", "GET {path} 200 {dur}ms"),
    ("INFO", "GET {path} 304 {dur}ms"),
    ("WARN", "GET {path} 404 {dur}ms"),
    ("INFO", "User {user} logged in from {ip}"),
    ("INFO", "User {user} logged out"),
    ("WARN", "Invalid token for {user} from {ip}"),
    ("INFO", "GC pause {dur}ms heap={size}"),
    ("INFO", "Flushed {n} metrics to collector"),
    ("DEBUG", "Span {uuid} exported"),
    ("INFO", "Scheduled job sync-{n} started"),
    ("INFO", "Scheduled job sync-{n} finished in {dur}ms"),
    ("WARN", "Connection to {ip}:{port} reset by peer"),
    ("INFO", "Config reloaded, {n} keys changed"),
    ("INFO", "Feature flag new-{n} evaluated true for {user}"),
    ("DEBUG", "Thread pool stats active={n} queued={n}"),
    ("WARN", "Request {uuid} took {dur}ms, above 500ms budget"),
    ("ERROR", "Unexpected EOF reading from {ip}:{port}"),
    ("INFO", "Upstream {ip}:{port} marked healthy"),
    ("INFO", "Retry budget {n}% remaining"),
    ("INFO", "Served static asset {path} bytes={size}"),
    ("DEBUG", "DNS lookup for db-{n}.internal took {dur}ms"),
    ("INFO", "TLS handshake with {ip} completed cipher=TLS_AES_128_GCM_SHA256"),
    ("WARN", "Client {ip} sent malformed header, ignoring"),
    ("INFO", "Queue depth {n} within limits"),
    ("INFO", "Checkpoint {n} written in {dur}ms"),
    ("INFO", "Worker worker-{n} heartbeat"),
]
SYSLOG = [
    ("systemd", "INFO", "Started Session {n} of user deploy."),
    ("systemd", "INFO", "session-{n}.scope: Succeeded."),
    ("sshd", "INFO", "Accepted publickey for deploy from {ip} port {port} ssh2"),
    ("sshd", "INFO", "Disconnected from user deploy {ip} port {port}"),
    ("CRON", "INFO", "(root) CMD (/usr/local/bin/backup.sh --incremental {n})"),
    ("kernel", "INFO", "[{n}.{n}] IPv4: martian source {ip} from {ip}, on dev eth0"),
    ("systemd-timesyncd", "INFO", "Synchronized to time server {ip}:123 (ntp.example.org)."),
    ("containerd", "INFO", "shim disconnected id={uuid}"),
    ("kubelet", "INFO", "Successfully probed container {uuid} liveness"),
    ("dockerd", "WARN", "Health check for container {uuid} took {dur}ms"),
]
_PATHS = ["/", "/static/app.{n}.js", "/img/p/{id}.jpg", "/api/v1/health", "/cart", "/search?q=item{n}"]
_CLASSES = ["OrderService", "PaymentHandler", "CartController", "PricingEngine", "LedgerClient"]


def library(n: int = 200) -> list[tuple[str, str]]:
    """The first ``n`` templates (expanded ones interleaved with plain ones)."""
    exp = [(lvl, t.replace("{E}", e)) for e in _ENTITIES for lvl, t in _EXPANDED]
    lib = _PLAIN + exp
    return lib[:n]


class Renderer:
    """Fills template parameters; one instance per output so it is deterministic per seed."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ips = [f"10.{rng.randint(0, 3)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}" for _ in range(64)]

    def fill(self, template: str, **ctx: str) -> str:
        r = self.rng
        out = []
        i = 0
        while True:
            j = template.find("{", i)
            if j < 0:
                out.append(template[i:])
                return "".join(out)
            k = template.index("}", j)
            out.append(template[i:j])
            out.append(self._param(template[j + 1 : k], r, ctx))
            i = k + 1

    def _param(self, name: str, r: random.Random, ctx: dict) -> str:
        if name in ctx:
            return str(ctx[name])
        if name == "id":
            return str(r.randint(10000, 9999999))
        if name == "dur":
            return str(int(r.lognormvariate(3.0, 0.9)) + 1)
        if name == "n":
            return str(r.randint(1, 200))
        if name == "ip":
            return r.choice(self.ips)
        if name == "port":
            return str(r.randint(1024, 65535))
        if name == "uuid":
            return f"{r.getrandbits(64):016x}"
        if name == "user":
            return f"user_{r.randint(1, 50000)}"
        if name == "size":
            return str(int(r.lognormvariate(7, 1.2)))
        if name == "status":
            return r.choice(("200", "200", "200", "201", "204"))
        if name == "path":
            return self.fill(r.choice(_PATHS))
        if name == "cls":
            return r.choice(_CLASSES)
        return name


class ZipfPicker:
    """Pick templates with frequency ~ 1/rank^s (a few dominate, a long tail is rare)."""

    def __init__(self, templates: list[tuple[str, str]], rng: random.Random, s: float = 1.1) -> None:
        order = list(templates)
        rng.shuffle(order)
        self.templates = order
        self.cum = list(accumulate(1.0 / (i + 1) ** s for i in range(len(order))))

    def pick(self, rng: random.Random) -> tuple[str, str]:
        return self.templates[bisect(self.cum, rng.random() * self.cum[-1])]


def iso_ms(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def json_line(ts: datetime, level: str, service: str, host: str, msg: str, trace: str) -> str:
    import json

    return json.dumps(
        {
            "ts": iso_ms(ts),
            "level": level.lower(),
            "service": service,
            "host": host,
            "msg": msg,
            "trace_id": trace,
        },
        separators=(",", ":"),
    )


def header_line(ts: datetime, level: str, component: str, msg: str) -> str:
    return f"{ts.strftime('%Y-%m-%d %H:%M:%S')}.{ts.microsecond // 1000:03d} {level} {component}: {msg}"


_PRI = {"DEBUG": 7, "INFO": 6, "NOTICE": 5, "WARN": 4, "ERROR": 3, "CRITICAL": 2}


def syslog_line(ts: datetime, host: str, app: str, level: str, msg: str, pid: int) -> str:
    """RFC 5424 (facility daemon=3)."""
    pri = 3 * 8 + _PRI.get(level, 6)
    return f"<{pri}>1 {iso_ms(ts)} {host} {app} {pid} - - {msg}"


def poisson_times(rng: random.Random, start: float, end: float, rate: float) -> list[float]:
    out = []
    if rate <= 0:
        return out
    t = start + rng.expovariate(rate)
    while t < end:
        out.append(t)
        t += rng.expovariate(rate)
    return out


def at(t0: datetime, s: float) -> datetime:
    return t0 + timedelta(seconds=round(s, 3))

"""A deterministic synthetic log with known templates, for template-mining benchmarks.

About 200 templates (40 skeletons, each in a few phrasings and subsystems) drawn
with Zipf-like frequencies, whose parameters are the values real logs carry:
IPv4/IPv6 with ports, host names, user names, hex and UUID ids, block/job ids,
paths and URLs, durations and sizes with units, timestamps, quoted strings,
``key=value`` pairs, status codes. The truth (which template made each line) is
returned too, so grouping accuracy can be measured on it.
"""

from __future__ import annotations

import random
import string
from typing import Callable

SUBSYSTEMS = ("auth", "api", "billing", "cache", "db", "ingest", "kafka", "mailer", "nginx",
              "scheduler", "search", "storage", "worker", "kubelet", "payments")

# {slot} names are filled by VALUE generators; [a|b|c] picks one phrasing per template.
SKELETONS = (
    "Accepted connection from {ip}:{port} on listener {int}",
    "Connection to {host}:{port} [established|closed|reset by peer] after {dur}",
    "User {user} [logged in|logged out|failed to log in] from {ip}",
    "Failed password for {user} from {ip} port {port} ssh2",
    "GET {urlpath} returned {status} in {dur} ({size})",
    "[Started|Finished|Aborted] job {jobid} for tenant {user} in {dur}",
    "Block {blk} [replicated to|deleted from|received from] {ip}:{port} size {int}",
    "Request {uuid} [completed|timed out|was retried] after {dur}",
    "Cache [hit|miss|eviction] for key {hex} in region {word}",
    "Wrote {size} to {path} in {dur}",
    "Reading file {path} ({size})",
    "Session {hex} expired, timeout of {int}ms exceeded",
    "Disk usage on {path} is {pct} ({size} free)",
    "Health check for {host} [passed|failed] status={status} latency={dur}",
    "Scheduled task {quoted} [will run|was skipped|is running] at {ts}",
    "Query {quoted} took {dur} and returned {int} rows",
    "Transaction {hex} [committed|rolled back] with {int} statements",
    "Received {int} messages from partition {int} of topic {word} offset {int}",
    "Consumer group {word} rebalanced: assigned {int} partitions",
    "Pod {podname} in namespace {word} [started|restarted|was OOMKilled|terminated]",
    "Container {hex} exited with code {int}",
    "Retrying request to {url} (attempt {int} of {int})",
    "Rate limit exceeded for client {ip}: {int} requests in {dur}",
    "TLS handshake with {ip6}:{port} failed: {word} certificate",
    "Interface {iface} link [up|down] mac {mac}",
    "Loaded configuration from {path} (version {version})",
    "Backup of {word} to {url} finished, {size} transferred",
    "Memory pressure: heap {size} of {size} used, GC took {dur}",
    "Thread {thread} blocked for {dur} on lock {hex}",
    "Email to {email} [queued|sent|bounced] id={hex}",
    "Payment {uuid} for order {int} amount={money} currency={currency}",
    "Index {word} refreshed: {int} docs, {size}",
    "Node {host} joined the cluster (id {uuid})",
    "Certificate for {host} expires on {date}",
    "Slow request: {method} {urlpath} user={user} took {dur}",
    "Lease {hex} granted to {host} for {dur}",
    "Shard {int} moved from {host} to {host}",
    "Token refresh for {user} [succeeded|failed]: kv={kv}",
    "Heartbeat from {ip}:{port} missed {int} times",
    "Compaction of level {int} produced {int} files, {size} in {dur}",
)

WORDS = ("alpha", "bravo", "orders", "events", "metrics", "users", "sessions", "invoices",
         "audit", "logs", "images", "reports", "profiles", "carts", "tokens")


def _pools(rng: random.Random) -> dict[str, list[str]]:
    syll = ("ka", "lo", "mi", "ra", "sen", "to", "vi", "ne", "jo", "da", "el", "an", "us", "ri")
    users = sorted({"".join(rng.choice(syll) for _ in range(rng.randint(2, 3)))
                    + (str(rng.randint(1, 99)) if rng.random() < 0.3 else "")
                    for _ in range(600)})
    hosts = [f"{rng.choice(('web', 'db', 'node', 'cache', 'api'))}-{rng.randint(1, 99)}."
             f"{rng.choice(('eu-west-1', 'us-east-2', 'prod', 'staging'))}."
             f"{rng.choice(('example.com', 'corp.internal', 'svc.local'))}" for _ in range(300)]
    ips = [".".join(str(rng.randint(1, 254)) for _ in range(4)) for _ in range(5000)]
    return {"user": users, "host": hosts, "ip": ips}


def _values(rng: random.Random, pools: dict[str, list[str]]) -> dict[str, Callable[[], str]]:
    hexd = "0123456789abcdef"

    def hexid(n: int = 16) -> str:
        return "".join(rng.choice(hexd) for _ in range(n))

    def path() -> str:
        parts = [rng.choice(("var", "srv", "data", "opt", "tmp", "home"))]
        parts += [rng.choice(WORDS + ("2024", "shard" + str(rng.randint(0, 31))))
                  for _ in range(rng.randint(1, 4))]
        return "/" + "/".join(parts) + rng.choice(("", ".log", ".json", f".{rng.randint(0, 9)}"))

    def dur() -> str:
        return rng.choice((f"{rng.randint(0, 999)}ms", f"{rng.uniform(0, 60):.2f}s",
                           f"{rng.randint(1, 90)} seconds", f"{rng.randint(1, 5000)}us"))

    def size() -> str:
        return rng.choice((f"{rng.randint(0, 10**7)} bytes", f"{rng.uniform(0, 999):.1f} KB",
                           f"{rng.uniform(0, 99):.2f} MB", f"{rng.randint(1, 64)}GB"))

    return {
        "ip": lambda: rng.choice(pools["ip"]),
        "ip6": lambda: "2001:db8:" + ":".join(hexid(rng.randint(1, 4)) for _ in range(3)),
        "port": lambda: str(rng.randint(1024, 65535)),
        "int": lambda: str(int(10 ** rng.uniform(0, 7))),
        "user": lambda: rng.choice(pools["user"]),
        "host": lambda: rng.choice(pools["host"]),
        "hex": hexid,
        "uuid": lambda: "-".join(hexid(n) for n in (8, 4, 4, 4, 12)),
        "blk": lambda: f"blk_{rng.choice(('', '-'))}{rng.randint(10**17, 10**19)}",
        "jobid": lambda: f"job_{rng.randint(10**12, 10**13)}_{rng.randint(0, 9999):04d}",
        "podname": lambda: f"{rng.choice(WORDS)}-{hexid(10)}-{hexid(5)}",
        "path": path,
        "urlpath": lambda: f"/api/v{rng.randint(1, 3)}/{rng.choice(WORDS)}/{rng.randint(1, 10**6)}",
        "url": lambda: f"https://{rng.choice(pools['host'])}{path()}",
        "dur": dur,
        "size": size,
        "pct": lambda: f"{rng.uniform(0, 100):.1f}%",
        "status": lambda: rng.choice(("200", "201", "204", "301", "400", "403", "404", "500",
                                      "502", "503")),
        "method": lambda: rng.choice(("GET", "POST", "PUT", "DELETE", "PATCH")),
        "quoted": lambda: '"' + " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
                          + '"',
        "ts": lambda: f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
                      f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z",
        "date": lambda: f"{rng.choice(('Jan', 'Mar', 'Jun', 'Oct'))} {rng.randint(1, 28)} "
                        f"{rng.randint(2024, 2027)}",
        "word": lambda: rng.choice(WORDS),
        "iface": lambda: f"eth{rng.randint(0, 3)}",
        "mac": lambda: ":".join(hexid(2) for _ in range(6)),
        "version": lambda: f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 200)}",
        "thread": lambda: f"pool-{rng.randint(1, 9)}-thread-{rng.randint(1, 64)}",
        "email": lambda: f"{rng.choice(pools['user'])}@{rng.choice(('example.com', 'mail.org'))}",
        "money": lambda: f"{rng.uniform(1, 5000):.2f}",
        "currency": lambda: rng.choice(("EUR", "USD")),
        "kv": lambda: f"{rng.choice(WORDS)}:{rng.randint(0, 999)}",
    }


def _templates(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct templates: each skeleton in every phrasing, prefixed by a subsystem."""
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < count:
        skeleton = SKELETONS[len(out) % len(SKELETONS)]
        text = "".join(rng.choice(part.split("|")) if i % 2 else part
                       for i, part in enumerate(skeleton.replace("]", "[").split("[")))
        text = f"{rng.choice(SUBSYSTEMS)}: {text}"
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def synthetic_log(n: int = 1_000_000, templates: int = 200, seed: int = 42,
                  zipf_s: float = 1.1) -> tuple[list[str], list[int]]:
    """``n`` messages and, for each, the index of the template that produced it."""
    rng = random.Random(seed)
    pools = _pools(rng)
    values = _values(rng, pools)
    bank = _templates(rng, templates)
    formatter = string.Formatter()
    compiled = []
    for text in bank:
        parts = [(lit, name) for lit, name, _, _ in formatter.parse(text)]
        compiled.append(parts)
    order = list(range(templates))
    rng.shuffle(order)
    weights = [0.0] * templates
    for rank, index in enumerate(order, 1):
        weights[index] = 1.0 / rank ** zipf_s
    truth = rng.choices(range(templates), weights=weights, k=n)
    lines = []
    append = lines.append
    for t in truth:
        append("".join(lit + (values[name]() if name else "") for lit, name in compiled[t]))
    return lines, truth


if __name__ == "__main__":  # pragma: no cover - a peek at the data
    sample, _ = synthetic_log(20, seed=1)
    print("\n".join(sample))

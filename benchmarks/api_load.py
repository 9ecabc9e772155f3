"""API load: concurrent clients POST 1000-event log batches to a real ``aiops serve``.

Starts ``aiops serve`` on 127.0.0.1 (a free port, a fresh store), then:

1. ``max``: N clients post as fast as they can for ``--duration`` seconds;
   reports accepted events/s, *processed* events/s (until the engine's offset
   reaches the last committed batch), p50/p95/p99 latency, server RSS.
2. ``half``: N clients paced at 50% of the sustainable maximum (the lower of the
   accepted and processed rates).
3. ``single``: one client paced at the same rate (or ``--single-rate``): the
   one-client latency figure.

Each phase runs on a fresh server and store after a short warm-up, so no
processing backlog carries over from one phase to the next.

Every batch is distinct (event time advances, ids change), so nothing is
deduplicated away. Loopback only; nothing is asserted (timings are noisy on a
shared machine: rerun to confirm).

    python benchmarks/api_load.py --clients 4 --duration 20
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 28, 0, 0, tzinfo=timezone.utc)

_WORDS = ["cache", "db", "queue", "auth", "payment", "search", "render", "upload", "session",
          "checkout", "inventory", "shipping", "pricing", "email", "report", "index"]
_VERBS = ["timeout", "retry", "connected", "disconnected", "served", "failed", "started",
          "completed", "rejected", "throttled", "evicted", "flushed"]


def make_templates(n: int = 200, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b = rng.choice(_WORDS), rng.choice(_VERBS)
        shape = i % 5
        if shape == 0:
            out.append(f"{a} request {{id}} {b} in {{ms}} ms")
        elif shape == 1:
            out.append(f"{a} {b} for user {{user}} from {{ip}}")
        elif shape == 2:
            out.append(f"GET /api/{a}/{{id}} {b} status={{code}} bytes={{bytes}}")
        elif shape == 3:
            out.append(f"{a} worker-{i} {b}: queue depth {{n}}")
        else:
            out.append(f"{a} {b} txn={{hex}} after {{ms}}ms (attempt {{n}})")
    return out


class BatchMaker:
    """Pre-renders ``variants`` log batches; each request gets fresh timestamps spliced in."""

    def __init__(self, batch: int, variants: int = 32, services: int = 12, seed: int = 7):
        rng = random.Random(seed)
        templates = make_templates()
        weights = [1.0 / (k + 1) for k in range(len(templates))]  # Zipf-like
        self.batch = batch
        self.parts: list[list[bytes]] = []
        for _ in range(variants):
            pieces: list[bytes] = []
            prefix = b"["
            for j in range(batch):
                t = rng.choices(templates, weights)[0]
                msg = t.format(id=rng.randint(1, 10**6), ms=rng.randint(1, 5000),
                               user=f"u{rng.randint(1, 5000)}",
                               ip=f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                               code=rng.choice([200, 200, 200, 404, 500, 503]),
                               bytes=rng.randint(100, 10**6), n=rng.randint(1, 99),
                               hex=f"{rng.getrandbits(48):012x}")
                level = rng.choices(["INFO", "WARN", "ERROR", "DEBUG"], [80, 10, 5, 5])[0]
                svc = f"svc-{min(int(rng.paretovariate(1.2)), services)}"
                doc = json.dumps({"level": level, "service": svc, "msg": msg,
                                  "host": f"node-{rng.randint(1, 20)}"})
                pieces.append(prefix + b'{"ts":"')
                prefix = b'",' + doc[1:].encode() + (b"," if j < batch - 1 else b"]")
            pieces.append(prefix)
            self.parts.append(pieces)
        self._lock = threading.Lock()
        self._n = 0

    def next(self) -> bytes:
        with self._lock:
            n = self._n
            self._n += 1
        parts = self.parts[n % len(self.parts)]
        base = T0 + timedelta(seconds=n)  # one second of event time per batch
        stamp = base.strftime("%Y-%m-%dT%H:%M:%S")
        step = 1_000_000 // self.batch
        out = [parts[0]]
        for j in range(self.batch):
            out.append(f"{stamp}.{j * step:06d}Z".encode())
            out.append(parts[j + 1])
        return b"".join(out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of the server and its children (the engine process), in MB."""
    total = 0.0
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            pids += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def get_json(port: int, path: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return json.loads(body)


def start_server(port: int, store: str, python: str,
                 config: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("AIOPS_API_TOKENS", None)
    proc = subprocess.Popen([python, "-m", "aiops", "serve", "--host", "127.0.0.1", "--port",
                             str(port), "--store", store, "--log-level", "warning",
                             *(["--config", config] if config else [])],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"aiops serve exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if get_json(port, "/healthz").get("status") == "ok":
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("aiops serve did not start within 30 s")


def client(port: int, maker: BatchMaker, stop_at: float, rate: float | None,
           latencies: list[float], errors: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"}
    interval = 1.0 / rate if rate else 0.0
    next_at = time.perf_counter()
    while True:
        now = time.perf_counter()
        if now >= stop_at:
            break
        if interval:
            if now < next_at:
                time.sleep(next_at - now)
            next_at += interval
        body = maker.next()
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/api/v1/logs", body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
        except OSError as exc:
            errors.append(repr(exc))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            continue
        latencies.append(time.perf_counter() - t0)
        if resp.status != 202:
            errors.append(f"HTTP {resp.status}")
    conn.close()


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * (len(xs) - 1) + 0.5))]


def phase(name: str, port: int, pid: int, maker: BatchMaker, clients: int, duration: float,
          rate: float | None, max_drain: float = 120.0) -> dict:
    before = get_json(port, "/api/v1/status")
    rss0 = rss_mb(pid)
    latencies: list[float] = []
    errors: list[str] = []
    per_client = rate / clients if rate else None
    started = time.perf_counter()
    stop_at = started + duration
    threads = [threading.Thread(target=client, args=(port, maker, stop_at, per_client,
                                                      latencies, errors)) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent_s = time.perf_counter() - started
    drained = True
    while True:  # fully processed: the engine caught up with everything committed
        status = get_json(port, "/api/v1/status")
        if status["processed_offset"] >= status["head_offset"]:
            break
        if time.perf_counter() - started - sent_s > max_drain:
            drained = False
            break
        time.sleep(0.02)
    done_s = time.perf_counter() - started
    events = len(latencies) * maker.batch
    processed = (status["processed_offset"] - before["processed_offset"]) * maker.batch
    result = {
        "phase": name, "clients": clients, "batch": maker.batch,
        "target_requests_per_s": round(rate, 1) if rate else None,
        "requests": len(latencies), "errors": len(errors), "first_errors": errors[:3],
        "accepted_events_per_s": round(events / sent_s),
        "processed_events_per_s": round(processed / done_s),
        "drain_s": round(done_s - sent_s, 2), "drained": drained,
        "p50_ms": round(pct(latencies, 0.50) * 1000, 2),
        "p95_ms": round(pct(latencies, 0.95) * 1000, 2),
        "p99_ms": round(pct(latencies, 0.99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2) if latencies else None,
        "server_rss_mb": [round(rss0, 1), round(rss_mb(pid), 1)],
        "batches_committed": status["head_offset"] - before["head_offset"],
    }
    print(json.dumps(result), file=sys.stderr)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--duration", type=float, default=20.0, help="seconds per phase (<= 30)")
    p.add_argument("--batch", type=int, default=1000, help="events per POST")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of load before measuring")
    p.add_argument("--single-rate", type=float, default=None,
                   help="requests/s of the one-client phase (default: 50%% of the maximum)")
    p.add_argument("--max-drain", type=float, default=120.0,
                   help="stop waiting for processing to catch up after this many seconds")
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--config", metavar="TOML", help="the server's config file (default: none)")
    p.add_argument("--json", metavar="FILE", help="also write the results here")
    p.add_argument("--reads-only", action="store_true",
                   help="only time the read endpoints over 100k alerts / 5k incidents")
    args = p.parse_args(argv)
    if args.reads_only:
        print(json.dumps({"reads": time_reads()}, indent=2))
        return 0
    duration = min(args.duration, 30.0)
    maker = BatchMaker(args.batch)
    def fresh(name: str, clients: int, rate: float | None) -> dict:
        """Each phase on a new server and store, so no backlog carries over."""
        with tempfile.TemporaryDirectory(prefix="aiops-load-") as tmp:
            port = free_port()
            proc = start_server(port, str(Path(tmp) / "load.db"), args.python, args.config)
            try:
                if args.warmup:
                    phase("warmup", port, proc.pid, maker, clients, args.warmup, rate,
                          args.max_drain)
                return phase(name, port, proc.pid, maker, clients, duration, rate,
                             args.max_drain)
            finally:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()

    top = fresh("max", args.clients, None)
    # the sustainable maximum: what was accepted, or processed if that was less
    max_rate = min(top["accepted_events_per_s"], top["processed_events_per_s"]) / maker.batch
    half = fresh("half", args.clients, max_rate / 2)
    single = fresh("single", 1, args.single_rate or max_rate / 2)
    results = {"max": top, "half": half, "single": single, "reads": time_reads(),
               "targets": {"processed_events_per_s": 75_000, "p99_ms_single": 25,
                           "p99_ms_4_clients": 60, "reads_ms": 100}}
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return 0



# -- reads: dashboards and lists over a large store ---------------------------------------------
def synthetic_store(store, n_incidents: int = 5000, alerts_per_incident: int = 20,
                    seed: int = 3) -> dict:
    """Fill ``store`` with incidents, their alerts (some suppressed) and signal counts.

    Returns the expectations tests check the read API against.
    """
    from aiops.schema import iso

    rng = random.Random(seed)
    services = [f"svc-{k}" for k in range(25)]
    layers = ["infrastructure", "application", "model"]
    severities = ["info", "warning", "error", "critical"]
    incidents, alerts = [], []
    signals: dict = {}
    for i in range(n_incidents):
        opened = T0 + timedelta(minutes=7 * i)
        svc = services[i % len(services)]
        status = ("open", "acknowledged", "resolved", "resolved")[i % 4]
        iid = f"INC-{i + 1:05d}"
        evidence = []
        for k in range(alerts_per_incident):
            labels = {"alertname": f"Alert{k % 7}", "service": svc,
                      "severity": severities[k % 4]}
            fp = f"{i:08x}{k:08x}"
            starts = opened - timedelta(seconds=30) + timedelta(seconds=5 * k)
            aid = f"{fp}@{iso(starts)}"
            suppressed = ("silenced", "inhibited", "flapping", "transient")[k % 4] \
                if k >= alerts_per_incident - 2 else None
            alerts.append({"id": aid, "fingerprint": fp, "labels": labels, "annotations": {},
                           "status": "resolved" if status == "resolved" else "firing",
                           "starts_at": iso(starts), "ends_at": None, "source": "generic",
                           "severity": labels["severity"], "service": svc,
                           "incident_id": None if suppressed else iid,
                           "suppressed": suppressed, "repeats": k % 3})
            if not suppressed:
                evidence.append({"id": aid, "rule": "same_service" if k else "first",
                                 "score": 1.0, "matched": None})
        ack = opened + timedelta(seconds=120) if status != "open" else None
        resolved = opened + timedelta(seconds=900) if status == "resolved" else None
        incidents.append({
            "id": iid, "status": status, "opened_at": iso(opened),
            "acknowledged_at": iso(ack), "resolved_at": iso(resolved),
            "severity": severities[i % 4], "services": [svc], "title": f"Alert0 on {svc}",
            "root_cause": {"service": svc, "alert_id": evidence[0]["id"], "reason": "first"},
            "owner": {"layer": layers[i % 3], "team": "sre"}, "alerts": evidence,
            "timeline": [{"at": iso(opened), "event": "opened"}]})
        hour = opened.strftime("%Y-%m-%dT%H:00:00Z")
        for kind, n in (("log", 900), ("metric", 300), ("alert", alerts_per_incident)):
            key = (hour, kind, svc)
            signals[key] = signals.get(key, 0) + n + rng.randint(0, 10)
    store.save_checkpoint(0, {}, alerts=alerts, incidents=incidents, signals=signals)
    return {"incidents": incidents, "alerts": alerts, "signals": signals}


def time_reads(repeat: int = 5) -> dict:
    """Median and worst milliseconds of each read endpoint over 100k alerts / 5k incidents."""
    import warnings

    warnings.filterwarnings("ignore")
    sys.path.insert(0, str(ROOT))
    from fastapi.testclient import TestClient

    from aiops.config import Config
    from aiops.store import open_store
    from api import create_app

    with tempfile.TemporaryDirectory(prefix="aiops-reads-") as tmp:
        store = open_store(str(Path(tmp) / "reads.db"))
        synthetic_store(store)
        config = Config(api={"worker": "thread"})
        paths = ["/api/v1/dashboards/incidents", "/api/v1/dashboards/alert-reduction",
                 "/api/v1/incidents", "/api/v1/incidents?status=open&limit=100",
                 "/api/v1/incidents?service=svc-3&severity=critical",
                 "/api/v1/alerts?limit=1000", "/api/v1/alerts?service=svc-3&limit=1000",
                 "/api/v1/incidents/INC-02500", "/api/v1/templates"]
        out = {}
        with TestClient(create_app(config, store)) as c:
            for path in paths:
                times = []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    resp = c.get(path)
                    times.append((time.perf_counter() - t0) * 1000)
                    assert resp.status_code == 200, resp.text
                times.sort()
                out[path] = {"median_ms": round(times[len(times) // 2], 2),
                             "max_ms": round(times[-1], 2)}
            t0 = time.perf_counter()
            resp = c.get("/api/v1/alerts?limit=100000")
            out["/api/v1/alerts?limit=100000"] = {
                "median_ms": round((time.perf_counter() - t0) * 1000, 2),
                "items": resp.json()["count"]}
    return out


if __name__ == "__main__":
    sys.exit(main())

"""Assemble a scenario (topology + faults + noise) and write its directory:
``scenario.toml``, ``logs/``, ``metrics/``, ``events/``, ``alerts/`` and ``truth.json``.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from aiops.schema import fingerprint, iso
from aiops.simulate import logs as L
from aiops.simulate.alerting import alertmanager_bodies, evaluate_rules, go_time
from aiops.simulate.faults import BUILDERS, Fault
from aiops.simulate.noise import DIRECT_RULES, NOISE_KIND, background, standard_rules
from aiops.simulate.signals import SCRAPE, attach, series_for
from aiops.simulate.tomlw import dumps as toml_dumps
from aiops.simulate.topology import Topology

#: How the evaluator attributes detector alerts (which can't be listed in advance) to faults.
DETECTOR_WINDOW = {"before_s": 120, "after_s": 300}


@dataclass
class Spec:
    name: str
    description: str
    topology: Topology
    start: datetime
    duration: float  # seconds
    faults: list[tuple[str, str, float, float]]  # (kind, root, start_s, duration_s)
    seed: int = 1
    log_rate: float = 0.35  # background lines/s per replica
    templates: int = 80  # size of the template library the services draw from
    noise: bool = True
    extra_correlate: dict = field(default_factory=dict)


def generate(spec: Spec, out: Path) -> dict:
    """Write the scenario for ``spec`` into ``out``; returns the truth dict."""
    rng = random.Random(spec.seed)
    topo, t0 = spec.topology, spec.start
    faults: list[Fault] = []
    for i, (kind, root, fs, fd) in enumerate(spec.faults):
        faults.append(BUILDERS[kind](topo, root, fs, fd, random.Random(spec.seed * 1000 + i), f"F{i + 1}"))
    series = series_for(topo, rng)
    noise = background(topo, rng, spec.duration) if spec.noise else None
    if noise:
        series += noise.series
        attach(series, noise.impacts)
    attach(series, [imp for f in faults for imp in f.impacts])
    for s in series:
        s.render(spec.duration, rng)
    instances = sorted(
        evaluate_rules(standard_rules(), series, spec.duration),
        key=lambda a: (a.fired_at, sorted(a.labels.items())),
    )
    for a in instances:
        if not a.fault:
            a.noise = NOISE_KIND.get(a.labels["alertname"], "background")
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("logs", "metrics", "events", "alerts"):
        (out / sub).mkdir(exist_ok=True)
    inputs: list[dict] = []
    inputs += _write_logs(spec, faults, rng, out)
    inputs += _write_metrics(series, t0, out)
    events = [e for f in faults for e in f.events] + (noise.events if noise else [])
    inputs += _write_events(events, t0, out)
    direct = [a for a in instances if a.labels["alertname"] in DIRECT_RULES]
    routed = [a for a in instances if a.labels["alertname"] not in DIRECT_RULES]
    bodies = alertmanager_bodies(routed, t0, ("alertname", "service"), repeat_interval=1200)
    with open(out / "alerts" / "alertmanager.ndjson", "w") as fh:
        for _, body in bodies:
            fh.write(json.dumps(body, separators=(",", ":")) + "\n")
    inputs.append({"path": "alerts/alertmanager.ndjson", "kind": "alert", "format": "alertmanager"})
    for a in direct:
        a.visible = True
    if direct:
        _write_generic(
            out / "alerts" / "uptime.ndjson",
            t0,
            [(a.labels, a.annotations, a.fired_at, a.resolved_at or spec.duration + 600, 0) for a in direct],
        )
        inputs.append({"path": "alerts/uptime.ndjson", "kind": "alert", "format": "generic"})
    ml = [
        (g["labels"], g["annotations"], g["t"], g["end"], 300.0, f.id)
        for f in faults
        for g in f.generic_alerts
    ]
    generic = []
    if ml:
        _write_generic(out / "alerts" / "ml-monitor.ndjson", t0, [m[:5] for m in ml])
        inputs.append({"path": "alerts/ml-monitor.ndjson", "kind": "alert", "format": "generic"})
        generic = [
            (
                m[5],
                {
                    "fingerprint": fingerprint(m[0]),
                    "startsAt": go_time(L.at(t0, m[2])),
                    "alertname": m[0]["alertname"],
                    "service": m[0].get("service", ""),
                },
            )
            for m in ml
        ]
    truth = _truth(spec, faults, instances, generic)
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    silences = [
        {
            "matchers": s["matchers"],
            "starts_at": iso(t0 + timedelta(seconds=round(s["start_s"]))),
            "ends_at": iso(t0 + timedelta(seconds=round(s["end_s"]))),
            "created_by": s["created_by"],
            "comment": s["comment"],
        }
        for s in (noise.silences if noise else [])
    ]
    correlate = {**topo.correlate_config(), **spec.extra_correlate}
    if silences:
        correlate["silences"] = silences
    doc = {
        "scenario": {
            "name": spec.name,
            "description": spec.description,
            "seed": spec.seed,
            "start": iso(t0),
            "end": iso(t0 + timedelta(seconds=spec.duration)),
        },
        "inputs": inputs,
        "correlate": correlate,
    }
    detect = detect_config(spec.duration)
    if detect:
        doc["detect"] = detect
    (out / "scenario.toml").write_text(toml_dumps(doc))
    return truth


def detect_config(duration: float) -> dict:
    """Detector warm-ups that fit a short scenario: the defaults learn for an hour of logs
    and 750 metric points (~3 h at a 15 s scrape), longer than a scenario of an hour or
    less lasts; such a scenario learns its first third, so its detector alerts show.
    Longer ones (and real deployments) keep the defaults."""
    if duration > 3600:
        return {}
    lead = duration / 3
    return {"logs": {"warmup_windows": max(8, min(60, int(lead // 60)))},
            "metrics": {"warmup": max(40, int(lead // SCRAPE))}}


def _write_logs(spec: Spec, faults: list[Fault], rng: random.Random, out: Path) -> list[dict]:
    topo, t0 = spec.topology, spec.start
    lib = L.library(spec.templates)
    render = L.Renderer(rng)
    json_lines: list[tuple[float, str]] = []
    header: dict[str, list[tuple[float, str]]] = {}
    syslog: list[tuple[float, str]] = []
    effects = [e for f in faults for e in f.logs]
    for s in topo.services.values():
        picker = L.ZipfPicker(rng.sample(lib, k=min(len(lib), max(15, len(lib) // 3))), rng)
        for _inst, host in s.instances():
            lines = [(t, *picker.pick(rng)) for t in L.poisson_times(rng, 0, spec.duration, spec.log_rate)]
            for e in effects:
                if e.entity == s.name:
                    lines += [
                        (t, *rng.choice(e.templates)) for t in L.poisson_times(rng, e.start, e.end, e.rate)
                    ]
            lines.sort(key=lambda x: x[0])
            for t, level, tpl in lines:
                ts = L.at(t0, t)
                msg = render.fill(tpl)
                if s.log_format == "json":
                    json_lines.append(
                        (t, L.json_line(ts, level, s.name, host, msg, f"{rng.getrandbits(64):016x}"))
                    )
                else:
                    comp = f"{s.name}.{rng.choice(('api', 'db', 'worker', 'main'))}"
                    header.setdefault(s.name, []).append((t, L.header_line(ts, level, comp, msg)))
    for h in topo.hosts:
        pid = {}
        lines = [(t, *rng.choice(L.SYSLOG)) for t in L.poisson_times(rng, 0, spec.duration, 0.04)]
        for e in effects:
            if e.entity == h:
                for t in L.poisson_times(rng, e.start, e.end, e.rate):
                    level, text = rng.choice(e.templates)
                    app, tpl = text.split("|", 1)
                    lines.append((t, app, level, tpl))
        for t, app, level, tpl in sorted(lines, key=lambda x: x[0]):
            pid.setdefault(app, rng.randint(300, 30000))
            syslog.append((t, L.syslog_line(L.at(t0, t), h, app, level, render.fill(tpl), pid[app])))
    inputs = []
    _dump(out / "logs" / "app.jsonl", json_lines)
    inputs.append({"path": "logs/app.jsonl", "kind": "log", "format": "json"})
    for svc in sorted(header):
        _dump(out / "logs" / f"{svc}.log", header[svc])
        inputs.append(
            {
                "path": f"logs/{svc}.log",
                "kind": "log",
                "format": L.HEADER_FORMAT,
                "service": svc,
                "timezone": "UTC",
            }
        )
    _dump(out / "logs" / "syslog.log", syslog)
    inputs.append({"path": "logs/syslog.log", "kind": "log", "format": "syslog"})
    return inputs


def _dump(path: Path, lines: list[tuple[float, str]]) -> None:
    lines.sort(key=lambda x: x[0])
    with open(path, "w") as fh:
        fh.writelines(line + "\n" for _, line in lines)


def _write_metrics(series, t0: datetime, out: Path) -> list[dict]:
    """App metrics: one CSV per metric (timestamp,value,<label columns>); node metrics: JSON samples."""
    inputs = []
    by_name: dict[str, list] = {}
    for s in series:
        if s.fmt == "csv":
            by_name.setdefault(s.metric, []).append(s)
    for name in sorted(by_name):
        group = by_name[name]
        cols = sorted({k for s in group for k in s.labels})
        rows = []
        for s in group:
            for t, v in zip(s.times, s.values):
                rows.append((t, [L.iso_ms(L.at(t0, t)), f"{v:.6g}"] + [s.labels.get(c, "") for c in cols]))
        rows.sort(key=lambda r: r[0])
        with open(out / "metrics" / f"{name}.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["timestamp", "value"] + cols)
            w.writerows(r for _, r in rows)
        inputs.append({"path": f"metrics/{name}.csv", "kind": "metric", "format": "csv"})
    samples = []
    for s in series:
        if s.fmt == "json":
            for t, v in zip(s.times, s.values):
                samples.append(
                    (
                        t,
                        json.dumps(
                            {
                                "ts": L.iso_ms(L.at(t0, t)),
                                "name": s.metric,
                                "value": round(v, 6),
                                "labels": s.labels,
                            },
                            separators=(",", ":"),
                        ),
                    )
                )
    if samples:
        _dump(out / "metrics" / "node.jsonl", samples)
        inputs.append({"path": "metrics/node.jsonl", "kind": "metric", "format": "json"})
    return inputs


def _write_events(events: list[dict], t0: datetime, out: Path) -> list[dict]:
    rows = []
    for e in events:
        row = {"ts": L.iso_ms(L.at(t0, e["t"]))}
        for k, v in e.items():
            if k == "until_s":
                row["until"] = L.iso_ms(L.at(t0, v))
            elif k != "t" and v != "":
                row[k] = v
        rows.append((e["t"], json.dumps(row, separators=(",", ":"))))
    _dump(out / "events" / "changes.ndjson", rows)
    return [{"path": "events/changes.ndjson", "kind": "event", "format": "json"}]


def _write_generic(path: Path, t0: datetime, items: list) -> None:
    """Alerts posted straight to aiops in the generic format (an uptime checker, ML monitoring):
    a firing post at start (re-posted every ``repeat`` seconds while firing when > 0), then a
    resolved post with ``endsAt``."""
    posts = []
    for labels, notes, start, end, repeat in items:
        base = {"labels": labels, "annotations": notes, "startsAt": go_time(L.at(t0, start))}
        t = start
        while t < end:
            posts.append((t, json.dumps({**base, "status": "firing"}, separators=(",", ":"))))
            if repeat <= 0:
                break
            t += repeat
        posts.append(
            (
                end,
                json.dumps(
                    {**base, "status": "resolved", "endsAt": go_time(L.at(t0, end))}, separators=(",", ":")
                ),
            )
        )
    _dump(path, posts)


def _truth(spec: Spec, faults: list[Fault], instances, generic) -> dict:
    t0 = spec.start

    def ref(a) -> dict:
        return {
            "fingerprint": a.fingerprint,
            "startsAt": go_time(L.at(t0, a.fired_at)),
            "alertname": a.labels["alertname"],
            "service": a.labels.get("service") or a.labels.get("instance", "").split(":")[0],
        }

    out_faults = []
    for f in faults:
        alerts = [ref(a) for a in instances if a.fault == f.id and a.visible]
        alerts += [r for fid, r in generic if fid == f.id]
        out_faults.append(
            {
                "id": f.id,
                "kind": f.kind,
                "description": f.description,
                "start": iso(L.at(t0, f.start)),
                "end": iso(L.at(t0, f.end)),
                "root_cause": f.root,
                "layer": f.layer,
                "team": f.team,
                "services": sorted(f.affected),
                "alerts": alerts,
            }
        )
    noise = [{**ref(a), "kind": a.noise} for a in instances if not a.fault and a.visible]
    return {
        "format": 1,
        "scenario": spec.name,
        "description": spec.description,
        "start": iso(t0),
        "end": iso(t0 + timedelta(seconds=spec.duration)),
        "detector_window": DETECTOR_WINDOW,
        "faults": out_faults,
        "noise": noise,
    }

"""``aiops detect``: run the anomaly detectors over files and show scores and alerts.

    aiops detect metrics FILE... [--scores-out scores.csv] [--set key=value ...]
    aiops detect logs FILE... --log-format FMT [--session-id REGEX] [--scores-out scores.csv]

Alerts are printed as JSON lines on stdout (firing and resolved). ``--scores-out``
writes one row per input point (metrics: ``timestamp,value,score,is_anomaly``,
with a leading ``series`` column when there are several series), per window (logs)
or per session (``--session-id``). The first points of a series only train, so
their score is empty. The same detector code runs inside ``aiops replay``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

import orjson

from aiops.cli.common import guarded
from aiops.detect import LogDetector, MetricDetector, SessionDetector
from aiops.schema import UTC, Alert, LogRecord, MetricSample, event_time, iso
from aiops.templates import build_miner
from ingest.errors import ErrorPolicy, ParseError
from ingest.files import read_input
from ingest.scenario import load_inputs


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "detect", help="score metric or log files for anomalies, print alerts",
        description="Run the IsolationForest detectors over files: per-point/window/session "
                    "scores to CSV, alerts as JSON lines.")
    sub = p.add_subparsers(dest="detect_kind", metavar="KIND", required=True)
    m = sub.add_parser("metrics", help="metric series (CSV timestamp,value, JSON, Prometheus)")
    m.add_argument("files", nargs="+", metavar="FILE")
    m.add_argument("--warmup", default="auto",
                   help="training points per series; 'auto' = min(15%% of the series, 750)")
    _common(m)
    m.set_defaults(func=guarded(run_metrics))
    lg = sub.add_parser("logs", help="log files: template windows, or sessions")
    lg.add_argument("files", nargs="+", metavar="FILE")
    lg.add_argument("--log-format", metavar="FMT",
                    help="log layout, e.g. '<Date> <Time> <Level> <Component>: <Content>'")
    lg.add_argument("--service", default="", help="service name for lines that carry none")
    lg.add_argument("--session-id", metavar="REGEX",
                    help="session mode: group lines by this id (e.g. 'blk_-?\\d+')")
    _common(lg)
    lg.set_defaults(func=guarded(run_logs))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scores-out", metavar="CSV", help="write every score to this CSV file")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="detector parameter (as in [detect.metrics] / [detect.logs] / "
                        "[detect.sessions]), repeatable, e.g. --set budget=0.001")


def _params(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"error: --set expects KEY=VALUE, got {pair!r}")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value
    return out


def _emit(alerts: Iterable[Alert], out=None) -> int:
    out = out or sys.stdout.buffer
    n = 0
    for a in alerts:
        row = {"status": a.status, "labels": a.labels, "annotations": a.annotations,
               "startsAt": iso(a.starts_at), "endsAt": iso(a.ends_at), "source": a.source,
               "severity": a.severity, "fingerprint": a.fingerprint}
        out.write(orjson.dumps(row) + b"\n")
        n += 1
    out.flush()
    return n


def _build(cls, params: dict[str, Any]):
    try:
        return cls(**params)
    except TypeError as exc:
        raise SystemExit(f"error: {cls.__name__}: {exc}") from None


# -- metrics ----------------------------------------------------------------
def run_metrics(args: argparse.Namespace) -> int:
    params = _params(args.set)
    series: dict[str, list[MetricSample]] = {}
    for path in args.files:
        for r in read_records(path, "metric"):
            series.setdefault(r.series, []).append(r)
    rows: list[tuple] = []
    alerts: list[Alert] = []

    def sink(key, ts, values, scores, firing):
        for t, v, s, f in zip(ts, values, scores, firing):
            rows.append((key, t, v, s, f))

    for samples in series.values():
        warmup = (min(int(0.15 * len(samples)), 750) if args.warmup == "auto"
                  else int(args.warmup))
        det = _build(MetricDetector, {"warmup": max(warmup, 16), **params})
        det.score_sink = sink
        alerts += det.observe(samples, samples[-1].ts)
        alerts += det.flush(max(s.ts for s in samples))
    alerts.sort(key=lambda a: (a.ts, a.status))
    if args.scores_out:
        many = len(series) > 1
        with open(args.scores_out, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow((["series"] if many else []) + ["timestamp", "value", "score",
                                                       "is_anomaly"])
            for key, t, v, s, f in rows:
                w.writerow(([key] if many else []) + [_ts(t), repr(float(v)),
                                                      "" if s != s else f"{s:.6f}", int(f)])
    _emit(alerts)
    print(f"{sum(len(s) for s in series.values())} points in {len(series)} series, "
          f"{sum(a.status == 'firing' for a in alerts)} anomaly episodes", file=sys.stderr)
    return 0


def _ts(t: float) -> str:
    return iso(datetime.fromtimestamp(t, UTC))


# -- logs -------------------------------------------------------------------
def run_logs(args: argparse.Namespace) -> int:
    params = _params(args.set)
    records: list[LogRecord] = []
    for path in args.files:
        records.extend(read_records(path, "log", args.log_format, args.service))
    records.sort(key=event_time)
    _mine(records)
    rows: list[tuple] = []
    if args.session_id:
        det = _build(SessionDetector, {"id_pattern": args.session_id, **params})
        det.score_sink = lambda sid, first, last, n, s: rows.append(
            (sid, _ts(first), _ts(last), n, f"{s:.6f}", int(s > 1.0)))
        header = ["session", "first", "last", "lines", "score", "is_anomaly"]
    else:
        det = _build(LogDetector, params)
        det.score_sink = lambda src, a, b, n, s, f: rows.append(
            (src, _ts(a), _ts(b), n, f"{s:.6f}", int(f)))
        header = ["source", "window_start", "window_end", "lines", "score", "is_anomaly"]
    alerts: list[Alert] = []
    if records:
        step = 10000
        for i in range(0, len(records), step):
            chunk = records[i:i + step]
            alerts += det.observe(chunk, chunk[-1].ts)
        alerts += det.flush(records[-1].ts)
    alerts.sort(key=lambda a: (a.ts, a.status))
    if args.scores_out:
        with open(args.scores_out, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)
    _emit(alerts)
    what = "sessions" if args.session_id else "windows"
    print(f"{len(records)} lines, {len(rows)} {what} scored, "
          f"{sum(a.status == 'firing' for a in alerts)} alerts fired", file=sys.stderr)
    return 0


def _mine(records: list[LogRecord]) -> None:
    """Template ids from the project's miner, as the engine would assign them."""
    build_miner({}).mine(records)


# -- reading ----------------------------------------------------------------
def read_records(path: str, kind: str, log_format: str | None = None,
                 service: str = "") -> list:
    """Records of one file through the project's ``ingest`` readers; what they rejected is
    said on stderr (the count and the first errors), never dropped quietly."""
    if path != "-" and Path(path).is_dir():
        raise ParseError("a file (give the files of a directory one by one)", source=path,
                         field="path")
    (spec,), _ = load_inputs(path)  # '-' and named pipes spooled; a missing path said so
    spec.kind, spec.service = kind, service
    spec.format = log_format if kind == "log" else None
    policy = ErrorPolicy(strict=False)
    records = list(read_input(spec, policy))
    if policy.count:
        print(f"{spec.label}: rejected {policy.count} line(s); first: "
              f"{'; '.join(str(e) for e in policy.first[:3])}", file=sys.stderr)
    return records

"""``aiops simulate``: write deterministic scenario directories (formats: sample_telemetry/README.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from aiops.cli.common import above_zero, at_least


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "simulate",
        help="generate a scenario directory (logs, metrics, events, alerts, truth.json)",
        description="Generate a deterministic scenario: a random system of K services over H hours with a "
        "fault every ~45-75 min, or one of the shipped sample scenarios (--scenario).",
    )
    p.add_argument("--seed", type=int, default=1, help="random seed; same seed => identical files")
    p.add_argument("--services", type=at_least(6), default=12,
                   help="number of services (>= 6)")
    p.add_argument("--hours", type=above_zero, default=2.0,
                   help="duration in hours of event time")
    p.add_argument(
        "--log-rate",
        type=above_zero,
        default=1.0,
        help="background log lines per second per service replica (1M lines: see README)",
    )
    p.add_argument(
        "--scenario", default=None, help="write a shipped scenario instead (name, or 'all' into OUT/<name>/)"
    )
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from aiops.simulate import SHIPPED, generate, shipped_spec, simulate

    out = Path(args.out)
    if args.scenario:
        names = sorted(SHIPPED) if args.scenario == "all" else [args.scenario]
        unknown = [n for n in names if n not in SHIPPED]
        if unknown:
            print(f"unknown scenario {unknown[0]!r}; known: {', '.join(sorted(SHIPPED))}", file=sys.stderr)
            return 2
        summary = {}
        for name in names:
            target = out / name if args.scenario == "all" else out
            truth = generate(shipped_spec(name), target)
            summary[name] = _summary(truth, target)
    else:
        truth = simulate(args.seed, args.services, args.hours, out, log_rate=args.log_rate)
        summary = _summary(truth, out)
    print(json.dumps(summary, indent=2))
    return 0


def _summary(truth: dict, out: Path) -> dict:
    lines = sum(1 for f in (out / "logs").iterdir() for _ in open(f))
    return {
        "out": str(out),
        "faults": len(truth["faults"]),
        "fault_alerts": sum(len(f["alerts"]) for f in truth["faults"]),
        "noise_alerts": len(truth["noise"]),
        "log_lines": lines,
    }

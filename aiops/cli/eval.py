"""``aiops eval SCENARIO_DIR...``: replay a scenario through the real engine (ingest ->
templates -> detect -> correlate -> store) and score the incidents against its
``truth.json``: pair precision/recall/F1, noise reduction, MTTD, root-cause and
owning-layer accuracy (rules: sample_telemetry/README.md).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from aiops.cli.common import emit_json, guarded, resolve_inputs
from aiops.engine import Engine
from aiops.evaluate import Truth, TruthError, score
from aiops.replay import batches
from aiops.runtime import FreezeSurvivors
from aiops.store import open_store
from ingest.errors import ParseError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="score correlation on scenario directories against truth.json",
        description="Replay each scenario through the engine and print JSON scores: "
        "pair precision/recall/F1 of alert->incident grouping, noise "
        "reduction, MTTD vs fault start, root-cause and owning-layer accuracy.",
    )
    p.add_argument("paths", nargs="+", metavar="SCENARIO_DIR", help="directories with truth.json")
    p.add_argument("--config", metavar="FILE", help="aiops TOML config (overrides a scenario's)")
    p.add_argument("--store", metavar="PATH", help="keep the SQLite store here (one scenario only)")
    p.add_argument("--details", action="store_true", help="also list every mapped incident")
    p.set_defaults(func=guarded(run))


def evaluate_dir(path: str | Path, config: str | None = None, store: str | None = None) -> dict:
    """Replay one scenario directory and score it."""
    path = Path(path)
    truth_path = path / "truth.json"
    if not truth_path.exists():
        raise FileNotFoundError(2, "no truth.json in scenario directory", str(truth_path))
    try:  # checked before the replay, not after it
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        Truth(truth)
    except json.JSONDecodeError as exc:
        raise ParseError(f"a JSON document ({exc})", source=str(truth_path)) from None
    except TruthError as exc:
        raise ParseError(f"{exc.expected} (the shape aiops simulate writes)",
                         source=str(truth_path), field=exc.field, got=exc.got) from None
    args = SimpleNamespace(
        paths=[str(path)], config=config, log_format=None, service="", timezone=None, year=None
    )
    inputs = resolve_inputs(args)
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(inputs.config, open_store(store or Path(tmp) / "eval.db"))
        try:
            started = time.perf_counter()
            gc_policy = FreezeSurvivors()
            for batch in batches(inputs.stream(strict=False, keep_original=False), 5000):
                engine.process(batch)
                gc_policy.after_batch()
                del batch  # before the next is read
            engine.flush()
            elapsed = time.perf_counter() - started
            alerts = list(engine.store.documents("alerts", order="id"))
            incidents = list(engine.store.documents("incidents", order="id"))
            raw = sum(engine.summary()["records"].values())
        finally:  # the store is released whatever ends the run (its directory goes next)
            engine.close()
    result = score(alerts, incidents, truth, raw_signals=raw)
    result["path"] = str(path)
    result["elapsed_s"] = round(elapsed, 3)
    return result


def run(args: argparse.Namespace) -> int:
    if args.store and len(args.paths) > 1:
        raise FileNotFoundError(2, "--store takes one scenario", args.store)
    results = []
    for p in args.paths:
        r = evaluate_dir(p, args.config, args.store)
        if not args.details:
            r.pop("incidents_mapped", None)
        results.append(r)
    if len(results) == 1:
        emit_json(results[0])
    else:
        emit_json({"scenarios": results, "all_targets_met": all(r["targets"]["all"] for r in results)})
    return 0

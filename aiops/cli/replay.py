"""``aiops replay``: run the engine over files or a scenario directory, print a JSON summary."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from rich.markup import escape

from aiops.cli.common import (REPLAY_STORE, Inputs, add_input_options, at_least, emit_json, fail, guarded,
                              progress, resolve_inputs, stderr)
from aiops.cli.interrupt import StopRequest
from aiops.cli.replayed import ReplayedInputs
from aiops.config import ConfigError
from aiops.engine import Engine
from aiops.replay import lazy_batches, pace, replay_summary
from aiops.runtime import FreezeSurvivors
from aiops.store import open_store
from aiops.store.lock import StoreLock

DEFAULT_STORE = REPLAY_STORE
_FIRST_BATCH = 2_000
#: records per batch. One process holds a batch as a list (at 50k the 1M-line replay peaked
#: 11 MB higher for 2 % less time); a pool routes records as they are parsed and never holds
#: a batch, and larger batches cost it fewer hand-offs (results never depend on batching)
_BATCH = 25_000
_POOL_BATCH = 50_000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="replay log/metric/event/alert files through the engine",
                       description="Merge every input in event-time order, run templates -> "
                                   "detection -> correlation, store the results, and print a "
                                   "JSON summary (progress goes to stderr).")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or scenario directories")
    add_input_options(p)
    p.add_argument("--store", metavar="PATH",
                   help=f"SQLite store to replay into and keep; it remembers the files it "
                        f"has read, so the same command run again reads only what is new, "
                        f"rotated logs included (default: a fresh {DEFAULT_STORE} each run)")
    p.add_argument("--speed", type=at_least(0, float), default=0.0,
                   help="0 = as fast as possible (default); N = N x real time")
    p.add_argument("--again", action="store_true",
                   help="replay inputs this --store has replayed already, whole (skipped "
                        "otherwise; a grown log, CSV or JSON-lines file is replayed from where the store "
                        "left it; an interrupted one is refused)")
    p.add_argument("--keep-open", action="store_true",
                   help="more input follows (a cron job over growing logs): leave windows, "
                        "incident groups and the records within the allowed lateness open in "
                        "--store for the next run, instead of closing them as at the end of "
                        "input; replaying in parts this way gives what one replay of the whole "
                        "would")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="run templates and detection in N processes, partitioned by source "
                        "(same results; default 1, or what --store was written with)")
    p.add_argument("--batch-size", type=at_least(1), default=None, help=argparse.SUPPRESS)
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=guarded(run))


def run(args: argparse.Namespace) -> int:
    inputs = resolve_inputs(args)
    if args.keep_open and not args.store:
        raise ConfigError("--keep-open needs --store: the next run continues that store (without "
                          "it every replay starts a fresh one)")
    store_path = Path(args.store) if args.store else DEFAULT_STORE
    if not args.store:
        Engine(inputs.config, open_store()).close()  # a bad config fails before the old run goes
        if args.workers is not None and args.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {args.workers}")
        StoreLock(str(store_path)).acquire().release()  # never delete a store in use
        for suffix in ("", "-wal", "-shm"):
            Path(f"{store_path}{suffix}").unlink(missing_ok=True)
    engine = Engine(inputs.config, open_store(store_path), workers=args.workers)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if engine.workers > 1 and cpus and engine.workers > cpus:
        stderr.print(f"aiops: {engine.workers} workers on {cpus} CPU(s): processes beyond the "
                     f"cores add work, not speed (the results are the same)", highlight=False)
    stop = StopRequest()
    summary = None
    replayed = None
    try:
        replayed = ReplayedInputs(engine.replayed_inputs)
        inputs.open_files(per_input=2)  # read through the descriptor each is pinned by
        inputs.specs, skipped = replayed.select(inputs.specs, again=args.again, store=store_path)
        if skipped:
            names = ", ".join(e["path"] for e in skipped) if len(skipped) <= 3 else \
                f"{len(skipped)} of {len(skipped) + len(inputs.specs)} inputs"
            stderr.print(f"aiops: skipping {escape(names)}: replayed into {escape(str(store_path))} "
                         f"already (the summary's skipped_inputs; --again replays them)",
                         highlight=False)
        for spec in inputs.specs:
            if spec.start:
                was = f" as {spec.replayed_as}" if spec.replayed_as else ""
                stderr.print(f"aiops: {escape(spec.label)} has grown since its replay{escape(was)} "
                             f"into {escape(str(store_path))}: replaying it from byte "
                             f"{spec.start:,} (line {spec.lines_before + 1:,})", highlight=False)
        if inputs.specs:
            with stop:
                summary = _replay(engine, inputs, args, store_path, stop, replayed)
        else:  # nothing new: the store as it is (a flush now would close its windows
            # again), unless runs kept it open: then this one, not kept open, ends the input
            if not args.keep_open and not engine.input_ended:
                engine.flush()
            summary = replay_summary(engine, inputs.report(), elapsed=0.0, store=str(store_path))
            summary["interrupted"] = None
        summary["skipped_inputs"] = skipped
        summary["kept_open"] = bool(args.keep_open)  # windows and groups wait for the next run
    except KeyboardInterrupt:  # a second Ctrl-C: abort now
        pass
    finally:  # a bad line (--strict) ends the replay too: stop the workers, release the store
        engine.close()
        if replayed is not None:
            replayed.release()
    if summary is None:
        return fail(f"interrupted: {store_path} holds what its last checkpoint saved", code=130)
    emit_json(summary)
    return stop.exit_code


def _replay(engine: Engine, inputs: Inputs, args: argparse.Namespace, store_path: Path,
            stop: StopRequest, replayed: ReplayedInputs) -> dict:
    started = time.perf_counter()
    replayed.begin(inputs.specs)  # a checkpoint from here on says so
    stream = inputs.stream(strict=args.strict, keep_original=False)  # never stored or shown
    if args.speed > 0:
        stream = stop.until_stopped(pace(stream, args.speed))
    total = None if args.no_progress else inputs.total_lines()
    bar = progress(enabled=not args.no_progress)
    processed = 0
    gc_policy = FreezeSurvivors()
    with bar:
        task = bar.add_task("replay", total=total, rate="", visible=not args.no_progress)
        # small first batches: --workers start after ~2k records are parsed, not 25k
        # (results do not depend on batching); lazy: with --workers each record is routed
        # as it is parsed (one process makes a list of it first, as before)
        size = args.batch_size or (_POOL_BATCH if engine.workers > 1 else _BATCH)
        for batch in lazy_batches(stream, size, first=_FIRST_BATCH):
            processed += engine.process(batch)
            gc_policy.after_batch()
            elapsed = time.perf_counter() - started
            bar.update(task, completed=processed, rate=f"{processed / elapsed:,.0f} rec/s")
            if stop.signal_name is not None:
                break
        if stop.signal_name is None:
            replayed.finish(inputs.specs)
        if args.keep_open:  # what waits for more input stays in the store for the next run
            engine.checkpoint()
        else:  # the end of input; interrupted too: what was read is processed and checkpointed
            engine.flush()
        if stop.signal_name is None:
            bar.update(task, completed=total or processed)
    elapsed = time.perf_counter() - started
    summary = replay_summary(engine, inputs.report(), elapsed=elapsed, store=str(store_path))
    summary["interrupted"] = stop.signal_name
    return summary

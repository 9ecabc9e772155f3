"""Template grouping accuracy on loghub_2k: aiops (one default config) vs drain3 vs tuned Drain.

    python benchmarks/template_accuracy.py [--repeat 5] [--json out.json] [--data DIR]

For each of the eight loghub_2k systems the RAW ``<S>_2k.log`` goes through
``aiops templates FILE --log-format FMT --out lines.csv`` (the header format is
loghub's, i.e. how the file is laid out, not a tuning knob), and the
``TemplateId`` column is scored against the labelled ``EventId`` with grouping
accuracy (GA, Zhu et al. ICSE-SEIP 2019: a line is correct when its predicted
group is exactly its true group). Plain drain3 (default config) is run on the
labelled ``Content`` column; the tuned-Drain GA is the published figure quoted in
``../shared/data/SOURCES.md``.

Throughput is mining only, in CPU time (so other load on the machine does not skew
the comparison), best of ``--repeat`` interleaved runs on the same messages: aiops
``TemplateMiner().mine(records)`` on the records parsed from the raw file, drain3
``add_log_message`` on the Content column (the two are the same strings; the script
checks).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Hashable, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "loghub_2k"

#: loghub's header formats (how each raw file is laid out), from SOURCES.md
FORMATS = {
    "Apache": r"\[<Time>\] \[<Level>\] <Content>",
    "HDFS": "<Date> <Time> <Pid> <Level> <Component>: <Content>",
    "HealthApp": r"<Time>\|<Component>\|<Pid>\|<Content>",
    "Linux": r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>",
    "OpenSSH": r"<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>",
    "Proxifier": r"\[<Time>\] <Program> - <Content>",
    "Spark": "<Date> <Time> <Level> <Component>: <Content>",
    "Zookeeper": r"<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>",
}
#: Drain with per-dataset hand-tuned settings (logparser benchmark), as quoted in SOURCES.md
PUBLISHED_DRAIN = {"Apache": 1.000, "HDFS": 0.998, "HealthApp": 0.780, "Linux": 0.690,
                   "OpenSSH": 0.788, "Proxifier": 0.527, "Spark": 0.920, "Zookeeper": 0.967}


def grouping_accuracy(predicted: Sequence[Hashable], truth: Sequence[Hashable]) -> float:
    """Fraction of lines whose predicted group is exactly the set of lines sharing their truth."""
    if len(predicted) != len(truth):
        raise ValueError("predicted and truth differ in length")
    if not truth:
        return 1.0
    size_p = Counter(predicted)
    size_t = Counter(truth)
    pairs = Counter(zip(predicted, truth))
    correct = sum(n for (p, t), n in pairs.items() if n == size_p[p] == size_t[t])
    return correct / len(truth)


def run_cli(argv: list[str]) -> int:
    """``aiops <argv>`` in-process (through the registered command when there is one)."""
    from aiops.cli import templates as templates_cli

    try:
        from aiops.cli import COMMANDS, main
    except ImportError:  # pragma: no cover
        COMMANDS, main = (), None
    if main is not None and "templates" in COMMANDS:
        return main(argv)
    parser = argparse.ArgumentParser(prog="aiops")
    templates_cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def load_truth(data: Path, system: str) -> tuple[list[str], list[str]]:
    with open(data / system / f"{system}_2k.log_structured.csv", newline="",
              encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [r["Content"] for r in rows], [r["EventId"] for r in rows]


def aiops_grouping(data: Path, system: str) -> list[str]:
    """TemplateId per line, from ``aiops templates`` on the raw file (lines in file order)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "lines.csv"
        with contextlib.redirect_stdout(io.StringIO()):
            code = run_cli(["templates", str(data / system / f"{system}_2k.log"),
                            "--log-format", FORMATS[system], "--out", str(out)])
        if code:
            raise SystemExit(f"aiops templates failed on {system} (exit {code})")
        with open(out, newline="", encoding="utf-8") as fh:
            rows = {int(r["LineId"]): r["TemplateId"] for r in csv.DictReader(fh)}
    return [rows.get(i, f"missing-{i}") for i in range(1, 2001)]


def parse_records(data: Path, system: str) -> list:
    from ingest.headerformat import header_format_parser

    parser = header_format_parser(FORMATS[system], source=system)
    with open(data / system / f"{system}_2k.log", encoding="utf-8", errors="replace") as fh:
        return [r for i, line in enumerate(fh, 1) if (r := parser.parse(line, i)) is not None]


def time_miners(records: list, contents: list[str], repeat: int) -> tuple[float, float]:
    from drain3 import TemplateMiner as Drain3Miner
    from drain3.template_miner_config import TemplateMinerConfig

    from aiops.templates import TemplateMiner

    best_a = best_d = float("inf")
    for _ in range(repeat):
        miner = TemplateMiner()
        started = time.process_time()
        miner.mine(records)
        best_a = min(best_a, time.process_time() - started)
        config = TemplateMinerConfig()
        config.profiling_enabled = False
        drain = Drain3Miner(config=config)
        add = drain.add_log_message
        started = time.process_time()
        for message in contents:
            add(message)
        best_d = min(best_d, time.process_time() - started)
    return len(records) / best_a, len(contents) / best_d


def drain3_grouping(contents: list[str]) -> list[int]:
    from drain3 import TemplateMiner as Drain3Miner
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()
    config.profiling_enabled = False
    miner = Drain3Miner(config=config)
    return [miner.add_log_message(m)["cluster_id"] for m in contents]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA, help="loghub_2k folder")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per miner (best is kept)")
    ap.add_argument("--json", metavar="FILE", help="write the table as JSON too")
    args = ap.parse_args(argv)
    logging.disable(logging.INFO)
    if not args.data.is_dir():
        print(f"loghub_2k not found at {args.data}", file=sys.stderr)
        return 2

    rows = []
    for system in FORMATS:
        contents, truth = load_truth(args.data, system)
        records = parse_records(args.data, system)
        if [r.message for r in records] != contents:
            raise SystemExit(f"{system}: parsed messages differ from the Content column")
        ours = grouping_accuracy(aiops_grouping(args.data, system), truth)
        plain = grouping_accuracy(drain3_grouping(contents), truth)
        ours_lps, plain_lps = time_miners(records, contents, args.repeat)
        rows.append({"system": system, "aiops_ga": round(ours, 3), "drain3_ga": round(plain, 3),
                     "tuned_drain_ga": PUBLISHED_DRAIN[system],
                     "aiops_lines_per_s": round(ours_lps), "drain3_lines_per_s": round(plain_lps)})

    mean = {k: round(sum(r[k] for r in rows) / len(rows), 3)
            for k in ("aiops_ga", "drain3_ga", "tuned_drain_ga")}
    header = (f"{'system':10} {'aiops GA':>9} {'drain3 GA':>10} {'tuned Drain':>12} "
              f"{'aiops lines/s':>14} {'drain3 lines/s':>15}")
    print(header)
    for r in rows:
        print(f"{r['system']:10} {r['aiops_ga']:>9.3f} {r['drain3_ga']:>10.3f} "
              f"{r['tuned_drain_ga']:>12.3f} {r['aiops_lines_per_s']:>14,} "
              f"{r['drain3_lines_per_s']:>15,}")
    print(f"{'mean':10} {mean['aiops_ga']:>9.3f} {mean['drain3_ga']:>10.3f} "
          f"{mean['tuned_drain_ga']:>12.3f}")
    print(f"min aiops GA {min(r['aiops_ga'] for r in rows):.3f}")
    if args.json:
        import orjson

        Path(args.json).write_bytes(orjson.dumps({"systems": rows, "mean": mean},
                                                 option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Template mining on the real loghub_2k logs: accuracy floor, restart, cache, CLI."""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from aiops.templates import TemplateMiner
from ingest.headerformat import header_format_parser
from tests.conftest import LOGHUB_FORMATS, shared

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from template_accuracy import grouping_accuracy, run_cli  # noqa: E402


def loghub(system: str):
    folder = shared("loghub_2k", system)
    parser = header_format_parser(LOGHUB_FORMATS[system], source=system)
    with open(folder / f"{system}_2k.log", encoding="utf-8", errors="replace") as fh:
        recs = [parser.parse(line, i) for i, line in enumerate(fh, 1)]
    with open(folder / f"{system}_2k.log_structured.csv", newline="", encoding="utf-8") as fh:
        truth = [row["EventId"] for row in csv.DictReader(fh)]
    return recs, truth


def test_grouping_accuracy_on_all_eight_systems_with_one_config():
    scores = {}
    for system in sorted(LOGHUB_FORMATS):
        recs, truth = loghub(system)
        miner = TemplateMiner()
        miner.mine(recs)
        scores[system] = grouping_accuracy([miner.resolve(r.template_id) for r in recs], truth)
    assert min(scores.values()) >= 0.85, scores
    assert sum(scores.values()) / len(scores) >= 0.95, scores


def test_grouping_accuracy_helper():
    assert grouping_accuracy([1, 1, 2, 3], ["a", "a", "b", "b"]) == 0.5
    assert grouping_accuracy(["x"] * 3, ["a"] * 3) == 1.0


@pytest.mark.parametrize("system", ["Linux", "OpenSSH", "Zookeeper"])
def test_restart_from_state_gives_the_same_ids_as_one_pass(system):
    recs, _ = loghub(system)
    one = TemplateMiner()
    one.mine(recs)
    expected = [(r.template_id, r.params) for r in recs]
    half = len(recs) // 2
    first = TemplateMiner(max_clusters=40)
    again, _ = loghub(system)
    first.mine(again[:half])
    second = TemplateMiner(max_clusters=40)
    second.set_state(first.get_state())
    second.mine(again[half:])
    bounded = TemplateMiner(max_clusters=40)
    third, _ = loghub(system)
    bounded.mine(third)
    assert [(r.template_id, r.params) for r in again] == [(r.template_id, r.params)
                                                          for r in third]
    # and without a memory bound the restart matches the unbounded one-pass run
    first, second = TemplateMiner(), TemplateMiner()
    fourth, _ = loghub(system)
    first.mine(fourth[:half])
    second.set_state(first.get_state())
    second.mine(fourth[half:])
    assert [(r.template_id, r.params) for r in fourth] == expected
    assert second.templates() == one.templates()


def test_cache_does_not_change_the_grouping():
    for system in ("HDFS", "Proxifier", "HealthApp"):
        a, _ = loghub(system)
        b, _ = loghub(system)
        cached, plain = TemplateMiner(), TemplateMiner(cache_size=0)
        cached.mine(a)
        plain.mine(b)
        assert [cached.resolve(r.template_id) for r in a] == [
            plain.resolve(r.template_id) for r in b]


def test_params_fill_the_template_back_to_the_message():
    recs, _ = loghub("HDFS")
    miner = TemplateMiner()
    miner.mine(recs)
    for r in recs[::50]:
        template = miner.template(r.template_id)
        pieces = template.split("<*>")
        assert len(r.params) == len(pieces) - 1
        rebuilt = pieces[0] + "".join(p + rest for p, rest in zip(r.params, pieces[1:]))
        assert rebuilt == " ".join(r.message.split())


def test_cli_writes_one_row_per_line_and_a_summary(tmp_path, capsys):
    folder = shared("loghub_2k", "OpenSSH")
    out, state = tmp_path / "lines.csv", tmp_path / "miner.state"
    args = ["templates", str(folder / "OpenSSH_2k.log"), "--log-format",
            LOGHUB_FORMATS["OpenSSH"], "--out", str(out), "--json", "--state", str(state)]
    assert run_cli(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["records"] == 2000 and summary["rejected"]["count"] == 0
    assert sum(t["count"] for t in summary["templates"]) == 2000
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["LineId", "TemplateId", "Template", "Params"]
    assert [int(r["LineId"]) for r in rows] == list(range(1, 2001))
    counts = Counter(r["TemplateId"] for r in rows)
    assert counts == {t["id"]: t["count"] for t in summary["templates"]}
    assert json.loads(rows[0]["Params"]) and rows[0]["Template"]
    # a second run continues from the saved state: same ids, counts keep growing
    assert state.exists()
    assert run_cli(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert {t["id"] for t in again["templates"]} == set(counts)
    assert sum(t["count"] for t in again["templates"]) == 4000


def test_cli_text_summary_and_bad_config(tmp_path, capsys):
    folder = shared("loghub_2k", "Apache")
    assert run_cli(["templates", str(folder / "Apache_2k.log"), "--log-format",
                    LOGHUB_FORMATS["Apache"], "--top", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "count", "template"] and len(lines) == 4
    assert lines[1].split()[1] == "836"   # jk2_init() Found child <*> in scoreboard slot <*>
    bad = tmp_path / "bad.toml"
    bad.write_text("[templates]\nsimth = 0.5\n")
    code = run_cli(["templates", str(folder / "Apache_2k.log"), "--log-format",
                    LOGHUB_FORMATS["Apache"], "--config", str(bad)])
    assert code == 2
    assert "simth" in capsys.readouterr().err

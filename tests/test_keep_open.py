"""``aiops replay --keep-open``: a replay in parts into one store, every part but the last kept
open, stores exactly what one replay of the whole stores (the cron use: logs still growing)."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime, timezone

import pytest

from ingest.errors import ErrorPolicy
from ingest.files import InputSpec, read_input
from tests.conftest import SAMPLES
from tests.test_replayed import replay

SCENARIO = SAMPLES / "db-pool-exhaustion"
#: two minutes into the incident (postgres runs out of connections at 10:21)
CUT = datetime(2026, 3, 2, 10, 23, tzinfo=timezone.utc)


def _cut(directory) -> dict:
    """Truncate every input of ``directory`` before its first record at ``CUT``; the rest of
    each, to append later."""
    rest = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        if path.name in ("scenario.toml", "truth.json"):
            continue
        lines = path.read_text().splitlines(keepends=True)
        if path.suffix == ".csv":  # ISO stamps first: the text orders as the time
            stamp = CUT.strftime("%Y-%m-%dT%H:%M:%S")
            cut = next((i for i, line in enumerate(lines[1:], 1) if line[:19] >= stamp),
                       len(lines))
        else:
            records = read_input(InputSpec(path=path), ErrorPolicy(strict=True))
            first = next((r for r in records if r.ts >= CUT), None)
            cut = len(lines) if first is None else first.line - 1
        path.write_text("".join(lines[:cut]))
        rest[path] = "".join(lines[cut:])
    assert sum(bool(text) for text in rest.values()) >= 10
    return rest


def _rows(store) -> dict[str, list]:
    with sqlite3.connect(store) as db:
        return {table: db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                for table in ("alerts", "incidents", "templates", "signals")}


@pytest.mark.parametrize("keep_open, workers", [(True, 1), (True, 2), (False, 1)])
def test_a_replay_in_parts_kept_open_stores_what_the_whole_replay_does(tmp_path, capsys,
                                                                      keep_open, workers):
    """One process replays the whole; the parts go through ``workers`` (a store keeps its
    partition count, so the second part does too)."""
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    shutil.copytree(SCENARIO, whole)
    shutil.copytree(SCENARIO, parts)
    rest = _cut(parts)
    code, expected, err = replay(capsys, str(whole), "--store", str(tmp_path / "whole.db"))
    assert code == 0, err
    store = str(tmp_path / "parts.db")
    code, first, err = replay(capsys, str(parts), "--store", store, "--workers", str(workers),
                              *(["--keep-open"] if keep_open else []))
    assert code == 0, err
    assert first["kept_open"] is keep_open
    for path, text in rest.items():  # the writers go on
        with open(path, "a") as fh:
            fh.write(text)
    code, got, err = replay(capsys, str(parts), "--store", store)
    assert code == 0, err
    assert got["kept_open"] is False
    assert sum("from_byte" in i for i in got["inputs"]) >= 10  # resumed, not read again
    if keep_open:
        assert got["kpis"] == expected["kpis"] and got["records"] == expected["records"]
        assert _rows(store) == _rows(tmp_path / "whole.db")
    else:  # the first part's end closed the windows and episodes open at 10:23: they
        # opened again in the second, as new alerts of the same incident
        assert got["records"] == expected["records"]
        assert got["kpis"]["alerts"] > expected["kpis"]["alerts"]


def test_a_run_with_nothing_new_ends_what_runs_kept_open(tmp_path, capsys):
    """Every part kept open (cron does not know which run is the last), then one run without
    --keep-open and nothing new to read: it ends the input, and the store holds what one
    replay of the whole does."""
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    shutil.copytree(SCENARIO, whole)
    shutil.copytree(SCENARIO, parts)
    rest = _cut(parts)
    assert replay(capsys, str(whole), "--store", str(tmp_path / "whole.db"))[0] == 0
    store = str(tmp_path / "parts.db")
    assert replay(capsys, str(parts), "--store", store, "--keep-open")[0] == 0
    for path, text in rest.items():
        with open(path, "a") as fh:
            fh.write(text)
    code, kept, err = replay(capsys, str(parts), "--store", store, "--keep-open")
    assert code == 0 and kept["kept_open"], err
    assert _rows(store) != _rows(tmp_path / "whole.db")  # windows and groups still open
    code, out, err = replay(capsys, str(parts), "--store", store)
    assert code == 0, err
    assert out["inputs"] == []
    assert len(out["skipped_inputs"]) == len(kept["inputs"]) + len(kept["skipped_inputs"])
    assert _rows(store) == _rows(tmp_path / "whole.db")
    code, again, _ = replay(capsys, str(parts), "--store", store)  # ended already: unchanged
    assert code == 0 and again["kpis"] == out["kpis"]
    assert _rows(store) == _rows(tmp_path / "whole.db")


def test_keep_open_needs_a_store(capsys):
    code, out, err = replay(capsys, str(SCENARIO), "--keep-open")
    assert code == 2 and out is None and "--keep-open needs --store" in " ".join(err.split())

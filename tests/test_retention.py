"""The input log's retention: covered, old batches leave it; nothing else changes."""

from __future__ import annotations

import pytest

from aiops.config import Config
from aiops.engine import Engine, ingest_all
from aiops.store import append_records, open_store, queries
from test_engine import outcome, run, scenario


def _fill(store, records, size: int = 50) -> list[list]:
    batches = [records[i:i + size] for i in range(0, len(records), size)]
    for b in batches:
        append_records(store, b)
    return batches


def _offsets(store) -> list[int]:
    return [o for (o,) in store._writer.execute("SELECT offset FROM batches ORDER BY offset")]


def _age(store, seconds: float, up_to: int | None = None) -> None:
    """Pretend batches (all, or those <= ``up_to``) were received ``seconds`` earlier."""
    sql, args = "UPDATE batches SET received_at = received_at - ?", [seconds]
    if up_to is not None:
        sql, args = sql + " WHERE offset <= ?", [seconds, up_to]
    store._writer.execute(sql, args)


def test_only_batches_a_checkpoint_covers_and_older_than_the_retention_are_dropped(tmp_path):
    store = open_store(tmp_path / "s.db", input_retention="1h")
    _fill(store, scenario()[:500])
    assert _offsets(store) == list(range(1, 11))
    totals = queries.batch_totals(store)
    _age(store, 7200, up_to=8)             # 1-8 are two hours old, 9-10 new
    store.save_checkpoint(5, {})           # the engine has processed up to 5
    assert _offsets(store) == [6, 7, 8, 9, 10]
    store.save_checkpoint(10, {})          # all processed: the old ones go, the new stay
    assert _offsets(store) == [9, 10]
    # totals count what was ever committed, the pruned included; the head does not move
    assert queries.batch_totals(store) == totals
    assert store.head_offset() == 10
    _age(store, 7200)
    store.save_checkpoint(10, {})
    assert _offsets(store) == [] and store.head_offset() == 10
    # offsets are never reused once the log is empty, and a restart still starts after them
    offset, duplicate = append_records(store, scenario()[:5])
    assert (offset, duplicate) == (11, False) and store.head_offset() == 11
    store.close()
    reopened = open_store(tmp_path / "s.db", input_retention="1h")
    assert reopened.head_offset() == 11 and reopened.batches_after(10)[0][0] == 11
    assert queries.batch_totals(reopened)["mixed"]["batches"] == 11


def test_a_redelivery_is_a_duplicate_within_the_retention_only(tmp_path):
    store = open_store(tmp_path / "s.db", input_retention="1h")
    batch = scenario()[:50]
    first, _ = append_records(store, batch)
    assert append_records(store, batch) == (first, True)
    _age(store, 7200)
    store.save_checkpoint(first, {})
    assert append_records(store, batch) == (first + 1, False)  # its key went with it


def test_forever_keeps_every_batch_and_a_late_retention_catches_up_in_chunks(tmp_path):
    path = tmp_path / "s.db"
    store = open_store(path, input_retention="forever")
    _fill(store, scenario()[:500])
    _age(store, 30 * 86400)
    store.save_checkpoint(10, {})
    assert len(_offsets(store)) == 10
    store.close()
    store = open_store(path)               # the default: 7 days
    store.PRUNE_CHUNK = 4                  # bounded work per checkpoint
    remaining = []
    for _ in range(3):
        store.save_checkpoint(10, {})
        remaining.append(len(_offsets(store)))
    assert remaining == [6, 2, 0]


def test_a_clock_that_stepped_back_stops_the_pruning_at_the_younger_batch(tmp_path):
    store = open_store(tmp_path / "s.db", input_retention="1h")
    _fill(store, scenario()[:500])
    _age(store, 7200)
    store._writer.execute("UPDATE batches SET received_at = received_at + 7200 WHERE offset = 4")
    store.save_checkpoint(10, {})
    assert _offsets(store) == list(range(4, 11))


@pytest.mark.parametrize("value", ["soon", -1, True])
def test_a_bad_retention_names_the_key(value):
    with pytest.raises(ValueError, match="input_retention"):
        open_store(input_retention=value)


def test_pruning_as_soon_as_checkpointed_gives_the_same_results_across_a_restart(tmp_path):
    records = scenario()
    reference = run(records, batch_size=500)
    path = tmp_path / "aiops.db"
    config = Config(engine={"checkpoint_records": 200, "checkpoint_interval_s": 0})
    engine = Engine(config, open_store(path, input_retention=0))
    half = len(records) // 2
    ingest_all(engine, records[:half], batch_size=100)
    checkpoint = int(engine.store.load_checkpoint()[0])
    assert checkpoint > 0 and min(_offsets(engine.store)) > checkpoint  # covered ones went
    engine.store.close()                   # a crash: no flush, no final checkpoint
    restarted = Engine(config, open_store(path, input_retention=0))
    restarted.catch_up()
    ingest_all(restarted, records[half:], batch_size=500)
    restarted.flush()
    assert outcome(restarted) == reference
    totals = queries.batch_totals(restarted.store)
    assert sum(t["records"] for t in totals.values()) == len(records)


def test_a_store_made_before_the_running_totals_counts_what_it_holds(tmp_path):
    path = tmp_path / "old.db"
    store = open_store(path, input_retention="1h")
    _fill(store, scenario()[:500])
    _age(store, 7200, up_to=3)
    store.save_checkpoint(10, {})          # 1-3 pruned, 4-10 kept
    totals = queries.batch_totals(store)
    assert totals["mixed"] == {"batches": 10, "records": 500}
    store._writer.executescript("DROP TRIGGER batches_totals; DROP TABLE input_totals;")
    store.close()
    reopened = open_store(path, input_retention="1h")
    assert queries.batch_totals(reopened) == totals
    append_records(reopened, scenario()[500:510])
    assert queries.batch_totals(reopened)["mixed"] == {"batches": 11, "records": 510}
    log = queries.input_log(reopened)
    assert (log["oldest_offset"], log["pruned_batches"], log["pruned_records"]) == (4, 3, 150)

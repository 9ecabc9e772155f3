"""Replay helpers that need no file format: pacing in event time and the run summary."""

from __future__ import annotations

import time
from itertools import chain, islice
from typing import Any, Iterable, Iterator

from aiops.schema import Record


def lazy_batches(records: Iterable[Record], size: int, first: int | None = None
                 ) -> Iterator[Iterator[Record]]:
    """Iterators over up to ``size`` records each, which read their records when consumed
    (never empty; consume each before asking for the next), cut with ``islice`` (not a
    Python statement per record). ``first``: the first batches are that small and double
    up to ``size`` (with ``--workers`` the workers start on the first one). For
    :meth:`Engine.process`, whose ``--workers`` pool routes records as they are parsed,
    never holding a whole batch."""
    it = iter(records)
    n = min(first or size, size)
    for head in it:
        yield chain((head,), islice(it, n - 1))
        n = min(2 * n, size)


def batches(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    """:func:`lazy_batches` as lists. A batch is not kept here once yielded: a caller that
    drops its own reference before asking for the next keeps one batch alive, not two
    (two were +16 MB at the 1M-line replay's peak)."""
    for batch in lazy_batches(records, size):
        yield list(batch)


def pace(records: Iterable[Record], speed: float) -> Iterator[Record]:
    """Yield records no faster than ``speed`` x their own event-time spacing."""
    first_ts = None
    started = time.monotonic()
    for record in records:
        if first_ts is None:
            first_ts = record.ts
        due = (record.ts - first_ts).total_seconds() / speed
        wait = due - (time.monotonic() - started)
        if wait > 0:
            time.sleep(wait)
        yield record


def incident_brief(doc: dict[str, Any]) -> dict[str, Any]:
    """What an SRE reads first: what, where, who owns it, why these alerts were joined."""
    return {
        "id": doc["id"],
        "title": doc.get("title"),
        "status": doc.get("status"),
        "severity": doc.get("severity"),
        "opened_at": doc.get("opened_at"),
        "resolved_at": doc.get("resolved_at"),
        "services": doc.get("services"),
        "root_cause": doc.get("root_cause"),
        "owner": doc.get("owner"),
        "alerts": doc.get("alerts"),
    }


def replay_summary(engine: Any, inputs: dict[str, Any], *, elapsed: float, store: str
                   ) -> dict[str, Any]:
    """The headline first (incidents and the SRE KPIs), then what went in and how fast."""
    from aiops.kpis import kpis

    incidents = list(engine.store.documents("incidents", order="opened_at, id"))
    alerts = list(engine.store.documents("alerts", order="starts_at, id"))
    summary = engine.summary()
    n_records = sum(summary["records"].values())
    raw_signals = n_records
    n_alerts = len(alerts)
    templates = engine.store.template_rows()
    overall = kpis(incidents, alerts, raw_signals, breakdowns=())["overall"]
    return {
        "kpis": {
            "raw_signals": raw_signals,
            "alerts": n_alerts,
            "incidents": len(incidents),
            "noise_reduction_alerts_to_incidents":
                round(1 - len(incidents) / n_alerts, 4) if n_alerts else None,
            "noise_reduction_signals_to_alerts":
                round(1 - n_alerts / raw_signals, 4) if raw_signals else None,
            "dedup_ratio": overall["dedup_ratio"],
            "suppressed": overall["suppressed"],
            "mttd": overall["mttd"],
            "mtta": overall["mtta"],
            "mttr": overall["mttr"],
        },
        "incidents": [incident_brief(doc) for doc in incidents],
        "alerts": {"notifications": summary["alerts_in"]["external"],
                   "detector": summary["alerts_in"]["detector"], "unique": n_alerts},
        "templates": {"count": len(templates),
                      "top": [{k: t[k] for k in ("id", "source", "template", "count")}
                              for t in templates[:10]]},
        "records": summary["records"],
        "late_records": summary["late_records"],
        "metric_series": summary["metric_series"],
        "event_time": summary["event_time"],
        **inputs,
        "store": store,
        "elapsed_s": round(elapsed, 3),
        "records_per_s": round(n_records / elapsed) if elapsed > 0 else None,
    }

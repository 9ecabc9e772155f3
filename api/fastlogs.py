"""A fast path for JSON arrays of log objects: resolve field roles once per key shape.

``ingest.jsonlogs.record_from_object`` looks up every alias list for every
item (~10 µs each). A shipper's batch has a handful of shapes (tuples of keys),
so this module decides once per shape which key is the message, timestamp,
level, service and host and which go to ``attributes``, then builds each record
with plain dict lookups. It is only an accelerator: any item whose values are
not the plain types the plan assumes (a non-string message, an ECS ``log`` or
``service`` object, a ``_raw``-only line, a bad timestamp) goes through
``record_from_object`` itself, and the first item of every shape is checked
against ``record_from_object`` — a mismatch sends the whole shape the slow way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from aiops.schema import LogRecord
from ingest.errors import ErrorPolicy, ParseError
from ingest.jsonlogs import record_from_object
from ingest.logs import MAX_SHAPES, ShapePlan, fast_record, plan_shape
from ingest.timestamps import TimestampParser


def parse_log_items(items: list[Any], *, source: str, service: str,
                    timestamps: TimestampParser, policy: ErrorPolicy,
                    raw_fallback: Callable | None, location: str = "[{}]") -> list[LogRecord]:
    """Records for every valid item (index order); bad items are reported through ``policy``."""
    plans: dict[tuple[str, ...], ShapePlan | None] = {}
    checked: set[tuple[str, ...]] = set()
    levels: dict[str, str] = {}
    parse_ts = timestamps.parse
    seconds: dict[str, datetime] = {}
    out: list[LogRecord] = []
    append = out.append

    def slow(i: int, item: Any) -> LogRecord | None:
        try:
            return record_from_object(item, location=location.format(i), source=source,
                                      service=service, timestamps=timestamps,
                                      raw_fallback=raw_fallback)
        except ParseError as err:
            policy.report(err)
            return None

    for i, item in enumerate(items):
        if type(item) is not dict:
            r = slow(i, item)
            if r is not None:
                append(r)
            continue
        shape = tuple(item)
        plan = plans.get(shape, False)
        if plan is False:
            plan = plan_shape(shape, bool(service)) if len(plans) < MAX_SHAPES else None
            plans[shape] = plan
        r = None
        if plan is not None:
            r = fast_record(item, plan, source, service, parse_ts, seconds, levels)
            if r is not None and shape not in checked:
                checked.add(shape)
                reference = slow(i, item)
                if reference != r:  # the plan disagrees with the reference: never use it
                    plans[shape] = None
                    r = reference
                    if r is None:
                        continue
        if r is None:
            r = slow(i, item)
            if r is None:
                continue
        append(r)
    return out

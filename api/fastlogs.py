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

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from aiops.schema import LogRecord, normalize_level
from ingest.errors import ErrorPolicy, ParseError
from ingest.jsonlogs import (HOST_KEYS, LEVEL_KEYS, MSG_KEYS, SERVICE_KEYS, TS_KEYS,
                             record_from_object)
from ingest.timestamps import TimestampParser

_MAX_SHAPES = 64
_FRACTIONS: dict[str, timedelta] = {}


def _fraction(frac: str) -> timedelta | None:
    """``"123"`` -> 123 ms, truncated to microseconds like ``datetime.fromisoformat``."""
    if len(frac) > 9 or not frac.isdigit() or not frac.isascii():
        return None
    if len(_FRACTIONS) > 100_000:
        _FRACTIONS.clear()
    delta = _FRACTIONS[frac] = timedelta(microseconds=int(frac[:6].ljust(6, "0")))
    return delta


def _resolve(aliases: tuple[str, ...], keys: frozenset[str]) -> tuple[str | None, set[str]]:
    """The alias ``Fields.first`` would pick, plus the heads of dotted aliases tried earlier
    that exist: items where such a head holds an object must take the slow path."""
    guards: set[str] = set()
    for alias in aliases:
        if alias in keys:
            return alias, guards
        if "." in alias:
            head = alias.partition(".")[0]
            if head in keys:
                guards.add(head)
    return None, guards


@dataclass(frozen=True)
class _Plan:
    msg: str
    ts: str
    level: str | None
    service: str | None
    host: str | None
    attrs: tuple[str, ...]
    guards: tuple[str, ...]


def _plan(shape: tuple[str, ...], service_given: bool) -> _Plan | None:
    keys = frozenset(shape)
    msg, g1 = _resolve(MSG_KEYS, keys)
    ts, g2 = _resolve(TS_KEYS, keys)
    if msg is None or msg == "_raw" or ts is None:
        return None  # an error or syslog-ng's raw line: the slow path says what happens
    level, g3 = _resolve(LEVEL_KEYS, keys)
    used = {msg, ts}
    guards = g1 | g2 | g3
    if level is not None:
        used.add(level)
    service = None
    if not service_given:
        service, g4 = _resolve(SERVICE_KEYS, keys)
        guards |= g4
        if service is not None:
            used.add(service)
    host, g5 = _resolve(HOST_KEYS, keys)
    guards |= g5
    if host is not None:
        used.add(host)
    return _Plan(msg, ts, level, service, host, tuple(k for k in shape if k not in used),
                 tuple(sorted(guards)))


def parse_log_items(items: list[Any], *, source: str, service: str,
                    timestamps: TimestampParser, policy: ErrorPolicy,
                    raw_fallback: Callable | None, location: str = "[{}]") -> list[LogRecord]:
    """Records for every valid item (index order); bad items are reported through ``policy``."""
    plans: dict[tuple[str, ...], _Plan | None] = {}
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
            plan = _plan(shape, bool(service)) if len(plans) < _MAX_SHAPES else None
            plans[shape] = plan
        r = None
        if plan is not None:
            r = _fast(item, plan, source, service, parse_ts, seconds, levels)
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


def _fast(item: dict, plan: _Plan, source: str, service: str, parse_ts: Callable,
          seconds: dict[str, datetime], levels: dict[str, str]) -> LogRecord | None:
    for head in plan.guards:
        if type(item[head]) is dict:
            return None
    msg = item[plan.msg]
    if type(msg) is not str:
        return None
    value = item[plan.ts]
    ts = None
    # "YYYY-MM-DDTHH:MM:SS.fffZ": the whole second through TimestampParser (memoised per
    # batch), the fraction added (memoised globally: millisecond stamps have only 1000)
    if type(value) is str and len(value) > 21 and value[19] == "." and value[-1] == "Z" \
            and value[4] == "-" and value[7] == "-" and value[13] == ":" and value[16] == ":":
        frac = value[20:-1]
        delta = _FRACTIONS.get(frac) or _fraction(frac)
        if delta is not None:
            key = value[:19]
            base = seconds.get(key)
            if base is None:
                try:
                    base = seconds[key] = parse_ts(key + "Z")
                except ParseError:
                    return None
            ts = base + delta
    if ts is None:
        try:
            ts = parse_ts(value)
        except ParseError:
            return None
    level = ""
    if plan.level is not None:
        value = item[plan.level]
        if type(value) is not str:
            return None
        level = levels.get(value)
        if level is None:
            level = levels[value] = normalize_level(value)
    if plan.service is not None:
        service = item[plan.service]
        if type(service) is not str:
            if type(service) is not int:
                return None
            service = str(service)
    host = ""
    if plan.host is not None:
        host = item[plan.host]
        if type(host) is not str:
            if type(host) is not int:
                return None
            host = str(host)
    # positional (twice as fast as keywords); the per-shape check against
    # record_from_object catches any drift in LogRecord's field order
    return LogRecord(ts, msg.rstrip("\n"), service, host, level,
                     {k: item[k] for k in plan.attrs}, "", source, 0)

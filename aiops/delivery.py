"""Alerts and events to the correlator in the order they became known, with clock ticks.

The correlator's decisions (grouping windows, hold times, flapping) read its clock, so
its calls and clock values must depend on the data alone, never on how the input was
cut into batches or partitions: the engine and the ``--workers`` pool both feed it here.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, timedelta
from typing import Any

from aiops.schema import EPOCH, Alert, Event, event_time

_US = timedelta(microseconds=1)


def _alert_order(a: Alert) -> tuple[datetime, datetime, str, str]:
    return (a.order_ts, a.ts, a.fingerprint, a.status)


def _alert_order_ts(a: Alert) -> datetime:
    return a.order_ts


#: clock ticks after the last delivered instant: (up to this long after it, every so often)
_TIERS = ((timedelta(minutes=10), 1), (timedelta(hours=2), 6), (timedelta(days=1), 60),
          (timedelta.max, 360))


def _ticks(last: datetime | None, after: datetime | None, until: datetime, tick: timedelta,
           inclusive: bool) -> list[datetime]:
    """Clock ticks in (after, until]: multiples of ``tick`` close to the last delivered
    instant ``last``, sparser the longer the quiet lasts (a quiet day costs ~400 ticks).
    They depend on the data only (``last``), never on where a batch ended."""
    if last is None or tick <= timedelta(0) or until <= last:
        return []
    out: list[datetime] = []
    lo = last if after is None or after < last else after
    start = last
    for span, factor in _TIERS:
        end = until if span == timedelta.max or last + span >= until else last + span
        step = (tick * factor) // _US
        first = (lo - EPOCH) // _US // step + 1
        hi = (end - EPOCH) // _US
        stop = hi // step if (inclusive or end < until or hi % step) else hi // step - 1
        out.extend(EPOCH + timedelta(microseconds=k * step) for k in range(first, stop + 1))
        if end >= until:
            break
        start = end
        lo = max(lo, start)
    return out


def deliver(correlator: Any, alerts: list[Alert], events: list[Event], horizon: datetime,
            clock: datetime | None, last: datetime | None, tick: timedelta, final: bool,
            sink: Any) -> tuple[datetime | None, datetime | None]:
    """Hand the correlator every alert and event known by ``horizon``, in the order they
    became known (``Alert.order_ts``; events at their time, before alerts of the same
    instant), one instant per call, with clock ticks on a fixed event-time grid between.

    Detectors stamp each notification with the event time their rule decided it, always
    after the watermark of the call that released the records behind it, so everything
    known up to ``horizon`` can go now and later calls only add later notifications.
    Calls and clock values are then a function of the data alone, never of how the input
    was cut into batches or partitions: the single-process engine and the multi-process
    replay coordinator both feed the correlator through here. ``alerts`` and ``events``
    keep what is not due yet; ``last`` is the last instant delivered (ticks follow it).
    Returns the correlator's new clock and ``last``.
    """
    alerts.sort(key=_alert_order)
    events.sort(key=event_time)
    cut = len(alerts) if final else bisect_right(alerts, horizon, key=_alert_order_ts)
    ecut = len(events) if final else bisect_right(events, horizon, key=event_time)
    due_alerts, due_events = alerts[:cut], events[:ecut]
    del alerts[:cut], events[:ecut]
    i = j = 0
    while i < len(due_alerts) or j < len(due_events):
        t_alert = due_alerts[i].order_ts if i < len(due_alerts) else None
        t_event = due_events[j].ts if j < len(due_events) else None
        t = t_event if t_alert is None or (t_event is not None and t_event <= t_alert) \
            else t_alert
        group_events = []
        while j < len(due_events) and due_events[j].ts == t:
            group_events.append(due_events[j])
            j += 1
        group_alerts = []
        while i < len(due_alerts) and due_alerts[i].order_ts == t:
            group_alerts.append(due_alerts[i])
            i += 1
        at = min(t, horizon) if final else t
        for g in _ticks(last, clock, at, tick, inclusive=False):
            sink(correlator.observe([], [], g))
        clock = at if clock is None else max(clock, at)
        last = t
        sink(correlator.observe(group_alerts, group_events, clock))
    if final:
        if clock is None or horizon > clock:
            clock = horizon
            sink(correlator.observe([], [], clock))
        return clock, last
    for g in _ticks(last, clock, horizon, tick, inclusive=True):
        sink(correlator.observe([], [], g))
        clock = g
    return clock, last

"""Operational KPIs as pure functions over stored rows (incidents, alerts) and the
raw-signal count: MTTD, MTTA, MTTR, noise reduction, dedup ratio, suppression
counts, overall and per service, severity and day. The HTTP dashboards call these.

Definitions (times are event time):
* MTTD  = incident ``opened_at`` - first signal (earliest ``starts_at`` of its alerts)
* MTTA  = ``acknowledged_at`` - ``opened_at`` (acknowledged incidents only)
* MTTR  = ``resolved_at`` - ``opened_at`` (resolved incidents only)
* noise reduction = 1 - incidents/alerts and 1 - alerts/raw signals
* dedup ratio = 1 - alert instances / alert notifications (notifications = 1 + repeats each)
An incident is attributed to the service of its root cause (else its first service),
the severity it has, and the UTC day it opened.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import datetime, timezone
from typing import Any, Iterable


def parse_ts(value: Any) -> datetime | None:
    """ISO 8601 (``Z`` or offset, any number of fraction digits) -> aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    s = str(value).strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    if "." in s:
        head, rest = s.split(".", 1)
        n = len(rest) - len(rest.lstrip("0123456789"))
        s = f"{head}.{rest[: min(n, 6)]}{rest[n:]}"
    dt = datetime.fromisoformat(s)
    return dt.astimezone(timezone.utc) if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def stats(seconds: Iterable[float]) -> dict:
    """count, mean, median, p90 and max of durations in seconds (None when empty)."""
    xs = sorted(float(x) for x in seconds)
    if not xs:
        return {"count": 0, "mean_s": None, "median_s": None, "p90_s": None, "max_s": None}
    p90 = xs[min(len(xs) - 1, max(0, int(round(0.9 * len(xs) + 0.5)) - 1))]
    return {
        "count": len(xs),
        "mean_s": round(statistics.fmean(xs), 3),
        "median_s": round(statistics.median(xs), 3),
        "p90_s": round(p90, 3),
        "max_s": round(xs[-1], 3),
    }


def _delta(a: Any, b: Any) -> float | None:
    ta, tb = parse_ts(a), parse_ts(b)
    return (tb - ta).total_seconds() if ta and tb else None


def first_signals(alerts: Iterable[dict]) -> dict[str, datetime]:
    """incident id -> earliest ``starts_at`` among its alerts."""
    out: dict[str, datetime] = {}
    for a in alerts:
        iid, st = a.get("incident_id"), parse_ts(a.get("starts_at"))
        if iid and st and (iid not in out or st < out[iid]):
            out[iid] = st
    return out


def mttd(incidents: list[dict], alerts: list[dict]) -> dict:
    first = first_signals(alerts)
    return stats(
        d
        for i in incidents
        if i["id"] in first and (d := _delta(first[i["id"]], i.get("opened_at"))) is not None
    )


def mtta(incidents: list[dict]) -> dict:
    return stats(
        d for i in incidents if (d := _delta(i.get("opened_at"), i.get("acknowledged_at"))) is not None
    )


def mttr(incidents: list[dict]) -> dict:
    return stats(
        d
        for i in incidents
        if i.get("status") == "resolved"
        and (d := _delta(i.get("opened_at"), i.get("resolved_at"))) is not None
    )


def noise_reduction(raw_signals: int | None, n_alerts: int, n_incidents: int) -> dict:
    return {
        "alerts_to_incidents": round(1 - n_incidents / n_alerts, 4) if n_alerts else None,
        "signals_to_alerts": round(1 - n_alerts / raw_signals, 4) if raw_signals else None,
    }


def dedup_ratio(alerts: list[dict]) -> float | None:
    notifications = sum(1 + int(a.get("repeats") or 0) for a in alerts)
    return round(1 - len(alerts) / notifications, 4) if notifications else None


def suppressed(alerts: list[dict]) -> dict[str, int]:
    """Counts per reason kind: silenced / inhibited / flapping / transient / other."""
    c: Counter = Counter()
    for a in alerts:
        reason = a.get("suppressed")
        if reason:
            kind = str(reason).split()[0].strip("():")
            c[kind if kind in ("silenced", "inhibited", "flapping", "transient") else "other"] += 1
    return dict(sorted(c.items()))


def incident_service(i: dict) -> str:
    rc = (i.get("root_cause") or {}).get("service")
    return rc or (i.get("services") or [""])[0]


def _block(incidents: list[dict], alerts: list[dict], raw: int | None) -> dict:
    statuses = Counter(i.get("status") for i in incidents)
    return {
        "counts": {
            "raw_signals": raw,
            "alert_notifications": sum(1 + int(a.get("repeats") or 0) for a in alerts),
            "alerts": len(alerts),
            "incidents": len(incidents),
            "open": statuses.get("open", 0),
            "acknowledged": statuses.get("acknowledged", 0),
            "resolved": statuses.get("resolved", 0),
        },
        "noise_reduction": noise_reduction(raw, len(alerts), len(incidents)),
        "dedup_ratio": dedup_ratio(alerts),
        "suppressed": suppressed(alerts),
        "mttd": mttd(incidents, alerts),
        "mtta": mtta(incidents),
        "mttr": mttr(incidents),
    }


def kpis(
    incidents: list[dict],
    alerts: list[dict],
    raw_signals: int | None = None,
    breakdowns: tuple[str, ...] = ("service", "severity", "day"),
) -> dict:
    """Overall KPIs plus one block per service / severity / day.

    Alerts go with their incident's bucket when they have one (so MTTD finds its first
    signal), otherwise by their own service, severity and start day. Raw signals are only
    known overall."""
    out = {"overall": _block(incidents, alerts, raw_signals)}
    inc_by_id = {i["id"]: i for i in incidents}
    keyers = {
        "service": (incident_service, lambda a: a.get("service") or ""),
        "severity": (lambda i: i.get("severity") or "", lambda a: a.get("severity") or ""),
        "day": (
            lambda i: (parse_ts(i.get("opened_at")) or datetime.min).date().isoformat(),
            lambda a: (parse_ts(a.get("starts_at")) or datetime.min).date().isoformat(),
        ),
    }
    for name in breakdowns:
        ki, ka = keyers[name]
        inc_groups: dict[str, list] = defaultdict(list)
        al_groups: dict[str, list] = defaultdict(list)
        for i in incidents:
            inc_groups[ki(i)].append(i)
        for a in alerts:
            owner = inc_by_id.get(a.get("incident_id") or "")
            al_groups[ki(owner) if owner else ka(a)].append(a)
        out[f"by_{name}"] = {
            k: _block(inc_groups.get(k, []), al_groups.get(k, []), None)
            for k in sorted(set(inc_groups) | set(al_groups))
        }
    return out

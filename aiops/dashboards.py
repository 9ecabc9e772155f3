"""The two dashboards as JSON: incident KPIs (MTTD/MTTA/MTTR) and the alert-noise funnel,
and one incident with its evidence. Served by ``/api/v1/dashboards`` and
``/api/v1/incidents`` and printed by ``aiops dashboard`` / ``aiops incidents`` from the
same store, so the command line and the API cannot disagree.

Aggregates come from roll-ups kept by store triggers and light indexed columns
(``aiops.store.queries``), never the JSON documents, so both answer in milliseconds with
100k alerts stored. Alert counts are per event-time hour: a window's since/until widen to
whole hours for them. All times are event time: MTTD is first signal -> incident opened,
MTTA opened -> acknowledged, MTTR opened -> resolved.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import Any, Iterable

import orjson

from aiops.store import notes, queries

SUPPRESSION_REASONS = ("silenced", "inhibited", "flapping", "transient")


def stat(values: Iterable[float | None]) -> dict[str, Any]:
    """count, mean, median, p90 and max in seconds (the shape ``aiops.kpis`` reports)."""
    xs = sorted(max(0.0, v) for v in values if v is not None)
    if not xs:
        return {"count": 0, "mean_s": None, "median_s": None, "p90_s": None, "max_s": None}
    p90 = xs[min(len(xs) - 1, max(0, int(round(0.9 * len(xs) + 0.5)) - 1))]
    return {"count": len(xs), "mean_s": round(statistics.fmean(xs), 3),
            "median_s": round(statistics.median(xs), 3), "p90_s": round(p90, 3),
            "max_s": round(xs[-1], 3)}


def reason_kind(reason: str) -> str:
    """'silenced by sil-1' -> 'silenced' (as ``aiops.kpis`` buckets suppression reasons)."""
    kind = reason.split()[0].strip("():") if reason.strip() else "other"
    return kind if kind in SUPPRESSION_REASONS else "other"


def _ratio(part: float, whole: float) -> float | None:
    return round(1 - part / whole, 4) if whole else None


# positions in queries.INCIDENT_ROW_COLS
_STATUS, _SEVERITY, _OWNER, _ROOT, _SERVICES, _OPENED, _RESOLVED = 1, 2, 3, 4, 5, 6, 8
_DETECT, _ACK, _RESOLVE = 10, 11, 12


def _service(row: tuple) -> str:
    """The service an incident counts for: its root cause's, else its first."""
    if row[_ROOT]:
        return row[_ROOT]
    services = (row[_SERVICES] or "").strip("|")
    return services.split("|", 1)[0]


def _services(row: tuple) -> list[str]:
    """The services (or hosts) an incident's alerts are on."""
    services = [s for s in (row[_SERVICES] or "").split("|") if s]
    return services or [_service(row)]


def _grouped(rows: list[tuple], key: Any, name: str) -> list[dict[str, Any]]:
    """Incidents, open ones and MTTD/MTTA/MTTR per ``key(row)``, the largest group first."""
    groups: dict[str, list[tuple]] = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    return [{name: k, "incidents": len(rs),
             "open": sum(1 for r in rs if r[_STATUS] != "resolved"), **_times(rs)}
            for k, rs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))]


def _times(rows: list[tuple]) -> dict[str, Any]:
    return {"mttd": stat(r[_DETECT] for r in rows), "mtta": stat(r[_ACK] for r in rows),
            "mttr": stat(r[_RESOLVE] for r in rows)}


def incident_dashboard(store: Any, since: str | None, until: str | None) -> dict[str, Any]:
    rows = queries.incident_rows(store, since, until)
    by_status = Counter(r[_STATUS] for r in rows)
    open_rows = [r for r in rows if r[_STATUS] != "resolved"]
    hours: dict[str, Counter] = defaultdict(Counter)
    days: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        for event, ts in (("opened", r[_OPENED]), ("resolved", r[_RESOLVED])):
            if ts:
                hours[ts[:13]][event] += 1
                days[ts[:10]][event] += 1
    return {
        "window": {"since": since, "until": until},
        "incidents": {"total": len(rows), "open": by_status.get("open", 0),
                      "acknowledged": by_status.get("acknowledged", 0),
                      "resolved": by_status.get("resolved", 0)},
        **_times(rows),
        "per_service": _grouped(rows, _service, "service"),
        # what an on-call team is measured on: its incidents' MTTA and MTTR, by owning layer
        "per_owner": _grouped(rows, lambda r: r[_OWNER] or "unknown", "owner"),
        "open_by_severity": dict(Counter(r[_SEVERITY] or "unknown" for r in open_rows)),
        "open_by_owner": dict(Counter(r[_OWNER] or "unknown" for r in open_rows)),
        "per_hour": [{"bucket": b + ":00:00Z", "opened": c["opened"], "resolved": c["resolved"]}
                     for b, c in sorted(hours.items())],
        "per_day": [{"bucket": b, "opened": c["opened"], "resolved": c["resolved"]}
                    for b, c in sorted(days.items())],
    }


def reduction_dashboard(store: Any, since: str | None, until: str | None,
                        bucket: str) -> dict[str, Any]:
    by_kind = queries.signal_totals(store, "kind", since, until)
    by_service = queries.signal_totals(store, "service", since, until)
    over: dict[str, Counter] = defaultdict(Counter)
    width = 13 if bucket == "hour" else 10
    for b, n in queries.signal_totals(store, bucket, since, until).items():
        over[b]["raw_signals"] += n
    # one pass over the roll-up: alerts by (alertname, service, suppression reason)
    rows = queries.alert_rollup(store, ("name", "service", "suppressed"), since, until)
    unique = sum(r[3] for r in rows)
    notes = sum(r[4] for r in rows)
    suppressed: Counter = Counter()
    noisy: dict[tuple[str, str], Counter] = defaultdict(Counter)
    svc_alerts: dict[str, Counter] = defaultdict(Counter)
    for name, service, reason, n, n_notes in rows:
        if reason:
            suppressed[reason_kind(reason)] += n
        for c in (noisy[(name, service)], svc_alerts[service]):
            c["alerts"] += n
            c["notifications"] += n_notes
            c["suppressed"] += n if reason else 0
    for b, n, n_notes in queries.alert_rollup(store, (bucket,), since, until):
        over[b]["alerts"] += n
        over[b]["notifications"] += n_notes
    incidents = queries.incident_rows(store, since, until)
    root_of = Counter(_service(r) for r in incidents)
    # an incident counts for every service with alerts in it: checkout's alerts folded into
    # a postgres incident are checkout's alerts reduced to one incident, not to none
    inc_by_service = Counter(s for r in incidents for s in _services(r))
    for r in incidents:
        if r[_OPENED]:
            over[r[_OPENED][:width]]["incidents"] += 1
    raw = sum(by_kind.values())
    n_inc = len(incidents)
    services = sorted(set(by_service) | set(svc_alerts) | set(inc_by_service) | set(root_of))
    top = sorted(noisy.items(), key=lambda kv: (-kv[1]["notifications"], -kv[1]["alerts"],
                                                kv[0]))[:10]
    suffix = ":00:00Z" if bucket == "hour" else ""
    return {
        "window": {"since": since, "until": until, "bucket": bucket},
        "raw_signals": raw, "raw_signals_by_kind": dict(by_kind),
        "alerts": unique, "notifications": notes, "incidents": n_inc,
        "reduction": {"signals_to_alerts": _ratio(unique, raw),
                      "alerts_to_incidents": _ratio(n_inc, unique),
                      "notifications_to_incidents": _ratio(n_inc, notes),
                      "signals_to_incidents": _ratio(n_inc, raw)},
        "dedup_ratio": _ratio(unique, notes),
        "suppressed": {**{k: suppressed.get(k, 0) for k in SUPPRESSION_REASONS},
                       **suppressed, "total": sum(suppressed.values())},
        "noisiest_alerts": [{"alertname": name, "service": service, **dict(c)}
                            for (name, service), c in top],
        "per_service": [
            {"service": s, "raw_signals": by_service.get(s, 0),
             "alerts": svc_alerts[s]["alerts"], "notifications": svc_alerts[s]["notifications"],
             "suppressed": svc_alerts[s]["suppressed"], "incidents": inc_by_service.get(s, 0),
             "root_cause_of": root_of.get(s, 0),
             "alerts_to_incidents": _ratio(inc_by_service.get(s, 0), svc_alerts[s]["alerts"])}
            for s in services],
        "over_time": [{"bucket": b + suffix, "raw_signals": c["raw_signals"],
                       "alerts": c["alerts"], "notifications": c["notifications"],
                       "incidents": c["incidents"]} for b, c in sorted(over.items())],
    }


_HEAVY = ("alerts", "timeline")


def incident_summary(doc: dict[str, Any]) -> dict[str, Any]:
    """An incident without its evidence and timeline (a list's row), with its alert count."""
    out = {k: v for k, v in doc.items() if k not in _HEAVY}
    out["alert_count"] = len(doc.get("alerts") or ())
    return out


def incident_detail(store: Any, incident_id: str) -> dict[str, Any] | None:
    """One incident: each alert's join evidence with the alert itself, the timeline, the
    responders' notes; None if there is no such incident."""
    doc = queries.get_incident(store, incident_id)
    if doc is None:
        return None
    incident = orjson.loads(doc)
    rows = queries.incident_alerts(store, incident_id)
    evidence = []
    for entry in incident.get("alerts") or []:
        item = dict(entry) if isinstance(entry, dict) else {"id": entry}
        row = rows.pop(str(item.get("id")), None)
        item["alert"] = orjson.loads(row) if row is not None else None
        evidence.append(item)
    for aid, row in sorted(rows.items()):  # alerts pointing here the evidence list lacks
        evidence.append({"id": aid, "rule": None, "alert": orjson.loads(row)})
    incident["alerts"] = evidence
    incident["alert_count"] = len(evidence)
    incident.setdefault("timeline", [])
    incident["notes"] = notes.for_incident(store, incident_id)
    return incident

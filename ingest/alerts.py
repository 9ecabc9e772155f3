"""Alerts: Alertmanager's webhook v4 body exactly as it sends it (and Grafana Alerting's, the
same body as version 1), and a generic alert JSON.

Alertmanager quirks handled here: the per-alert ``status`` decides firing or
resolved (the top-level one stays ``firing`` while any alert in the group fires),
firing alerts carry ``endsAt: 0001-01-01T00:00:00Z`` (no end), timestamps may
have nanoseconds, and ``generatorURL`` may be empty.
"""

from __future__ import annotations

from typing import Any, Iterator, TextIO

from aiops.schema import Alert, fingerprint, normalize_severity
from ingest.errors import ErrorPolicy, ParseError
from ingest.jsondocs import Fields, iter_json_items
from ingest.timestamps import TimestampParser

ZERO_TIME = "0001-01-01T00:00:00Z"
#: the label aiops' own incidents carry when it posts them to an Alertmanager
#: (``api.notify``, format ``alertmanager``): one coming back through that Alertmanager's
#: webhook receiver is aiops' output, not an alert about the system, and is not read
AIOPS_INCIDENT_LABEL = "aiops_incident"
_STATUSES = ("firing", "resolved")


def is_alertmanager_webhook(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("alerts"), list) and (
        "version" in obj or "groupKey" in obj or "receiver" in obj)


def _end(f: Fields, timestamps: TimestampParser, *keys: str):
    key, value = f.first(*keys)
    if value in (None, "", ZERO_TIME) or (isinstance(value, str) and value.startswith("0001-")):
        return None
    return f.timestamp(timestamps, key)


def _status(f: Fields, default: str = "firing") -> str:
    key, value = f.first("status", "state")
    if value is None:
        return default
    if not isinstance(value, str) or value.lower() not in _STATUSES:
        raise f.error(key, "status 'firing' or 'resolved'", value)
    return value.lower()


def alert_from_object(obj: Any, *, location: str, source: str, timestamps: TimestampParser,
                      origin: str = "generic", context: dict[str, Any] | None = None) -> Alert:
    """One alert object: Alertmanager's shape, or a flat generic one (name/service/severity...)."""
    f = Fields(obj, location, source)
    labels = f.string_map("labels")
    annotations = f.string_map("annotations")
    flat = {"alertname": ("alertname", "name", "alert", "title"), "service": ("service", "app"),
            "severity": ("severity", "priority"), "instance": ("instance", "host")}
    for label, keys in flat.items():
        if label not in labels:
            value = f.string(*keys)
            if value:
                labels[label] = value
    for key in ("summary", "description", "message", "runbook_url"):
        value = f.string(key)
        if value:
            annotations.setdefault(key, value)
    if not labels.get("alertname"):
        raise f.error("labels.alertname", "an alert name (labels.alertname or name)", None)
    starts = f.timestamp(timestamps, "startsAt", "starts_at", "ts", "timestamp", "time")
    ends = _end(f, timestamps, "endsAt", "ends_at")
    status = _status(f, "resolved" if ends is not None and origin == "generic" else "firing")
    if status == "resolved" and ends is None:
        ends = starts  # resolved without an end time: it ended no later than we heard of it
    if ends is not None and ends < starts:
        raise f.error("endsAt", "an end time not before startsAt", ends.isoformat())
    given_fp = f.string("fingerprint")
    f.used.update({"generatorURL", "generator_url", "source"})
    attributes = {k: v for k, v in f.rest().items()
                  if k not in ("generatorURL", "generator_url", "source")}
    if context:
        attributes.update(context)
    return Alert(
        labels=labels,
        annotations=annotations,
        status=status,  # type: ignore[arg-type]
        starts_at=starts,
        ends_at=ends,
        fingerprint=given_fp or fingerprint(labels),
        source=origin if origin != "generic" else (str(f.obj.get("source") or "generic")),
        severity=normalize_severity(labels.get("severity")),
        generator_url=str(f.obj.get("generatorURL") or f.obj.get("generator_url") or ""),
        attributes=attributes,
        line=f.line or 0,
    )


def is_grafana_webhook(obj: Any) -> bool:
    """Grafana Alerting's webhook contact point: Alertmanager's body (Grafana runs an
    Alertmanager inside) as version "1", with ``orgId``, ``title``, ``state``, ``message``
    and, per alert, ``silenceURL``/``dashboardURL``/``panelURL``/``values``."""
    return isinstance(obj, dict) and obj.get("version") == "1" and "orgId" in obj


def alerts_from_webhook(obj: Any, *, location: str, source: str,
                        timestamps: TimestampParser, policy: ErrorPolicy) -> Iterator[Alert]:
    f = Fields(obj, location, source)
    version = f.obj.get("version")
    grafana = is_grafana_webhook(f.obj)
    if version not in (None, "4") and not grafana:
        raise f.error("version", "Alertmanager webhook version '4' (or Grafana's '1' with "
                                 "orgId)", version)
    origin = "grafana" if grafana else "alertmanager"
    context = {k: f.obj[k] for k in ("receiver", "groupKey", "externalURL", "orgId")
               if k in f.obj}
    for i, item in enumerate(f.obj["alerts"]):
        where = f"{location}.alerts[{i}]" if location.startswith("[") else f"alerts[{i}]"
        if isinstance(item, dict) and isinstance(item.get("labels"), dict) and \
                AIOPS_INCIDENT_LABEL in item["labels"]:
            continue  # aiops' own incident, routed back by the Alertmanager it was posted to
        try:
            alert = alert_from_object(item, location=where, source=source, timestamps=timestamps,
                                      origin=origin, context=context)
        except ParseError as err:
            if f.line is not None:
                err.located(line=f.line)
            policy.report(err)
            continue
        alert.line = f.line or 0  # the body's line in an NDJSON file of webhook bodies
        yield alert


def read_alerts(data: bytes | str | TextIO, *, source: str = "", policy: ErrorPolicy | None = None,
                timezone: str | None = None, lines_before: int = 0) -> Iterator[Alert]:
    """Webhook bodies (one document, an array, or NDJSON of bodies) or generic alert objects."""
    policy = policy or ErrorPolicy()
    timestamps = TimestampParser(tz=timezone)
    for location, item in iter_json_items(data, source=source, policy=policy,
                                          lines_before=lines_before):
        try:
            if is_alertmanager_webhook(item):
                yield from alerts_from_webhook(item, location=location, source=source,
                                               timestamps=timestamps, policy=policy)
            else:
                yield alert_from_object(item, location=location, source=source,
                                        timestamps=timestamps)
        except ParseError as err:
            policy.report(err)

"""Request bodies to records, per endpoint: format dispatch, per-record limits, rejection lists.

Pure functions (no FastAPI): bytes and parameters in, a ``Parsed`` batch out
with the records worth committing and the rejections, each located by item
index or line. A problem with the body as a whole (not JSON at all, an
unknown log format) raises ``ParseError`` or ``BodyError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

import orjson

from aiops.schema import UTC, Alert, Event, LogRecord, MetricSample, Record, iso
from api.fastlogs import parse_log_items
from api.settings import ApiSettings
from ingest.alerts import (AIOPS_INCIDENT_LABEL, alert_from_object, alerts_from_webhook,
                           is_alertmanager_webhook, read_alerts)
from ingest.bodies import decode_text, split_lines
from ingest.errors import ErrorPolicy, ParseError
from ingest.events import read_events
from ingest.jsondocs import iter_json_items
from ingest.logs import LogReader, make_line_parser
from ingest.metrics import read_metrics_csv, read_metrics_json, read_prometheus_text
from ingest.timestamps import TimestampParser

_INDEX = re.compile(r"^(?:[A-Za-z_]+)?\[(\d+)\]")

#: Content types each endpoint accepts, mapped to the body format; "" = no Content-Type (sniff)
JSON_TYPES = {"application/json": "json", "text/json": "json"}
NDJSON_TYPES = {t: "ndjson" for t in ("application/x-ndjson", "application/ndjson",
                                      "application/jsonl", "application/x-jsonlines",
                                      "application/jsonlines", "application/json-lines")}
LOG_TYPES = {**JSON_TYPES, **NDJSON_TYPES, "text/plain": "text", "text/x-log": "text", "": ""}
METRIC_TYPES = {**JSON_TYPES, **NDJSON_TYPES, "text/plain": "prometheus",
                "application/openmetrics-text": "prometheus", "text/csv": "csv", "": ""}
DOC_TYPES = {**JSON_TYPES, **NDJSON_TYPES, "": ""}


@dataclass
class Parsed:
    kind: str
    records: list[Record]
    policy: ErrorPolicy
    items: int = 0  # records seen before limits (accepted + rejected after parsing)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return self.policy.count

    def rejections(self) -> list[dict[str, Any]]:
        return [rejection(e) for e in self.policy.first]


def rejection(err: ParseError) -> dict[str, Any]:
    d = err.to_dict()
    m = _INDEX.match(err.field or "")
    d["index"] = int(m.group(1)) if m else None
    return d


# -- limits applied to every record ---------------------------------------------------------------
def _over(size: int, limit: int) -> bool:
    return size > limit


def check_limits(records: Iterable[Record], policy: ErrorPolicy, settings: ApiSettings,
                 source: str) -> list[Record]:
    """Drop (and report) records over the per-record limits: line length, label counts, and
    a time too far ahead of the server's clock (``max_future_s``)."""
    out: list[Record] = []
    max_line, max_labels = settings.max_line_chars, settings.max_labels
    now = datetime.now(UTC)
    horizon = now + timedelta(seconds=settings.max_future_s)
    for r in records:
        t = type(r)
        problem = None
        if r.ts > horizon:
            name = "ts" if t is not Alert else "endsAt" if r.status == "resolved" else "startsAt"
            problem = (name, f"a time at most {settings.max_future_s:g} s ahead of the "
                              f"server's clock ({iso(now)}; [api] max_future_s)", iso(r.ts))
        elif t is LogRecord:
            if len(r.message) > max_line:
                problem = ("message", f"a log message of at most {max_line} characters",
                           f"{len(r.message)} characters")
            elif len(r.attributes) > max_labels:
                problem = ("attributes", f"at most {max_labels} attributes",
                           f"{len(r.attributes)} attributes")
        elif t is MetricSample:
            if len(r.labels) > max_labels:
                problem = ("labels", f"at most {max_labels} labels", f"{len(r.labels)} labels")
        elif t is Alert:
            if len(r.labels) > max_labels or len(r.annotations) > max_labels:
                problem = ("labels", f"at most {max_labels} labels and annotations each",
                           f"{len(r.labels)} labels, {len(r.annotations)} annotations")
        elif t is Event and len(r.attributes) > max_labels:
            problem = ("attributes", f"at most {max_labels} attributes",
                       f"{len(r.attributes)} attributes")
        if problem is None:
            out.append(r)
        else:
            policy.report(ParseError(problem[1], source=source, line=r.line or None,
                                     field=problem[0], got=problem[2]))
    return out


def _policy(settings: ApiSettings) -> ErrorPolicy:
    return ErrorPolicy(strict=False, keep=settings.max_errors)


def _finish(kind: str, records: list[Record], policy: ErrorPolicy, settings: ApiSettings,
            source: str, **meta: Any) -> Parsed:
    seen = len(records)
    kept = check_limits(records, policy, settings, source)
    return Parsed(kind, kept, policy, items=seen, meta=meta)


def _lines(data: bytes, policy: ErrorPolicy, source: str) -> list[str]:
    lines, bad = split_lines(data)
    for lineno, err in bad:
        policy.report(ParseError(f"UTF-8 text ({err.message})", source=source, line=lineno,
                                 field="line", got=err.got))
    return lines


def _json_text(data: bytes, fmt: str, policy: ErrorPolicy, source: str) -> str:
    """JSON documents must be UTF-8 as a whole; NDJSON loses only its bad lines."""
    if fmt == "ndjson":
        return "\n".join(_lines(data, policy, source))
    return decode_text(data)


def _sniff(data: bytes) -> str:
    head = data[:64].lstrip()
    return "json" if head[:1] in (b"[", b"{") else "text"


# -- logs -----------------------------------------------------------------------------------------
def parse_logs(data: bytes, fmt: str, settings: ApiSettings, *, log_format: str | None = None,
               service: str = "", source: str = "api", timezone: str | None = None,
               year: int | None = None) -> Parsed:
    """JSON array/object items, NDJSON lines, or raw text lines in ``log_format`` (default auto)."""
    policy = _policy(settings)
    if log_format and (log_format.lower().startswith("regex:") or "(?P<" in log_format):
        raise ParseError("a log format other than a raw regex over HTTP (a regex can take "
                         "unbounded time on hostile input): auto, json, syslog, or a header "
                         "format like '<Date> <Time> <Level> <Content>'; regexes work in "
                         "`aiops replay --log-format`", field="format", got=log_format)
    if fmt == "":
        fmt = _sniff(data)
    if fmt in ("json", "ndjson") and log_format not in (None, "", "auto", "json"):
        raise ParseError("no 'format' for JSON bodies (it names the layout of text/plain lines)",
                         field="format", got=log_format)
    reader = LogReader(log_format if fmt == "text" else "json", service=service, source=source,
                       timezone=timezone, year=year, policy=policy,
                       max_line=settings.max_line_chars)
    if fmt == "text":
        lines = _lines(data, policy, source)
        if not any(line.strip() for line in lines):
            return _finish("log", [], policy, settings, source, format=log_format or "auto")
        return _finish("log", list(reader.read(lines)), policy, settings, source,
                       format=log_format or "auto")
    text = _json_text(data, fmt, policy, source)
    stripped = text.lstrip()
    doc = None
    if stripped[:1] == "[" or (stripped[:1] == "{" and fmt == "json"):
        try:
            doc = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            if stripped[:1] == "[":
                list(iter_json_items(stripped, source=source))  # raises the located error
    if doc is None:  # NDJSON: the same line reader `aiops replay` uses for JSON log files
        return _finish("log", list(reader.read(text.split("\n"))), policy, settings, source,
                       format="ndjson")
    items = doc if isinstance(doc, list) else [doc]
    parser = make_line_parser("json", service=service, source=source,
                              timestamps=reader.timestamps)
    records = parse_log_items(items, source=source, service=service,
                              timestamps=reader.timestamps, policy=policy,
                              raw_fallback=getattr(parser, "raw_fallback", None),
                              location="[{}]" if isinstance(doc, list) else "item")
    return _finish("log", records, policy, settings, source, format="json")


# -- metrics --------------------------------------------------------------------------------------
def parse_metrics(data: bytes, fmt: str, settings: ApiSettings, *, source: str = "api",
                  name: str = "", timezone: str | None = None,
                  default_ts: datetime | None = None,
                  now: Callable[[], datetime] | None = None) -> Parsed:
    """JSON samples (or query-style series), or Prometheus/OpenMetrics text exposition."""
    policy = _policy(settings)
    if fmt == "":
        fmt = "json" if _sniff(data) == "json" else "prometheus"
    if fmt == "csv":
        return _finish("metric", list(read_metrics_csv(_lines(data, policy, source),
                                                       source=source, name=name or "value",
                                                       timezone=timezone, policy=policy)),
                       policy, settings, source, format="csv")
    if fmt == "prometheus":
        lines = _lines(data, policy, source)
        ts = default_ts or (now() if now else None)
        if ts is None:
            raise ParseError("a scrape time: pass ?timestamp= for samples without one",
                             field="timestamp")
        return _finish("metric", list(read_prometheus_text(lines, default_ts=ts, source=source,
                                                           policy=policy)),
                       policy, settings, source, format="prometheus")
    text = _json_text(data, fmt, policy, source)
    records = list(read_metrics_json(text, source=source, name=name, timezone=timezone,
                                     policy=policy))
    return _finish("metric", records, policy, settings, source, format=fmt)


# -- events and alerts ----------------------------------------------------------------------------
def parse_events(data: bytes, fmt: str, settings: ApiSettings, *, source: str = "api",
                 timezone: str | None = None) -> Parsed:
    policy = _policy(settings)
    text = _json_text(data, fmt, policy, source)
    records = list(read_events(text, source=source, timezone=timezone, policy=policy))
    return _finish("event", records, policy, settings, source)


def parse_alerts(data: bytes, fmt: str, settings: ApiSettings, *, source: str = "api",
                 timezone: str | None = None) -> Parsed:
    """Generic alert objects (or Alertmanager bodies, recognised by their shape)."""
    policy = _policy(settings)
    text = _json_text(data, fmt, policy, source)
    records = list(read_alerts(text, source=source, timezone=timezone, policy=policy))
    return _finish("alert", records, policy, settings, source)


def parse_alertmanager(data: bytes, fmt: str, settings: ApiSettings, *,
                       source: str = "alertmanager") -> Parsed:
    """Alertmanager's webhook body (version 4) exactly as it sends it."""
    policy = _policy(settings)
    text = _json_text(data, fmt, policy, source)
    timestamps = TimestampParser()
    records: list[Record] = []
    bodies = 0
    for location, item in iter_json_items(text, source=source, policy=policy):
        bodies += 1
        if not is_alertmanager_webhook(item):
            policy.report(ParseError("an Alertmanager webhook body (an object with 'version': "
                                     "'4', 'receiver', 'groupKey' and an 'alerts' list); "
                                     "post other alerts to /api/v1/alerts",
                                     source=source, field=location, got=_shape(item)))
            continue
        try:
            records.extend(alerts_from_webhook(item, location=location, source=source,
                                               timestamps=timestamps, policy=policy))
        except ParseError as err:
            policy.report(err)
    return _finish("alert", records, policy, settings, source, bodies=bodies)


def parse_alertmanager_api(data: bytes, fmt: str, settings: ApiSettings, *,
                           source: str = "prometheus") -> Parsed:
    """What Prometheus (and vmalert, Loki's and Mimir's rulers, Grafana) post to an
    Alertmanager: ``POST /api/v2/alerts``, a JSON array of alerts. A firing alert's
    ``endsAt`` is how long it is valid without a re-send, so it stays firing until event
    time passes it (or a re-send extends it); a resolved one comes with ``endsAt`` at its end,
    which is when it stops, as in Alertmanager."""
    policy = _policy(settings)
    text = _json_text(data, fmt, policy, source)
    timestamps = TimestampParser()
    records: list[Record] = []
    for location, item in iter_json_items(text, source=source, policy=policy):
        if is_alertmanager_webhook(item):
            policy.report(ParseError("an array of alerts ({labels, annotations, startsAt, "
                                     "endsAt, generatorURL}); Alertmanager's webhook body goes "
                                     "to /api/v1/alertmanager", source=source, field=location,
                                     got=_shape(item)))
            continue
        if isinstance(item, dict) and isinstance(item.get("labels"), dict) and \
                AIOPS_INCIDENT_LABEL in item["labels"]:
            continue  # aiops' own incident: a format = "alertmanager" webhook pointed at aiops
        try:
            records.append(alert_from_object(item, location=location, source=source,
                                             timestamps=timestamps, origin=source))
        except ParseError as err:
            policy.report(err)
    return _finish("alert", records, policy, settings, source)


def _shape(item: Any) -> str:
    if isinstance(item, dict):
        return "object with keys " + ", ".join(list(item)[:8])
    return type(item).__name__

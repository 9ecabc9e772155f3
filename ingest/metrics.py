"""Metric samples from CSV (NAB-style ``timestamp,value``), JSON samples and Prometheus text.

CSV comes in two shapes: long (a ``value`` column; any other column is a label,
``name``/``metric`` names the series) and wide (no ``value`` column: every
non-time column is its own series). Non-finite values are rejected, not stored:
NaN and Inf poison every window statistic downstream.
"""

from __future__ import annotations

import csv
import math
import re
from datetime import datetime
from typing import Any, Iterable, Iterator, TextIO

from aiops.schema import MetricSample
from ingest.errors import ErrorPolicy, ParseError
from ingest.jsondocs import Fields, iter_json_items
from ingest.timestamps import TimestampParser

TIME_COLUMNS = ("timestamp", "time", "ts", "date", "datetime", "@timestamp")
NAME_COLUMNS = ("name", "metric", "__name__", "series")
_VALUE_KEYS = ("value", "v", "val")


def read_metrics_csv(lines: Iterable[str], *, source: str = "", name: str = "",
                     timezone: str | None = None, policy: ErrorPolicy | None = None,
                     first_row: int = 2) -> Iterator[MetricSample]:
    """Samples of a CSV with a header line; ``first_row``: the file line number of the row
    after the header (a resumed file's rest follows its header from further down)."""
    policy = policy or ErrorPolicy()
    timestamps = TimestampParser(tz=timezone)
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        return
    cols = [c.strip() for c in header]
    lower = [c.lower() for c in cols]
    t_idx = next((i for i, c in enumerate(lower) if c in TIME_COLUMNS), None)
    if t_idx is None:
        raise ParseError(f"a CSV header with a time column ({', '.join(TIME_COLUMNS)})",
                         source=source, line=1, field="header", got=",".join(cols))
    n_idx = next((i for i, c in enumerate(lower) if c in NAME_COLUMNS), None)
    v_idx = next((i for i, c in enumerate(lower) if c == "value"), None)
    default_name = name or "value"
    if v_idx is not None:
        label_idx = [i for i in range(len(cols)) if i not in (t_idx, v_idx, n_idx)]
        series = [(v_idx, None)]
    else:
        label_idx = []
        series = [(i, cols[i]) for i in range(len(cols)) if i not in (t_idx, n_idx)]
    copy = len(series) > 1  # a wide CSV: each sample its own labels
    for lineno, row in enumerate(reader, first_row):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != len(cols):
            policy.report(ParseError(f"{len(cols)} columns like the header", source=source,
                                     line=lineno, field="row", got=",".join(row)))
            continue
        try:
            ts = timestamps.parse(row[t_idx])
        except ParseError as err:
            err.field = cols[t_idx]
            policy.report(err.located(source=source, line=lineno))
            continue
        labels = {cols[i]: v for i in label_idx if (v := row[i]) != ""}
        base = row[n_idx] if n_idx is not None and row[n_idx] else default_name
        for idx, col_name in series:
            text = row[idx].strip()
            if col_name is not None and text == "":
                continue  # wide CSVs leave gaps where a series has no sample
            try:
                value = float(text)
            except ValueError:
                policy.report(ParseError("a number", source=source, line=lineno,
                                         field=cols[idx], got=text))
                continue
            if not math.isfinite(value):
                policy.report(ParseError("a finite number", source=source, line=lineno,
                                         field=cols[idx], got=text))
                continue
            yield MetricSample(ts, col_name or base, value, dict(labels) if copy else labels,
                               source, lineno)  # positional: faster than keywords


def sample_from_object(obj: Any, *, location: str, source: str,
                       timestamps: TimestampParser, name: str = "") -> Iterator[MetricSample]:
    """One JSON sample, or a Prometheus query-style series ``{"metric": {...}, "values": [...]}``."""
    f = Fields(obj, location, source)
    if isinstance(f.obj.get("values"), list) and isinstance(f.obj.get("metric"), dict):
        labels = f.string_map("metric")
        series_name = labels.pop("__name__", "") or name or "value"
        for i, pair in enumerate(f.obj["values"]):
            if not (isinstance(pair, list) and len(pair) == 2):
                raise f.error(f"values[{i}]", "a [timestamp, value] pair", pair)
            ts = timestamps.parse(pair[0])
            value = _strict_float(pair[1], f, f"values[{i}][1]", allow_numeric_string=True)
            yield MetricSample(ts=ts, name=series_name, value=value, labels=labels,
                               source=source, line=f.line or 0)
        return
    series_name = f.string(*NAME_COLUMNS) or name
    if not series_name:
        raise f.error("name", "a metric name (name, metric or __name__)", None)
    value = f.number(*_VALUE_KEYS)
    ts = f.timestamp(timestamps, *TIME_COLUMNS)
    labels = f.string_map("labels", "tags")
    for key, extra in f.rest().items():
        if isinstance(extra, (str, int, float)) and not isinstance(extra, bool):
            labels.setdefault(key, str(extra))
        else:
            raise f.error(key, "a label value (string or number)", extra)
    yield MetricSample(ts=ts, name=series_name, value=value, labels=labels, source=source,
                       line=f.line or 0)


def _strict_float(value: Any, f: Fields, key: str, allow_numeric_string: bool = False) -> float:
    if isinstance(value, bool):
        raise f.error(key, "a number (not a boolean)", value)
    if isinstance(value, str) and allow_numeric_string:
        try:
            value = float(value)
        except ValueError:
            raise f.error(key, "a number", value) from None
    if not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise f.error(key, "a finite number", value)
    return float(value)


def read_metrics_json(data: bytes | str | TextIO, *, source: str = "", name: str = "",
                      timezone: str | None = None, policy: ErrorPolicy | None = None,
                      lines_before: int = 0) -> Iterator[MetricSample]:
    policy = policy or ErrorPolicy()
    timestamps = TimestampParser(tz=timezone)
    for location, item in iter_json_items(data, source=source, policy=policy,
                                          lines_before=lines_before):
        try:
            yield from list(sample_from_object(item, location=location, source=source,
                                               timestamps=timestamps, name=name))
        except ParseError as err:
            policy.report(err)


# -- Prometheus text exposition format -------------------------------------------------------
_PROM_LINE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)"
    r"(?:\s+(?P<ts>-?\d+))?\s*$"
)
_PROM_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def _prom_labels(text: str) -> dict[str, str] | None:
    labels: dict[str, str] = {}
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _PROM_LABEL.match(text, pos)
        if m is None:
            return None
        labels[m.group(1)] = re.sub(r'\\[\\"n]', lambda e: _UNESCAPE[e.group(0)], m.group(2))
        pos = m.end()
    return labels


def read_prometheus_text(lines: Iterable[str], *, default_ts: datetime, source: str = "",
                         policy: ErrorPolicy | None = None) -> Iterator[MetricSample]:
    """Exposition format lines; samples without a timestamp take ``default_ts`` (the scrape time)."""
    policy = policy or ErrorPolicy()
    timestamps = TimestampParser()
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _PROM_LINE.match(line)
        labels = _prom_labels(m.group("labels")) if m and m.group("labels") else {}
        if m is None or labels is None:
            policy.report(ParseError('a sample line: name{label="value",...} value [timestamp_ms]',
                                     source=source, line=lineno, got=line))
            continue
        text = m.group("value")
        try:
            value = float(text)
        except ValueError:
            policy.report(ParseError("a sample value (a number)", source=source, line=lineno,
                                     field="value", got=text))
            continue
        if not math.isfinite(value):
            policy.report(ParseError("a finite sample value (NaN/Inf are not stored)",
                                     source=source, line=lineno, field="value", got=text))
            continue
        ts = default_ts
        if m.group("ts"):
            try:
                ts = timestamps.parse(int(m.group("ts")))  # milliseconds since epoch
            except ParseError as err:
                err.field = "timestamp"
                policy.report(err.located(source=source, line=lineno))
                continue
        yield MetricSample(ts=ts, name=m.group("name"), value=value, labels=labels,
                           source=source, line=lineno)

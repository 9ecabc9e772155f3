"""Loki's push API: what Promtail, Grafana Alloy, Fluent Bit's ``loki`` output, Vector's
``loki`` sink and Docker's Loki driver send, so any of them can ship logs to aiops instead
of (or besides) Loki.

Two encodings of one thing, streams of entries: JSON (``{"streams": [{"stream": {labels},
"values": [["<unix ns>", "<line>", {structured metadata}], ...]}]}``, gzip or not) and
snappy-compressed protobuf ``logproto.PushRequest`` (Promtail's default; labels as a
``{key="value", ...}`` string, entries with a protobuf Timestamp). A stream's labels name
the service (Loki 3's ``service_name``, then ``service``, ``app``, ``container``, ``job``...)
and host; a ``level`` label (or ``detected_level``) is the level, else the line is read as
the app's record (JSON, logfmt or a known text layout) for level, message and fields, as a
container runtime's line is. Every label is an attribute.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Iterator

import orjson

from aiops.schema import EPOCH, LEVELS, LogRecord, host_label, normalize_level
from ingest import protobufs
from ingest.applines import AppLines
from ingest.errors import ErrorPolicy, ParseError
from ingest.protobufs import message_classes, snappy_block

SOURCE = "loki"
SERVICE_LABELS = ("service_name", "service", "app", "application", "app_kubernetes_io_name",
                  "container", "container_name", "compose_service", "job", "unit")
#: ``aiops.schema.HOST_LABELS`` (what the rest of aiops reads a host from) and Kubernetes'
#: ``node_name`` (Promtail's and Alloy's usual relabelling of a pod's node); an
#: ``instance``'s port is dropped, as everywhere
HOST_LABELS = ("host", "hostname", "node", "nodename", "node_name", "instance")
LEVEL_LABELS = ("level", "detected_level", "severity", "lvl")
_MAX_NS = 7_258_118_400 * 10**9  # 2200-01-01
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')

MESSAGES = message_classes("aiops.logproto", {
    "Timestamp": [("seconds", 1, "int64", False), ("nanos", 2, "int32", False)],
    "LabelPair": [("name", 1, "string", False), ("value", 2, "string", False)],
    "Entry": [("timestamp", 1, "Timestamp", False), ("line", 2, "string", False),
              ("structuredMetadata", 3, "LabelPair", True)],
    "Stream": [("labels", 1, "string", False), ("entries", 2, "Entry", True),
               ("hash", 3, "uint64", False)],
    "PushRequest": [("streams", 1, "Stream", True)],
})
PushRequest = MESSAGES["PushRequest"]


def parse_labels(text: str) -> dict[str, str] | None:
    """``{job="varlogs", app="checkout"}`` -> a dict; None when it is not that."""
    inner = text.strip()
    if not (inner.startswith("{") and inner.endswith("}")):
        return None
    inner = inner[1:-1].strip()
    out: dict[str, str] = {}
    pos = 0
    while pos < len(inner):
        m = _LABEL.match(inner, pos)
        if m is None:
            return None
        out[m.group(1)] = re.sub(r"\\(.)", r"\1", m.group(2))
        pos = m.end()
    return out


def streams_from_json(data: bytes) -> list[tuple[Any, list]]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as err:
        raise ParseError("a JSON Loki push body {\"streams\": [...]}", source=SOURCE,
                         field="body", got=str(err)[:200]) from None
    streams = doc.get("streams") if isinstance(doc, dict) else None
    if not isinstance(streams, list):
        raise ParseError("a JSON Loki push body {\"streams\": [...]}", source=SOURCE,
                         field="streams", got=type(streams).__name__ if streams is not None
                         else sorted(doc)[:5] if isinstance(doc, dict) else type(doc).__name__)
    return [(s.get("stream") if isinstance(s, dict) else None,
             s.get("values") if isinstance(s, dict) else None) for s in streams]


def streams_from_protobuf(body: bytes, max_bytes: int) -> list[tuple[Any, list]]:
    request = protobufs.decode(PushRequest, snappy_block(body, max_bytes, SOURCE),
                               "logproto.PushRequest", SOURCE)
    out = []
    for stream in request.streams:
        entries = [(entry.timestamp.seconds * 10**9 + entry.timestamp.nanos, entry.line,
                    {p.name: p.value for p in entry.structuredMetadata})
                   for entry in stream.entries]
        out.append((stream.labels, entries))
    return out


def records(streams: list[tuple[Any, list]], *, policy: ErrorPolicy,
            max_labels: int) -> Iterator[LogRecord]:
    """The entries of ``streams`` (JSON's ``values`` or protobuf's decoded entries)."""
    app = AppLines(SOURCE)
    n = 0
    for si, (labels, entries) in enumerate(streams):
        where = f"streams[{si}]"
        if isinstance(labels, str):
            labels = parse_labels(labels)
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            policy.report(ParseError('stream labels: an object of strings (JSON) or '
                                     '{key="value", ...}', source=SOURCE, line=si + 1,
                                     field=f"{where}.stream", got=labels))
            continue
        if len(labels) > max_labels:
            policy.report(ParseError(f"at most {max_labels} stream labels", source=SOURCE,
                                     line=si + 1, field=f"{where}.stream",
                                     got=f"{len(labels)} labels"))
            continue
        if not isinstance(entries, list):
            policy.report(ParseError("values: a list of [\"<unix ns>\", \"<line>\"]",
                                     source=SOURCE, line=si + 1, field=f"{where}.values",
                                     got=type(entries).__name__))
            continue
        service = next((labels[k] for k in SERVICE_LABELS if labels.get(k)), "")
        host = host_label(labels, HOST_LABELS)
        level = normalize_level(next((labels[k] for k in LEVEL_LABELS if labels.get(k)), ""))
        if level not in LEVELS:  # Loki's detected_level="unknown"
            level = ""
        for ei, entry in enumerate(entries):
            n += 1
            at = f"{where}.values[{ei}]"
            parsed = _entry(entry)
            if parsed is None:
                policy.report(ParseError('an entry ["<unix ns as a string>", "<line>"(, '
                                         '{metadata})]', source=SOURCE, line=si + 1, field=at,
                                         got=entry))
                continue
            ns, line, metadata = parsed
            if not 0 < ns < _MAX_NS:
                policy.report(ParseError("a time in nanoseconds since the epoch, 1970-2200",
                                         source=SOURCE, line=si + 1, field=at, got=ns))
                continue
            message, entry_level, fields = line, level, {}
            found = app.parse(line, n)
            if found is not None:
                message, _, _, app_level, fields = found
                entry_level = level or app_level
            yield LogRecord(ts=EPOCH + timedelta(microseconds=ns // 1000), message=message,
                            service=service, host=host, level=entry_level,
                            attributes={**fields, **labels, **metadata}, raw=line,
                            source=SOURCE, line=n)


def _entry(entry: Any) -> tuple[int, str, dict[str, str]] | None:
    if isinstance(entry, tuple):  # decoded from protobuf
        return entry
    if not isinstance(entry, list) or len(entry) not in (2, 3) or not isinstance(entry[1], str):
        return None
    try:
        ns = int(entry[0])
    except (TypeError, ValueError):
        return None
    metadata = entry[2] if len(entry) == 3 else {}
    if not isinstance(metadata, dict):
        return None
    return ns, entry[1], {str(k): str(v) for k, v in metadata.items()}

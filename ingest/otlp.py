"""OTLP/HTTP logs and metrics (protobuf or JSON) to LogRecords and MetricSamples.

Decoding uses the ``opentelemetry-proto`` messages. The JSON variant follows the
OTLP JSON mapping (lowerCamelCase keys, 64-bit integers as strings, enums as
integers, trace/span ids as hex rather than base64); it is normalised and parsed
into the same messages, so one code path turns both into records.

A request that cannot be decoded raises ``ParseError`` (the server answers 400).
Records that decode but cannot be stored (no timestamp, out of range, NaN,
too many attributes) are reported through the ``ErrorPolicy`` and counted: the
OTLP "partial success".
"""

from __future__ import annotations

import base64
import math
from datetime import datetime, timedelta
from typing import Any, Iterator

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest, ExportLogsServiceResponse)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest, ExportMetricsServiceResponse)

from aiops.schema import EPOCH, LogRecord, MetricSample
from ingest.applines import AppLines
from ingest.cri import CRI
from ingest.errors import ErrorPolicy, ParseError

#: 1970-01-01 .. 2200-01-01, the range every aiops timestamp parser accepts
MAX_NANOS = 7_258_118_400 * 1_000_000_000
_SEVERITY = ((4, "TRACE"), (8, "DEBUG"), (12, "INFO"), (16, "WARN"), (20, "ERROR"), (24, "FATAL"))
_NO_RECORDED_VALUE = 1
DEFAULT_MAX_ATTRIBUTES = 128


# -- decoding ----------------------------------------------------------------------------------
def decode_request(data: bytes, kind: str, fmt: str, source: str = "otlp") -> Any:
    """Bytes (protobuf or JSON) to ExportLogsServiceRequest / ExportMetricsServiceRequest."""
    message = ExportLogsServiceRequest() if kind == "logs" else ExportMetricsServiceRequest()
    name = type(message).__name__
    if fmt == "protobuf":
        try:
            message.ParseFromString(data)
        except (DecodeError, ValueError, RuntimeError) as exc:
            raise ParseError(f"a binary protobuf {name} ({exc})", source=source,
                             field="body", got=data[:16].hex()) from None
        return message
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"a JSON {name} ({exc.msg} at char {exc.pos})", source=source,
                         field="body", got=data[max(0, exc.pos - 20):exc.pos + 20]) from None
    if not isinstance(obj, dict):
        raise ParseError(f"a JSON object ({name})", source=source, field="body",
                         got=type(obj).__name__)
    _hex_ids_to_base64(obj)
    try:
        json_format.ParseDict(obj, message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, OverflowError) as exc:
        raise ParseError(f"an OTLP JSON {name} as the OTLP JSON mapping defines it",
                         source=source, field=_error_path(str(exc)), got=str(exc)) from None
    return message


def _hex_ids_to_base64(obj: Any) -> None:
    """OTLP JSON writes traceId/spanId as hex; protobuf's JSON mapping wants base64."""
    stack = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in ("traceId", "spanId", "trace_id", "span_id"):
                value = node.get(key)
                if isinstance(value, str) and value:
                    try:
                        node[key] = base64.b64encode(bytes.fromhex(value)).decode()
                    except ValueError:
                        pass  # left as is: ParseDict names the field
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))


def _error_path(message: str) -> str | None:
    marker = " at "
    if marker in message:
        return message.rsplit(marker, 1)[1].strip().rstrip(".") or None
    return None


def encode_response(kind: str, fmt: str, rejected: int, error_message: str = "") -> bytes:
    """The Export*ServiceResponse body, with partial_success filled when something was rejected."""
    resp = ExportLogsServiceResponse() if kind == "logs" else ExportMetricsServiceResponse()
    if rejected:
        if kind == "logs":
            resp.partial_success.rejected_log_records = rejected
        else:
            resp.partial_success.rejected_data_points = rejected
        resp.partial_success.error_message = error_message
    if fmt == "protobuf":
        return resp.SerializeToString()
    body: dict[str, Any] = {}
    if rejected:
        key = "rejectedLogRecords" if kind == "logs" else "rejectedDataPoints"
        body["partialSuccess"] = {key: str(rejected), "errorMessage": error_message}
    return orjson.dumps(body)


def encode_status(fmt: str, code: int, message: str) -> bytes:
    """A ``google.rpc.Status`` body (what OTLP/HTTP error responses carry), encoded by hand."""
    if fmt != "protobuf":
        return orjson.dumps({"code": code, "message": message})
    text = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


# -- values ------------------------------------------------------------------------------------
def any_value(v: Any) -> Any:
    """An AnyValue as plain Python (bytes as hex, kvlists as dicts)."""
    which = v.WhichOneof("value")
    if which == "string_value":
        return v.string_value
    if which == "int_value":
        return v.int_value
    if which == "double_value":
        return v.double_value
    if which == "bool_value":
        return v.bool_value
    if which == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    if which == "bytes_value":
        return v.bytes_value.hex()
    return None


def attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in kvs}


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    return orjson.dumps(value).decode()


def _ts(nanos: int) -> datetime:
    return EPOCH + timedelta(microseconds=nanos // 1000)


def _level(severity_text: str, severity_number: int) -> str:
    from aiops.schema import normalize_level

    if severity_text:
        return normalize_level(severity_text)
    for top, name in _SEVERITY:
        if 0 < severity_number <= top:
            return name
    return ""


# -- records -----------------------------------------------------------------------------------
#: the resource attributes that name a service and a host, in order: ``service.name``, then
#: the Kubernetes workload (what the Collector's k8sattributes processor adds to container
#: logs, whose SDK-less resources carry no ``service.name``, or only ``unknown_service``)
_SERVICE_ATTRIBUTES = ("service.name", "k8s.deployment.name", "k8s.statefulset.name",
                       "k8s.daemonset.name", "k8s.cronjob.name", "k8s.job.name",
                       "k8s.container.name")
_HOST_ATTRIBUTES = ("host.name", "k8s.node.name")


def _resource_name(resource: dict, keys: tuple[str, ...]) -> str:
    for key in keys:
        value = _as_text(resource.get(key, ""))
        if value and not value.startswith("unknown_service"):
            return value
    return _as_text(resource.get(keys[0], ""))  # "unknown_service:java" rather than nothing


def log_records(request: ExportLogsServiceRequest, *, policy: ErrorPolicy, source: str = "otlp",
                max_attributes: int = DEFAULT_MAX_ATTRIBUTES) -> Iterator[LogRecord]:
    """Every log record of the request; resource attributes go to ``attributes["resource"]``."""
    n = 0
    app: AppLines | None = None
    for ri, rl in enumerate(request.resource_logs):
        resource = attributes(rl.resource.attributes)
        service = _resource_name(resource, _SERVICE_ATTRIBUTES)
        host = _resource_name(resource, _HOST_ATTRIBUTES)
        for si, sl in enumerate(rl.scope_logs):
            scope = sl.scope.name
            for li, lr in enumerate(sl.log_records):
                n += 1
                where = f"resourceLogs[{ri}].scopeLogs[{si}].logRecords[{li}]"
                nanos = lr.time_unix_nano or lr.observed_time_unix_nano
                if not nanos or nanos >= MAX_NANOS:
                    policy.report(ParseError(
                        "timeUnixNano or observedTimeUnixNano between 1970 and 2200",
                        source=source, line=n, field=f"{where}.timeUnixNano", got=str(nanos)))
                    continue
                attrs = attributes(lr.attributes)
                if len(attrs) + len(resource) > max_attributes:
                    policy.report(ParseError(
                        f"at most {max_attributes} attributes (record + resource)",
                        source=source, line=n, field=f"{where}.attributes",
                        got=f"{len(attrs) + len(resource)} attributes"))
                    continue
                body = any_value(lr.body) if lr.HasField("body") else ""
                message = raw = _as_text(body) if body is not None else ""
                level = _level(lr.severity_text, lr.severity_number)
                if not level and type(body) is str and body:
                    # no severity: a line the Collector read from a file as it stands (its
                    # filelog receiver without operators), the level still inside it
                    if app is None:
                        app = AppLines(source)
                    message, level, found = _app_line(app, body, n)
                    attrs = {**found, **attrs}
                if resource:
                    attrs["resource"] = resource
                if scope:
                    attrs["scope"] = scope
                if lr.trace_id:
                    attrs["trace_id"] = lr.trace_id.hex()
                if lr.span_id:
                    attrs["span_id"] = lr.span_id.hex()
                if lr.event_name:
                    attrs["event_name"] = lr.event_name
                yield LogRecord(ts=_ts(nanos), message=message, service=service, host=host,
                                level=level, attributes=attrs, raw=raw, source=source,
                                line=n)


def _app_line(app: AppLines, body: str, line: int) -> tuple[str, str, dict[str, Any]]:
    """(message, level, fields) of a severity-less body: the app's record in it, inside a
    container runtime's line (CRI) when it is one (a split line's parts stay apart)."""
    fields: dict[str, Any] = {}
    text = body
    cri = CRI.match(body.rstrip("\r\n"))
    if cri is not None:
        fields["stream"] = cri.group("Stream")
        text = cri.group("Content") or ""
    found = app.parse(text, line)
    if found is None:  # plain text: the body as it came, less a runtime's prefix
        return (text if cri is not None else body), "", fields
    message, _, _, level, app_fields = found
    return message, level, {**app_fields, **fields}


def metric_samples(request: ExportMetricsServiceRequest, *, policy: ErrorPolicy,
                   source: str = "otlp", max_labels: int = DEFAULT_MAX_ATTRIBUTES
                   ) -> Iterator[MetricSample]:
    """Gauges and sums as samples; histograms and summaries as ``_count``/``_sum`` (+ quantiles).

    The resource's ``service.name`` (or its Kubernetes workload) becomes the ``service``
    label (unless the point has one), so samples reach the same service as its logs.
    """
    n = 0
    for ri, rm in enumerate(request.resource_metrics):
        resource = attributes(rm.resource.attributes)
        base: dict[str, str] = {}
        if service := _resource_name(resource, _SERVICE_ATTRIBUTES):
            base["service"] = service
        if host := _resource_name(resource, _HOST_ATTRIBUTES):
            base["host"] = host
        for si, sm in enumerate(rm.scope_metrics):
            for mi, metric in enumerate(sm.metrics):
                which = metric.WhichOneof("data")
                where = f"resourceMetrics[{ri}].scopeMetrics[{si}].metrics[{mi}]"
                if which is None:
                    continue
                for pi, point in enumerate(getattr(metric, which).data_points):
                    n += 1
                    at = f"{where}.{_camel(which)}.dataPoints[{pi}]"
                    if point.flags & _NO_RECORDED_VALUE:
                        continue
                    nanos = point.time_unix_nano
                    if not nanos or nanos >= MAX_NANOS:
                        policy.report(ParseError("timeUnixNano between 1970 and 2200",
                                                 source=source, line=n,
                                                 field=f"{at}.timeUnixNano", got=str(nanos)))
                        continue
                    labels = {**base, **{k: _as_text(v)
                                         for k, v in attributes(point.attributes).items()}}
                    if len(labels) > max_labels:
                        policy.report(ParseError(f"at most {max_labels} attributes",
                                                 source=source, line=n, field=f"{at}.attributes",
                                                 got=f"{len(labels)} attributes"))
                        continue
                    try:
                        values = list(_point_values(metric.name, which, point))
                    except ParseError as err:
                        err.source, err.line, err.field = source, n, f"{at}.{err.field}"
                        err.located()
                        policy.report(err)
                        continue
                    ts = _ts(nanos)
                    for name, value, extra in values:
                        yield MetricSample(ts=ts, name=name, value=value,
                                           labels={**labels, **extra} if extra else labels,
                                           source=source, line=n)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _finite(value: float, field: str) -> float:
    if not math.isfinite(value):
        raise ParseError("a finite number (NaN/Inf are not stored)", field=field, got=str(value))
    return float(value)


def _point_values(name: str, which: str, point: Any) -> Iterator[tuple[str, float, dict]]:
    if which in ("gauge", "sum"):
        kind = point.WhichOneof("value")
        if kind is None:
            raise ParseError("asDouble or asInt", field="value")
        yield name, _finite(getattr(point, kind), _camel(kind)), {}
        return
    yield f"{name}_count", float(point.count), {}
    if which != "summary" and not point.HasField("sum"):
        return
    yield f"{name}_sum", _finite(point.sum, "sum"), {}
    if which == "summary":
        for q in point.quantile_values:
            yield name, _finite(q.value, "quantileValues.value"), {"quantile": repr(q.quantile)}

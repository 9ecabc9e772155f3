"""Prometheus remote write 1.0: a snappy-compressed ``prometheus.WriteRequest`` -> samples.

What Prometheus (and Grafana Agent/Alloy, VictoriaMetrics' vmagent, the OTel Collector's
``prometheusremotewrite`` exporter) send to ``remote_write`` URLs: each series' labels,
``__name__`` among them, and its samples (float value, milliseconds since the epoch). The
message types are built at import from a descriptor (the three messages aiops reads, the
field numbers of ``prompb/types.proto`` and ``remote.proto``), decoded by the protobuf
runtime ``opentelemetry-proto`` already brings; no generated code to vendor.

Staleness markers (the NaN Prometheus writes when a series disappears) and other NaN values
carry no measurement and are skipped, counted in the result; a series without a name, a
label without a name or a time outside 1970-2200 is refused by name and index.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from aiops.schema import EPOCH, MetricSample
from ingest.errors import ErrorPolicy, ParseError

_MAX_MS = 7_258_118_400_000  # 2200-01-01


def _message_classes() -> dict[str, Any]:
    f = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(name="aiops_prompb_remote.proto",
                                               package="aiops.prompb", syntax="proto3")

    def message(name: str, *fields: tuple[str, int, int, str | None, bool]) -> None:
        msg = proto.message_type.add(name=name)
        for field_name, number, kind, type_name, repeated in fields:
            spec = msg.field.add(name=field_name, number=number, type=kind,
                                 label=f.LABEL_REPEATED if repeated else f.LABEL_OPTIONAL)
            if type_name:
                spec.type_name = f".aiops.prompb.{type_name}"

    message("Label", ("name", 1, f.TYPE_STRING, None, False),
            ("value", 2, f.TYPE_STRING, None, False))
    message("Sample", ("value", 1, f.TYPE_DOUBLE, None, False),
            ("timestamp", 2, f.TYPE_INT64, None, False))
    # exemplars (3) and native histograms (4) are not read: unknown fields, skipped
    message("TimeSeries", ("labels", 1, f.TYPE_MESSAGE, "Label", True),
            ("samples", 2, f.TYPE_MESSAGE, "Sample", True))
    message("WriteRequest", ("timeseries", 1, f.TYPE_MESSAGE, "TimeSeries", True))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {name: message_factory.GetMessageClass(
        pool.FindMessageTypeByName(f"aiops.prompb.{name}"))
        for name in ("WriteRequest", "TimeSeries", "Label", "Sample")}


MESSAGES = _message_classes()
WriteRequest = MESSAGES["WriteRequest"]


def decompress(body: bytes, max_bytes: int) -> bytes:
    """The snappy *block* format remote write uses (not the framed one), bounded."""
    import cramjam

    try:
        size = _snappy_length(body)
        if size > max_bytes:
            raise ParseError(f"a remote-write body of at most {max_bytes} bytes uncompressed",
                             source="remote-write", field="body", got=f"{size} bytes")
        return bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as err:
        raise ParseError("a snappy-compressed (block format) remote-write body",
                         source="remote-write", field="body", got=str(err)[:200]) from None


def _snappy_length(body: bytes) -> int:
    """The uncompressed length a snappy block announces (a varint first): checked before
    decompressing, so a 50-byte body cannot claim and allocate gigabytes."""
    size, shift = 0, 0
    for byte in body[:10]:
        size |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return size
        shift += 7
    raise ParseError("a snappy-compressed (block format) remote-write body",
                     source="remote-write", field="body", got="no length prefix")


def decode(data: bytes) -> Any:
    try:
        return WriteRequest.FromString(data)
    except Exception as err:  # protobuf's DecodeError, or a message nested too deep
        raise ParseError("a protobuf prometheus.WriteRequest (remote write 1.0)",
                         source="remote-write", field="body", got=str(err)[:200]) from None


def samples(request: Any, *, policy: ErrorPolicy, max_labels: int) -> tuple[list[MetricSample],
                                                                             int]:
    """The request's samples, and how many carried no value (NaN, staleness markers)."""
    out: list[MetricSample] = []
    skipped = 0
    for si, series in enumerate(request.timeseries):
        where = f"timeseries[{si}]"
        labels: dict[str, str] = {}
        problem = None
        for label in series.labels:
            if not label.name:
                problem = ("labels", "every label named", "a label with an empty name")
                break
            labels[label.name] = label.value
        name = labels.pop("__name__", "")
        if problem is None and not name:
            problem = ("labels", "a __name__ label (the metric name)", sorted(labels)[:5])
        if problem is None and len(labels) > max_labels:
            problem = ("labels", f"at most {max_labels} labels", f"{len(labels)} labels")
        if problem is not None:
            policy.report(ParseError(problem[1], source="remote-write", line=si + 1,
                                     field=f"{where}.{problem[0]}", got=problem[2]))
            continue
        for pi, sample in enumerate(series.samples):
            value, ms = sample.value, sample.timestamp
            if math.isnan(value):
                skipped += 1  # no measurement (a staleness marker: the series went away)
                continue
            if not 0 < ms < _MAX_MS:
                policy.report(ParseError(
                    "a timestamp in milliseconds since the epoch, 1970-2200",
                    source="remote-write", line=si + 1,
                    field=f"{where}.samples[{pi}].timestamp", got=ms))
                continue
            out.append(MetricSample(ts=EPOCH + timedelta(milliseconds=ms), name=name,
                                    value=value, labels=dict(labels), source="remote-write",
                                    line=si + 1))
    return out, skipped

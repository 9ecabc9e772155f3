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

from aiops.schema import EPOCH, MetricSample
from ingest import protobufs
from ingest.errors import ErrorPolicy, ParseError
from ingest.protobufs import message_classes, snappy_block

_MAX_MS = 7_258_118_400_000  # 2200-01-01


MESSAGES = message_classes("aiops.prompb", {
    "Label": [("name", 1, "string", False), ("value", 2, "string", False)],
    "Sample": [("value", 1, "double", False), ("timestamp", 2, "int64", False)],
    # exemplars (3) and native histograms (4) are not read: unknown fields, skipped
    "TimeSeries": [("labels", 1, "Label", True), ("samples", 2, "Sample", True)],
    "WriteRequest": [("timeseries", 1, "TimeSeries", True)],
})
WriteRequest = MESSAGES["WriteRequest"]


def decompress(body: bytes, max_bytes: int) -> bytes:
    return snappy_block(body, max_bytes, "remote-write")


def decode(data: bytes) -> Any:
    return protobufs.decode(WriteRequest, data, "prometheus.WriteRequest (remote write 1.0)",
                            "remote-write")


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

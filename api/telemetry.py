"""``/metrics``: aiops's own Prometheus exposition (ingest counts, lag, latencies, open incidents).

One registry per app (tests build many apps). Counters are bumped on the request
path; the lag, watermark and incident gauges are read from the engine and store
at scrape time, so they cost nothing between scrapes.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

from prometheus_client import (CollectorRegistry, Counter, Histogram, disable_created_metrics,
                               generate_latest)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from aiops.store import queries

disable_created_metrics()  # *_created series only double the exposition

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Telemetry:
    def __init__(self, backend: Any, notifier: Any = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.records = Counter("aiops_records_ingested", "Records accepted (committed) by kind",
                               ["kind", "endpoint"], registry=self.registry)
        self.rejected = Counter("aiops_records_rejected", "Records rejected by kind",
                                ["kind", "endpoint"], registry=self.registry)
        self.batches = Counter("aiops_batches", "Ingest requests by outcome",
                               ["endpoint", "outcome"], registry=self.registry)
        self.latency = Histogram("aiops_http_request_duration_seconds",
                                 "HTTP request latency by route and status class",
                                 ["method", "route", "status"], buckets=LATENCY_BUCKETS,
                                 registry=self.registry)
        self.registry.register(_Scraped(backend, notifier))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.latency.labels(method, route, f"{status // 100}xx").observe(seconds)

    def count(self, kind: str, endpoint: str, accepted: int, rejected: int, outcome: str) -> None:
        if accepted:
            self.records.labels(kind, endpoint).inc(accepted)
        if rejected:
            self.rejected.labels(kind, endpoint).inc(rejected)
        self.batches.labels(endpoint, outcome).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _Scraped:
    """Gauges computed when Prometheus scrapes."""

    def __init__(self, backend: Any, notifier: Any = None) -> None:
        self.backend = backend
        self.notifier = notifier

    def describe(self) -> list:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        lag = self.backend.lag()
        g = GaugeMetricFamily("aiops_processing_lag_batches",
                              "Committed batches not yet processed by the engine")
        g.add_metric([], lag["batches"])
        yield g
        g = GaugeMetricFamily("aiops_processing_lag_seconds",
                              "Age of the oldest committed batch not yet processed")
        g.add_metric([], lag["seconds"])
        yield g
        g = GaugeMetricFamily("aiops_processed_offset", "Last input offset processed")
        g.add_metric([], lag["processed_offset"])
        yield g
        wm = self.backend.watermark
        g = GaugeMetricFamily("aiops_event_time_watermark_seconds",
                              "Event-time watermark (max event time minus lateness), Unix time")
        g.add_metric([], wm.timestamp() if wm is not None else 0.0)
        yield g
        g = GaugeMetricFamily("aiops_incidents", "Incidents in the store by status",
                              labels=["status"])
        for status, n in self.backend.incident_counts().items():
            g.add_metric([status], n)
        yield g
        g = GaugeMetricFamily("aiops_processor_errors",
                              "Processing failures of the background worker since start")
        g.add_metric([], self.backend.errors)
        yield g
        log = queries.input_log(self.backend.store)
        g = GaugeMetricFamily("aiops_input_log_oldest_batch_age_seconds",
                              "Age of the oldest batch still in the input log (0: empty); "
                              "bounded by [store] input_retention once checkpointed")
        g.add_metric([], max(0.0, log["oldest_age_s"] or 0.0))
        yield g
        g = GaugeMetricFamily("aiops_input_log_pruned_batches",
                              "Batches the retention removed from the input log")
        g.add_metric([], log["pruned_batches"])
        yield g
        series = self.backend.summary().get("metric_series", {})
        g = GaugeMetricFamily("aiops_metric_series_scored",
                              "Metric series the detector scores (at most [detect.metrics] "
                              "max_series per engine partition)")
        g.add_metric([], series.get("scored", 0))
        yield g
        g = GaugeMetricFamily("aiops_metric_samples_not_scored",
                              "Samples of metric series past [detect.metrics] max_series: "
                              "stored and counted, not scored (alert if it grows)")
        g.add_metric([], series.get("samples_not_scored", 0))
        yield g
        if self.notifier is not None:  # the paging pipeline: alert on its failures
            yield from _notify_families(self.notifier.status())
        g = GaugeMetricFamily("aiops_uptime_seconds", "Seconds since the service started")
        g.add_metric([], time.monotonic() - self.backend.started)
        yield g


def _notify_families(status: dict[str, dict]) -> Iterator[Any]:
    """Per ``[[notify.webhooks]]`` entry: what was sent, refused, retried, still pending."""
    for name, help_text in (
            ("sent", "Incident changes delivered (2xx) per webhook"),
            ("rejected", "Incident changes a webhook refused with a 4xx (not retried)"),
            ("failures", "Failed delivery attempts per webhook (retried)")):
        c = CounterMetricFamily(f"aiops_notifications_{name}", help_text, labels=["webhook"])
        for hook, s in status.items():
            c.add_metric([hook], s.get(name, 0))
        yield c
    g = GaugeMetricFamily("aiops_notifications_pending",
                          "Incident changes a webhook has not delivered yet (alert if it grows)",
                          labels=["webhook"])
    for hook, s in status.items():
        g.add_metric([hook], s.get("pending", 0))
    yield g

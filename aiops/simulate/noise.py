"""Alert rules of the simulated monitoring and the background noise every real
system has: flapping probes, transient blips, low-severity reminders, a job
failing inside a maintenance window, routine deploys and config changes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from aiops.simulate.alerting import Rule, above, below, predict_below
from aiops.simulate.signals import Impact, Series
from aiops.simulate.topology import Topology

NODE = ("instance",)


def standard_rules() -> list[Rule]:
    """What a team would run: RED alerts per service, saturation per store and node."""
    return [
        Rule(
            "HighErrorRate",
            "http_requests_error_ratio",
            above(0.05),
            30,
            "critical",
            "{service} 5xx ratio {pct:.1f}% on {instance}",
        ),
        Rule(
            "HighRequestLatency",
            "http_request_duration_seconds_p99",
            above(0.9),
            30,
            "warning",
            "{service} p99 latency {value:.2f}s on {instance}",
        ),
        Rule(
            "DatabaseConnectionsNearLimit",
            "db_connections_used_ratio",
            above(0.9),
            15,
            "critical",
            "{service} connections at {pct:.0f}% of max_connections",
        ),
        Rule(
            "DatabaseSlowQueries",
            "db_query_duration_seconds_p99",
            above(0.25),
            30,
            "warning",
            "{service} p99 query time {value:.2f}s",
        ),
        Rule(
            "DatabaseErrors",
            "db_errors_per_second",
            above(2.0),
            15,
            "warning",
            "{service} is returning {value:.1f} errors/s",
        ),
        Rule(
            "ModelInferenceLatencyHigh",
            "model_inference_duration_seconds_p99",
            above(0.3),
            30,
            "warning",
            "{service} p99 inference time {value:.2f}s",
        ),
        Rule(
            "ModelConfidenceLow",
            "model_prediction_confidence_mean",
            below(0.65),
            60,
            "warning",
            "{service} mean prediction confidence {value:.2f}",
        ),
        Rule(
            "NodeHighCPU",
            "node_cpu_utilisation",
            above(0.9),
            15,
            "warning",
            "CPU utilisation {pct:.0f}% on {instance}",
            NODE,
            job="node",
        ),
        Rule(
            "NodeFilesystemSpaceFillingUp",
            "node_filesystem_avail_ratio",
            predict_below(0.0, 120, 3600),
            15,
            "critical",
            "Filesystem {mountpoint} on {instance} predicted to fill within 1h",
            ("instance", "mountpoint"),
            job="node",
        ),
        Rule(
            "NodeFilesystemAlmostOutOfSpace",
            "node_filesystem_avail_ratio",
            below(0.05),
            0,
            "critical",
            "Filesystem {mountpoint} on {instance} has {pct:.1f}% space left",
            ("instance", "mountpoint"),
            job="node",
        ),
        Rule(
            "NodeMemoryPressure",
            "node_memory_utilisation",
            above(0.92),
            0,
            "warning",
            "Memory utilisation {pct:.0f}% on {instance}",
            NODE,
            job="node",
        ),
        Rule(
            "BlackboxProbeFailed",
            "probe_success",
            below(0.5),
            0,
            "warning",
            "Probe of {instance} failed",
            ("service", "instance"),
            job="blackbox",
        ),
        Rule(
            "CertificateExpiringSoon",
            "probe_ssl_cert_expiry_days",
            below(14),
            0,
            "info",
            "TLS certificate of {instance} expires in {value:.0f} days",
            ("service", "instance"),
            job="blackbox",
        ),
        Rule(
            "KubeJobFailed",
            "kube_job_failed",
            above(0.5),
            0,
            "warning",
            "Job {job_name} failed",
            ("service", "job_name", "namespace"),
        ),
    ]


#: Rules whose alerts are posted straight to aiops (an uptime checker), not via Alertmanager.
DIRECT_RULES = frozenset({"BlackboxProbeFailed"})
NOISE_KIND = {
    "BlackboxProbeFailed": "flapping",
    "NodeMemoryPressure": "transient",
    "CertificateExpiringSoon": "low_severity",
    "KubeJobFailed": "silenced",
}


@dataclass
class Noise:
    series: list[Series] = field(default_factory=list)
    impacts: list[Impact] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    silences: list[dict] = field(default_factory=list)


def background(topo: Topology, rng: random.Random, duration: float) -> Noise:
    """Noise for a run of ``duration`` seconds; one batch of each kind per ~45 minutes."""
    n = Noise()
    web = topo.of_kind("web")[0]
    n.series.append(
        Series(
            "probe_success",
            {"service": "status-page", "instance": "https://status.example.com/health"},
            "status-page",
            1.0,
            0.0,
            lo=0.0,
            hi=1.0,
            offset=3.0,
        )
    )
    n.series.append(
        Series(
            "probe_ssl_cert_expiry_days",
            {"service": web, "instance": f"https://{web}.example.com"},
            web,
            9.0,
            0.0,
            offset=4.0,
        )
    )
    n.series.append(
        Series(
            "kube_job_failed",
            {"service": "reporting", "job_name": "nightly-export", "namespace": "batch"},
            "reporting",
            0.0,
            0.0,
            offset=5.0,
        )
    )
    periods = max(1, round(duration / 2700))
    for p in range(periods):
        lo, hi = p * duration / periods, (p + 1) * duration / periods
        # flapping: 6-9 short probe failures within ~12 minutes
        t = rng.uniform(lo + 60, max(lo + 61, hi - 900))
        for _ in range(rng.randint(7, 10)):
            width = rng.choice((12, 20, 28, 40, 55, 70))
            n.impacts.append(Impact("probe_success", "status-page", t, t + width, "toward", 0.0, 0, 0))
            t += width + rng.uniform(30, 90)
        # transient blips: node memory spikes for a minute or so
        for _ in range(2):
            host = rng.choice(topo.hosts)
            t = rng.uniform(lo + 60, hi - 60)
            n.impacts.append(
                Impact("node_memory_utilisation", host, t, t + rng.uniform(40, 100), "toward", 0.96, 0, 0)
            )
        # a failing batch job inside a maintenance window (silenced)
        ms = rng.uniform(lo + 120, max(lo + 121, hi - 900))
        me = ms + rng.uniform(600, 900)
        n.impacts.append(Impact("kube_job_failed", "reporting", ms + 60, me - 60, "toward", 1.0, 0, 0))
        n.events.append(
            {
                "t": ms,
                "type": "maintenance",
                "service": "reporting",
                "message": "planned maintenance: reporting database migration",
                "until_s": me,
                "tool": "change-calendar",
            }
        )
        n.silences.append(
            {
                "matchers": ['service="reporting"'],
                "start_s": ms,
                "end_s": me,
                "created_by": "ops@example.com",
                "comment": "reporting DB migration",
            }
        )
        # routine changes that did not break anything
        for _ in range(2):
            svc = rng.choice(sorted(topo.services))
            t = rng.uniform(lo + 30, hi - 30)
            ver = f"v1.{rng.randint(2, 60)}.{rng.randint(0, 9)}"
            n.events.append(
                {
                    "t": t,
                    "type": "deploy",
                    "service": svc,
                    "message": f"Deployed {svc} {ver}",
                    "version": ver,
                    "tool": "argocd",
                }
            )
        svc = rng.choice(topo.of_kind("cache") or sorted(topo.services))
        n.events.append(
            {
                "t": rng.uniform(lo + 30, hi - 30),
                "type": "config_change",
                "service": svc,
                "message": f"{svc}: maxmemory-policy set to allkeys-lru",
                "tool": "terraform",
            }
        )
    return n

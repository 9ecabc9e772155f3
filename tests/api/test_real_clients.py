"""Real clients against a real ``aiops serve`` on 127.0.0.1: Alertmanager, syslog-ng, Prometheus.

Each test skips, with the reason, when the client's Debian package is not installed
(``.ci/run`` installs prometheus-alertmanager, prometheus, syslog-ng-core, syslog-ng-mod-http).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from tests.api.serving import Server, free_port

pytestmark = pytest.mark.clients


def binary(*names: str) -> str:
    for name in names:
        for found in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
            if found and Path(found).exists():
                return found
    pytest.skip(f"{' / '.join(names)} not installed (Debian package needed; see .ci/run)")


def wait_until(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class Daemon:
    def __init__(self, cmd: list[str], log: Path) -> None:
        self.log = log
        self._out = open(log, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._out, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._out.close()


def records(url: str, kind: str) -> list[dict]:
    return httpx.get(url + "/api/v1/records", params={"kind": kind, "limit": 10_000}).json()["items"]


def alertmanager(binary_path: str, tmp_path: Path, aiops_url: str) -> tuple[Daemon, str]:
    """A real Alertmanager on 127.0.0.1 whose one receiver is aiops' webhook endpoint,
    grouping and re-sending within a second; ready when this returns."""
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        "route:\n  receiver: aiops\n  group_by: [alertname, service]\n  group_wait: 1s\n"
        "  group_interval: 1s\n  repeat_interval: 1h\n"
        "receivers:\n  - name: aiops\n    webhook_configs:\n"
        f"      - url: {aiops_url}/api/v1/alertmanager\n        send_resolved: true\n")
    daemon = Daemon([binary_path, f"--config.file={config}", f"--storage.path={tmp_path / 'am'}",
                     f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                    tmp_path / "am.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _ok(base + "/-/ready"), what="Alertmanager ready")
    except BaseException:
        daemon.stop()
        raise
    return daemon, base


def test_alertmanager_webhook_builds_and_resolves_an_incident(tmp_path):
    am = binary("prometheus-alertmanager", "alertmanager")
    # the test moves event time 12 min past the wall clock below, as telemetry would do over
    # 12 minutes: the server's guard against skewed clocks (600 s) must allow that
    aiops_config = tmp_path / "aiops.toml"
    aiops_config.write_text("[api]\nmax_future_s = 3600\n")
    with Server(tmp_path / "am.db", aiops_config) as server:
        daemon, base = alertmanager(am, tmp_path, server.url)
        try:
            start = datetime.now(timezone.utc) - timedelta(minutes=1)
            alerts = [{"labels": {"alertname": "HighErrorRate", "service": "checkout",
                                  "severity": "critical", "instance": f"10.0.0.{i}:8080"},
                       "annotations": {"summary": "Error rate above 5%"},
                       "startsAt": start.isoformat()} for i in (5, 6)]
            assert httpx.post(base + "/api/v2/alerts", json=alerts).status_code == 200
            got = wait_until(lambda: len(records(server.url, "alert")) >= 2 and
                             records(server.url, "alert"), what="the webhook")
            assert {a["labels"]["instance"] for a in got} == {"10.0.0.5:8080", "10.0.0.6:8080"}
            assert all(a["source"] == "alertmanager" for a in got)
            httpx.post(server.url + "/api/v1/flush", timeout=120)
            incidents = httpx.get(server.url + "/api/v1/incidents").json()["items"]
            assert len(incidents) == 1 and incidents[0]["services"] == ["checkout"]
            assert incidents[0]["status"] == "open" and incidents[0]["alert_count"] == 2
            # the alerts resolve: Alertmanager sends the resolved notification
            end = datetime.now(timezone.utc)
            for a in alerts:
                a["endsAt"] = end.isoformat()
            assert httpx.post(base + "/api/v2/alerts", json=alerts).status_code == 200
            wait_until(lambda: sum(a["status"] == "resolved"
                                   for a in records(server.url, "alert")) >= 2,
                       what="the resolved notification")
            # event time moves on with the rest of the telemetry: once the quiet period
            # (5 min) has passed in event time, the incident auto-resolves
            later = (end + timedelta(minutes=12)).isoformat()
            assert httpx.post(server.url + "/api/v1/metrics", json=[
                {"ts": later, "name": "up", "value": 1, "labels": {"service": "checkout"}}
            ]).status_code == 202
            httpx.post(server.url + "/api/v1/flush", timeout=120)
            incident = httpx.get(server.url + f"/api/v1/incidents/{incidents[0]['id']}").json()
            assert {a["alert"]["status"] for a in incident["alerts"]} == {"resolved"}
            assert incident["status"] == "resolved"
            # re-sends of the same group add no alert instances
            assert httpx.get(server.url + "/api/v1/alerts").json()["count"] == 2
        finally:
            daemon.stop()


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_syslog_ng_tails_a_file_into_the_logs_endpoint(tmp_path):
    syslog_ng = binary("syslog-ng")
    log = tmp_path / "app.log"
    lines = [json.dumps({"ts": f"2026-11-28T17:{i // 60:02d}:{i % 60:02d}Z", "level": "INFO",
                         "service": "checkout", "msg": f"GET /cart/{i} served in {i % 90} ms"})
             for i in range(300)]
    with Server(tmp_path / "sng.db") as server:
        config = tmp_path / "syslog-ng.conf"
        config.write_text(f"""@version: 3.38
options {{ stats-freq(0); }};
source s_file {{ file("{log}" follow-freq(0.2) flags(no-parse)); }};
parser p_json {{ json-parser(prefix("")); }};
destination d_aiops {{ http(url("{server.url}/api/v1/logs")
    method("POST") headers("Content-Type: application/json")
    body-prefix("[") delimiter(",") body-suffix("]")
    body("$(format-json --scope nv-pairs --exclude MESSAGE --exclude SOURCE --exclude HOST*
           --exclude FILE_NAME _raw=$MESSAGE _host=$HOST _file=$FILE_NAME)")
    batch-lines(100) batch-timeout(200)); }};
log {{ source(s_file); parser(p_json); destination(d_aiops); }};
""")
        log.write_text("\n".join(lines[:150]) + "\n")
        daemon = Daemon([syslog_ng, "-F", "-f", str(config), "-R", str(tmp_path / "persist"),
                         "-p", str(tmp_path / "pid"), "-c", str(tmp_path / "ctl"), "--no-caps"],
                        tmp_path / "syslog-ng.log")
        try:
            wait_until(lambda: len(records(server.url, "log")) >= 150, what="the first lines")
            with open(log, "a") as fh:  # lines appended later are tailed too
                fh.write("\n".join(lines[150:]) + "\n")
            got = wait_until(lambda: len(records(server.url, "log")) >= 300 and
                             records(server.url, "log"), what="the appended lines")
        finally:
            daemon.stop()
        messages = [r["message"] for r in got]
        assert len(messages) == len(set(messages)) == 300  # every line, once
        assert got[0]["service"] == "checkout" and got[0]["attributes"]["_file"] == str(log)
        httpx.post(server.url + "/api/v1/flush", timeout=120)
        templates = httpx.get(server.url + "/api/v1/templates").json()["items"]
        assert any(t["count"] >= 100 and "GET" in t["template"] for t in templates)


def test_prometheus_scrapes_metrics(tmp_path):
    prometheus = binary("prometheus")
    with Server(tmp_path / "prom.db") as server:
        httpx.post(server.url + "/api/v1/logs", content=b'[{"ts":"2026-11-28T17:00:00Z",'
                   b'"msg":"hello"}]', headers={"content-type": "application/json"})
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: aiops\n"
                          f"    static_configs:\n      - targets: ['127.0.0.1:{server.port}']\n")
        daemon = Daemon([prometheus, f"--config.file={config}",
                         f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                         f"--web.listen-address=127.0.0.1:{port}"], tmp_path / "prom.log")
        try:
            base = f"http://127.0.0.1:{port}/api/v1/query"

            def ingested():
                try:
                    r = httpx.get(base, params={"query": 'aiops_records_ingested_total'
                                                         '{endpoint="logs",kind="log"}'}).json()
                except (httpx.HTTPError, ValueError):
                    return None
                return r.get("data", {}).get("result")

            result = wait_until(ingested, timeout=60, what="a Prometheus scrape")
            assert float(result[0]["value"][1]) == 1.0
            up = httpx.get(base, params={"query": 'up{job="aiops"}'}).json()["data"]["result"]
            assert up[0]["value"][1] == "1"
        finally:
            daemon.stop()


def test_live_alertmanager_to_a_pagerduty_page_and_back_with_no_other_input(tmp_path):
    """The loop a team runs on day one: Prometheus' alerts through a real Alertmanager into
    ``aiops serve``, and out as PagerDuty events, with nothing else sent: quiet live input
    moves event time (clock ticks), so the page goes out and is resolved on its own."""
    from tests.api.test_notify import Receiver

    am = binary("prometheus-alertmanager", "alertmanager")
    pager = Receiver()
    aiops_config = tmp_path / "aiops.toml"
    aiops_config.write_text(
        "[engine]\nlateness_s = 1\nalert_delay_s = 1\nidle_clock_s = 0.5\n"
        "[correlate]\nresolve_quiet = \"2s\"\n"
        f"[[notify.webhooks]]\nname = \"pd\"\nformat = \"pagerduty\"\nurl = \"{pager.url}\"\n"
        "routing_key = \"R0UT1NGKEY\"\n")
    try:
        with Server(tmp_path / "live.db", aiops_config) as server:
            daemon, base = alertmanager(am, tmp_path, server.url)
            try:
                alert = {"labels": {"alertname": "PostgresDown", "service": "postgres",
                                    "severity": "critical"},
                         "annotations": {"summary": "postgres is down"},
                         "startsAt": datetime.now(timezone.utc).isoformat()}
                assert httpx.post(base + "/api/v2/alerts", json=[alert]).status_code == 200
                (trigger,) = pager.wait(1, timeout=60)
                body = trigger["body"]
                assert body["event_action"] == "trigger" and body["routing_key"] == "R0UT1NGKEY"
                assert body["payload"]["summary"].startswith("PostgresDown on postgres")
                alert["endsAt"] = datetime.now(timezone.utc).isoformat()
                assert httpx.post(base + "/api/v2/alerts", json=[alert]).status_code == 200
                got = pager.wait(2, timeout=60)
                assert [m["body"]["event_action"] for m in got] == ["trigger", "resolve"]
                assert got[1]["body"]["dedup_key"] == body["dedup_key"]
                status = httpx.get(server.url + "/api/v1/status").json()
                assert status["engine"]["clock_ticks"] > 0 and status["notify"]["pd"]["sent"] == 2
                started = " ".join(server.log.read_text().split())  # what serve said at start
                assert f"notify pd: pagerduty to {pager.url} (opened," in started
            finally:
                daemon.stop()
    finally:
        pager.close()


def test_prometheus_remote_writes_the_series_it_keeps(tmp_path):
    """A real Prometheus scrapes aiops and remote-writes the kept series to /api/v1/write:
    snappy, protobuf, its staleness handling and retries as it ships them."""
    prometheus = binary("prometheus")
    with Server(tmp_path / "rw.db") as server:
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: aiops\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{server.port}']\n"
            "remote_write:\n"
            f"  - url: http://127.0.0.1:{server.port}/api/v1/write\n"
            "    queue_config: {batch_send_deadline: 1s, min_backoff: 100ms}\n"
            "    write_relabel_configs:\n"
            "      - source_labels: [__name__]\n        regex: up|aiops_uptime_seconds\n"
            "        action: keep\n")
        daemon = Daemon([prometheus, f"--config.file={config}",
                         f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                         f"--web.listen-address=127.0.0.1:{port}"], tmp_path / "prom.log")
        try:
            def written():
                items = records(server.url, "metric")
                names = {i["name"] for i in items}
                return items if {"up", "aiops_uptime_seconds"} <= names and \
                    len([i for i in items if i["name"] == "up"]) >= 2 else None

            items = wait_until(written, timeout=90, what="remote-written samples")
        finally:
            daemon.stop()
        assert {i["name"] for i in items} == {"up", "aiops_uptime_seconds"}  # relabelling kept
        up = [i for i in items if i["name"] == "up"]
        assert all(i["labels"] == {"instance": f"127.0.0.1:{server.port}", "job": "aiops"}
                   and i["value"] == 1.0 and i["source"] == "remote-write" for i in up)
        stamps = [i["ts"] for i in up]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)  # one per scrape
        metrics = httpx.get(server.url + "/metrics").text
        assert 'aiops_records_ingested_total{endpoint="remote-write",kind="metric"}' in metrics
        assert 'aiops_records_rejected_total{endpoint="remote-write"' not in metrics


def test_prometheus_alerts_straight_to_aiops_with_no_alertmanager(tmp_path):
    """Prometheus' ``alerting:`` section pointed at aiops (its notifier posts to
    /api/v2/alerts as to an Alertmanager): a rule that fires becomes an incident, and a rule
    that stops firing resolves its alert, with nothing else sent."""
    prometheus = binary("prometheus")
    config = tmp_path / "aiops.toml"
    config.write_text("[engine]\nlateness_s = 1\nalert_delay_s = 1\nidle_clock_s = 0.5\n")
    with Server(tmp_path / "prom-alerts.db", config) as server:
        rules = tmp_path / "rules.yml"  # PaymentsSlow: 10 s firing, 10 s not, whenever started
        rules.write_text(
            "groups:\n  - name: shop\n    interval: 1s\n    rules:\n"
            "      - alert: CheckoutDown\n        expr: vector(1)\n"
            "        labels: {service: checkout, severity: critical}\n"
            "        annotations: {summary: checkout is down}\n"
            "      - alert: PaymentsSlow\n"
            "        expr: vector(time() % 20) < 10\n"
            "        labels: {service: payments, severity: warning}\n")
        prom_config = tmp_path / "prometheus.yml"
        prom_config.write_text(
            f"rule_files: ['{rules}']\n"
            "alerting:\n  alertmanagers:\n    - static_configs:\n"
            f"        - targets: ['127.0.0.1:{server.port}']\n")
        port = free_port()
        # resend 2 s, not 1 min: notifications sent before Prometheus discovered its
        # Alertmanagers are dropped, and a firing alert is only sent again after this
        daemon = Daemon([prometheus, f"--config.file={prom_config}",
                         f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                         "--rules.alert.resend-delay=2s",
                         f"--web.listen-address=127.0.0.1:{port}"], tmp_path / "prom.log")
        try:
            def alerts():
                items = httpx.get(server.url + "/api/v1/alerts").json()["items"]
                down = [a for a in items if a["labels"]["alertname"] == "CheckoutDown"]
                slow = [a for a in items if a["labels"]["alertname"] == "PaymentsSlow"
                        and a["status"] == "resolved"]
                return (down, slow) if down and slow else None

            down, slow = wait_until(alerts, timeout=90, what="Prometheus' alerts, one resolved")
            incidents = httpx.get(server.url + "/api/v1/incidents").json()["items"]
        finally:
            daemon.stop()
    assert len(down) == 1  # one instance, however many re-sends
    down = down[0]
    assert down["source"] == "prometheus" and down["status"] == "firing"
    assert down["annotations"]["summary"] == "checkout is down" and down["repeats"] >= 1
    assert down["generator_url"].startswith("http") and "g0.expr=vector" in down["generator_url"]
    ended = datetime.fromisoformat(slow[0]["ends_at"].replace("Z", "+00:00")).timestamp()
    assert 9 <= ended % 20 <= 12  # when the rule stopped (an evaluation a second), as Prometheus said
    opened = [i for i in incidents if i["root_cause"]["service"] == "checkout"]
    assert opened and opened[0]["status"] == "open" and opened[0]["severity"] == "critical"

def test_incidents_go_out_through_alertmanager_and_do_not_come_back(tmp_path):
    """``format = "alertmanager"``: an incident is posted to a real Alertmanager as an
    ``AiopsIncident`` alert its routing tree delivers; that Alertmanager's webhook receiver
    is aiops itself here, and the incident coming back is not read as a new alert; resolving
    the incident ends the alert."""
    am = binary("prometheus-alertmanager", "alertmanager")
    aiops_config = tmp_path / "aiops.toml"
    server = Server(tmp_path / "am-out.db", aiops_config)  # its address, for Alertmanager
    daemon, base = alertmanager(am, tmp_path, server.url)
    aiops_config.write_text(
        "[engine]\nlateness_s = 1\nalert_delay_s = 1\nidle_clock_s = 0.5\n"
        f"[[notify.webhooks]]\nname = \"am\"\nformat = \"alertmanager\"\nurl = \"{base}\"\n")
    try:
        with server:
            alert = {"labels": {"alertname": "PostgresDown", "service": "postgres",
                                "severity": "critical", "cluster": "eu-1"},
                     "annotations": {"summary": "postgres is down",
                                     "runbook_url": "https://runbooks.example/pg"},
                     "startsAt": datetime.now(timezone.utc).isoformat()}
            assert httpx.post(server.url + "/api/v1/alerts", json=[alert]).status_code == 202

            def in_alertmanager():
                got = [a for a in httpx.get(base + "/api/v2/alerts").json()
                       if a["labels"].get("alertname") == "AiopsIncident"]
                return got or None

            (mirrored,) = wait_until(in_alertmanager, timeout=60, what="the incident in AM")
            incident = httpx.get(server.url + "/api/v1/incidents").json()["items"][0]
            assert mirrored["labels"] == {
                "alertname": "AiopsIncident", "aiops_incident": incident["id"],
                "severity": "critical", "service": "postgres", "owner": "application",
                "cluster": "eu-1"}
            assert mirrored["annotations"]["summary"] == incident["title"]
            assert mirrored["annotations"]["runbook_url"] == "https://runbooks.example/pg"
            # Alertmanager routes it to its receiver, aiops' webhook: read and put aside
            wait_until(lambda: 'aiops_batches_total{endpoint="alertmanager"' in
                       httpx.get(server.url + "/metrics").text, timeout=30,
                       what="Alertmanager's webhook back to aiops")
            assert httpx.get(server.url + "/api/v1/alerts").json()["count"] == 1
            assert httpx.get(server.url + "/api/v1/incidents").json()["count"] == 1
            r = httpx.post(server.url + f"/api/v1/incidents/{incident['id']}/resolve",
                           json={"by": "alice"})
            assert r.status_code == 200
            wait_until(lambda: in_alertmanager() is None, timeout=30,
                       what="the incident's alert resolved in Alertmanager")
    finally:
        daemon.stop()

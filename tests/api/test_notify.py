"""Outbound notifications: every incident change, once and in order, to a real HTTP
receiver on 127.0.0.1, as JSON, Slack text or PagerDuty Events v2; retried while the
receiver fails, not blocked by one it refuses, resumed after a restart."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from aiops.config import Config, ConfigError
from aiops.schema import UTC
from aiops.store import outbox
from api.notify import EVENTS, hooks_from_config
from tests.api.conftest import JSON, make_client

FAST = {"engine": {"lateness_s": 1, "alert_delay_s": 1, "idle_clock_s": 0.3},
        "correlate": {"resolve_quiet": "2s"}}


class Receiver:
    """An HTTP endpoint that records what it is sent; ``answers`` scripts the status codes."""

    def __init__(self, answers: list[int] | None = None) -> None:
        self.received: list[dict] = []
        self.answers = list(answers or [])
        self.attempts = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.attempts += 1
                code = outer.answers.pop(0) if outer.answers else 202
                if code < 300:
                    outer.received.append({"path": self.path, "headers": dict(self.headers),
                                           "body": orjson.loads(body)})
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b'{"status":"success"}' if code < 300 else b'{"error":"no"}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, n: int, timeout: float = 20) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.received) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def config(*webhooks: dict, **extra) -> Config:
    return Config(engine=FAST["engine"], correlate=FAST["correlate"],
                  notify={"webhooks": list(webhooks), **extra})


def webhook(starts: datetime, status: str = "firing", ends: datetime | None = None,
            name: str = "PostgresDown", severity: str = "critical",
            generator: str = "") -> bytes:
    def z(t):
        return t.isoformat().replace("+00:00", "Z")
    alert = {"status": status, "labels": {"alertname": name, "service": "postgres",
                                          "severity": severity},
             "annotations": {"summary": "postgres is down",
                             "runbook_url": "https://runbooks.example/postgres-down"},
             "startsAt": z(starts),
             "endsAt": z(ends) if ends else "0001-01-01T00:00:00Z", "generatorURL": generator,
             "fingerprint": "3f9d2c1b0a998877"}
    return orjson.dumps({"version": "4", "status": status, "receiver": "aiops",
                         "groupKey": "{}", "groupLabels": {}, "commonLabels": {},
                         "commonAnnotations": {}, "externalURL": "", "alerts": [alert]})


def test_an_incident_s_life_reaches_a_json_webhook_in_order(receiver):
    cfg = config({"name": "oncall", "url": receiver.url + "/hook",
                  "headers": {"Authorization": "Bearer s3cret-hook"}},
                 base_url="http://aiops.example:8080/")
    with make_client(cfg, checkpoint_interval_s=0.1) as c:
        start = datetime.now(UTC) - timedelta(seconds=5)
        c.post("/api/v1/alertmanager", content=webhook(start), headers=JSON)
        (opened,) = receiver.wait(1)
        body = opened["body"]
        incident = body["incident"]
        assert body["event"] == "opened" and body["previous"] == {"status": None,
                                                                  "severity": None}
        assert incident["status"] == "open" and incident["severity"] == "critical"
        assert incident["root_cause"]["service"] == "postgres" and incident["alert_count"] == 1
        assert incident["runbook_url"] == "https://runbooks.example/postgres-down"
        assert body["link"] == f"http://aiops.example:8080/api/v1/incidents/{incident['id']}"
        assert opened["path"] == "/hook" and opened["headers"]["Authorization"] == \
            "Bearer s3cret-hook"
        assert opened["headers"]["Idempotency-Key"] == f"oncall-{body['change_id']}"
        r = c.post(f"/api/v1/incidents/{incident['id']}/ack", json={"by": "alice"})
        assert r.status_code == 200, r.text
        c.post("/api/v1/alertmanager", content=webhook(start, "resolved", datetime.now(UTC)),
               headers=JSON)
        got = receiver.wait(3)
        assert [m["body"]["event"] for m in got] == ["opened", "acknowledged", "resolved"]
        assert {m["body"]["incident"]["id"] for m in got} == {incident["id"]}
        assert [m["body"]["change_id"] for m in got] == sorted(m["body"]["change_id"]
                                                               for m in got)
        status = c.get("/api/v1/status").json()["notify"]["oncall"]
        assert status["sent"] == 3 and status["pending"] == 0 and status["failures"] == 0
        metrics = c.get("/metrics").text  # the paging pipeline, for Prometheus to alert on
        assert 'aiops_notifications_sent_total{webhook="oncall"} 3.0' in metrics
        assert 'aiops_notifications_pending{webhook="oncall"} 0.0' in metrics


def test_pagerduty_events_and_retries_while_the_receiver_fails():
    receiver = Receiver(answers=[503, 503])  # the first two attempts fail
    try:
        cfg = config({"name": "pd", "format": "pagerduty", "url": receiver.url,
                      "routing_key": "R0UT1NGKEY"})
        with make_client(cfg, checkpoint_interval_s=0.1) as c:
            c.post("/api/v1/alertmanager",
                   content=webhook(datetime.now(UTC) - timedelta(seconds=5),
                                   generator="http://prometheus:9090/graph?g0.expr=pg_up"),
                   headers=JSON)
            (trigger,) = receiver.wait(1, timeout=30)
            body = trigger["body"]
            assert receiver.attempts == 3
            assert body["event_action"] == "trigger" and body["routing_key"] == "R0UT1NGKEY"
            incident_id = body["dedup_key"]
            assert incident_id.startswith("inc-")
            assert body["payload"]["severity"] == "critical"
            assert body["payload"]["source"] == "postgres"
            assert body["payload"]["summary"].startswith("PostgresDown on postgres")
            assert body["payload"]["custom_details"]["aiops_event"] == "opened"
            assert body["links"] == [{"href": "https://runbooks.example/postgres-down",
                                      "text": "Runbook"},
                                     {"href": "http://prometheus:9090/graph?g0.expr=pg_up",
                                      "text": "Source"}]
            assert c.get("/api/v1/status").json()["notify"]["pd"]["failures"] == 2
            c.post(f"/api/v1/incidents/{incident_id}/resolve", json={"by": "bob"})
            resolve = receiver.wait(2)[1]["body"]
            assert resolve == {"routing_key": "R0UT1NGKEY", "dedup_key": incident_id,
                               "event_action": "resolve"}
    finally:
        receiver.close()


def test_a_refused_message_does_not_hold_up_the_next_and_slack_gets_text():
    receiver = Receiver(answers=[400])  # the receiver refuses the first message for good
    try:
        cfg = config({"name": "chat", "format": "slack", "url": receiver.url,
                      "events": ["opened", "acknowledged"]})
        with make_client(cfg, checkpoint_interval_s=0.1) as c:
            c.post("/api/v1/alertmanager",
                   content=webhook(datetime.now(UTC) - timedelta(seconds=5)), headers=JSON)
            deadline = time.monotonic() + 20
            while c.get("/api/v1/status").json()["notify"]["chat"]["rejected"] == 0:
                assert time.monotonic() < deadline, "the 400 was never seen"
                time.sleep(0.1)
            (incident,) = c.get("/api/v1/incidents").json()["items"]
            c.post(f"/api/v1/incidents/{incident['id']}/ack", json={"by": "carol"})
            (ack,) = receiver.wait(1)
            text = ack["body"]["text"]
            assert text.startswith(":eyes: *ACKNOWLEDGED* [critical] PostgresDown on postgres")
            assert "Root cause: postgres" in text and "Owner: application team" in text
            assert text.endswith("Runbook: https://runbooks.example/postgres-down")
            status = c.get("/api/v1/status").json()["notify"]["chat"]
            assert (status["rejected"], status["sent"]) == (1, 1)
            assert "HTTP 400" in status["last_error"]
    finally:
        receiver.close()


def test_teams_gets_an_adaptive_card_it_can_post_to_a_channel(receiver):
    """Teams Workflows webhooks take Adaptive Cards only (the shape Microsoft documents: a
    message with one application/vnd.microsoft.card.adaptive attachment)."""
    cfg = config({"name": "teams", "format": "teams", "url": receiver.url},
                 base_url="http://aiops.example:8080")
    with make_client(cfg, checkpoint_interval_s=0.1) as c:
        start = datetime.now(UTC) - timedelta(seconds=5)
        graph = "http://prometheus:9090/graph?g0.expr=pg_up+%3D%3D+0"
        c.post("/api/v1/alertmanager", content=webhook(start, generator=graph), headers=JSON)
        (opened,) = receiver.wait(1)
        (incident,) = c.get("/api/v1/incidents").json()["items"]
        c.post("/api/v1/alertmanager", content=webhook(start, "resolved", start
                                                       + timedelta(seconds=3)), headers=JSON)
        c.post(f"/api/v1/incidents/{incident['id']}/resolve", json={"by": "erin"})
        _, resolved = receiver.wait(2)
    body = opened["body"]
    assert body["type"] == "message" and len(body["attachments"]) == 1
    attachment = body["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    heading, facts = card["body"]
    assert heading["text"] == "OPENED: PostgresDown on postgres"
    assert heading["color"] == "Attention" and heading["wrap"] is True
    facts = {f["title"]: f["value"] for f in facts["facts"]}
    assert facts["Severity"] == "critical" and facts["Root cause"].startswith("postgres: ")
    assert facts["Owner"] == "application team (application)" and facts["Alerts"] == "1"
    assert [(a["title"], a["url"]) for a in card["actions"]] == [
        ("Runbook", "https://runbooks.example/postgres-down"), ("Source", graph),
        ("Incident", f"http://aiops.example:8080/api/v1/incidents/{incident['id']}")]
    heading = resolved["body"]["attachments"][0]["content"]["body"][0]
    assert heading["text"].startswith("RESOLVED: ") and heading["color"] == "Good"

def test_a_restart_resumes_from_the_stored_cursor(tmp_path, receiver):
    """File store, engine in its own process: what was sent is not sent again; a webhook
    added to a store with history starts at its newest change."""
    store = {"path": str(tmp_path / "s.db")}
    hook = {"name": "oncall", "url": receiver.url}
    first = config(hook)
    first.store = store
    with make_client(first, checkpoint_interval_s=0.1) as c:
        c.post("/api/v1/alertmanager",
               content=webhook(datetime.now(UTC) - timedelta(seconds=5)), headers=JSON)
        (opened,) = receiver.wait(1)
    incident_id = opened["body"]["incident"]["id"]
    late = Receiver()
    try:
        again = config(hook, {"name": "new-team", "url": late.url})
        again.store = store
        with make_client(again, checkpoint_interval_s=0.1) as c:
            time.sleep(1.5)  # time for a wrong re-send to show
            assert len(receiver.received) == 1 and late.received == []
            c.post(f"/api/v1/incidents/{incident_id}/ack", json={"by": "dave"})
            assert [m["body"]["event"] for m in receiver.wait(2)] == ["opened", "acknowledged"]
            assert [m["body"]["event"] for m in late.wait(1)] == ["acknowledged"]
    finally:
        late.close()


def test_the_outbox_records_changes_not_rewrites():
    from aiops.store import open_store

    store = open_store(":memory:")

    def save(offset, status, severity, title="t"):
        store.save_checkpoint(offset, {}, incidents=[{"id": "I1", "status": status,
                                                      "severity": severity, "title": title}])
    save(1, "open", "warning")
    save(2, "open", "warning", title="t (+1 alert)")  # a new member: no news
    save(3, "open", "critical")
    save(4, "acknowledged", "critical")
    save(5, "resolved", "critical")
    save(6, "open", "critical")
    from api.notify import event_of
    changes = outbox.changes_after(store, 0)
    assert [event_of(ch) for ch in changes] == ["opened", "escalated", "acknowledged",
                                                "resolved", "reopened"]
    assert changes[0].incident["title"] == "t"  # the incident as stored now
    assert outbox.cursor(store, "new") == changes[-1].id  # a new webhook starts at the head


@pytest.mark.parametrize("section, says", [
    ({"webhooks": [{"url": "ftp://x"}]}, "webhooks[0] url: expected an http:// or https://"),
    ({"webhooks": [{"url": "http://x", "format": "msteams"}]}, "format: expected one of json, slack, teams"),
    ({"webhooks": [{"format": "pagerduty"}]}, "routing_key: a PagerDuty webhook needs"),
    ({"webhooks": [{"url": "http://x", "events": ["paged"]}]}, "events: expected a list"),
    ({"webhooks": [{"url": "http://x", "min_severity": "high"}]}, "min_severity: expected"),
    ({"webhooks": [{"url": "http://x", "retries": 3}]}, "unknown key(s) retries"),
    ({"webhooks": [{"url": "http://x"}, {"url": "http://y", "name": "webhook-1"}]},
     "names must differ"),
    ({"hooks": []}, "[notify]: unknown key(s) hooks"),
])
def test_bad_notify_config_is_named(section, says):
    with pytest.raises(ConfigError) as err:
        hooks_from_config(section)
    assert says in str(err.value)


def test_pagerduty_defaults_to_its_events_endpoint():
    (hook,), _ = hooks_from_config({"webhooks": [{"format": "pagerduty", "routing_key": "k"}]})
    assert hook.url == "https://events.pagerduty.com/v2/enqueue" and hook.name == "webhook-1"


def test_a_webhook_hears_only_of_incidents_that_reached_its_severity():
    (hook,), _ = hooks_from_config({"webhooks": [{"url": "http://x", "min_severity": "error",
                                                  "events": list(EVENTS)}]})
    assert hook.wants("opened", "critical") and not hook.wants("opened", "warning")
    assert not hook.wants("resolved", "warning", "warning")  # never paged: no resolve either
    assert hook.wants("resolved", "critical", "critical")
    assert hook.wants("deescalated", "warning", "critical")  # closes what was paged above
    assert not hook.wants("acknowledged", "info", "info")


def test_a_test_message_reports_what_the_receiver_said():
    good, refusing = Receiver(), Receiver(answers=[400])
    try:
        cfg = config({"name": "chat", "format": "slack", "url": good.url},
                     {"name": "pd", "format": "pagerduty", "url": refusing.url,
                      "routing_key": "WRONGKEY"})
        with make_client(cfg) as c:
            ok = c.post("/api/v1/notify/chat/test").json()
            assert ok["ok"] is True and ok["status"] == 202 and ok["error"] is None
            assert ok["host"] == good.url  # scheme, host and port: never a path's secret
            (message,) = good.received
            assert "aiops test notification" in message["body"]["text"]
            bad = c.post("/api/v1/notify/pd/test").json()
            assert bad["ok"] is False and bad["status"] == 400 and "HTTP 400" in bad["error"]
            r = c.post("/api/v1/notify/nope/test")
            assert r.status_code == 404 and "known: chat, pd" in r.json()["error"]["message"]
            listed = c.get("/api/v1/notify").json()
            assert set(listed) == {"chat", "pd"} and listed["chat"]["sent"] == 0  # not a page
    finally:
        good.close()
        refusing.close()


def test_a_webhook_url_s_secret_path_is_not_shown():
    (hook,), _ = hooks_from_config({"webhooks": [
        {"format": "slack", "url": "https://hooks.slack.com/services/T0/B0/s3cretTOKEN?x=1"}]})
    assert hook.host == "https://hooks.slack.com"


def test_secrets_come_from_the_environment():
    env = {"PD_KEY": "R0UT1NG", "HOOK_TOKEN": "s3cret"}
    (pd, json_hook), _ = hooks_from_config({"webhooks": [
        {"format": "pagerduty", "routing_key": "${PD_KEY}"},
        {"url": "http://127.0.0.1:9/x", "headers": {"Authorization": "Bearer ${HOOK_TOKEN}"}}]},
        environ=env)
    assert pd.routing_key == "R0UT1NG"
    assert json_hook.headers == {"Authorization": "Bearer s3cret"}
    with pytest.raises(ConfigError) as err:
        hooks_from_config({"webhooks": [{"format": "pagerduty", "routing_key": "${NOPE}"}]},
                          environ=env)
    assert "[notify] webhooks[0] routing_key: ${NOPE} is not set in the environment" in \
        str(err.value)


def test_an_alertmanager_hears_open_incidents_again_until_they_resolve(monkeypatch, receiver):
    """Alertmanager ends an alert nobody re-sends: open incidents are re-posted with endsAt a
    hold ahead (as Prometheus re-sends firing alerts); the resolution ends it."""
    import api.notify.deliver as deliver

    monkeypatch.setattr(deliver, "ALERTMANAGER_REFRESH_S", 0.5)
    cfg = config({"name": "am", "format": "alertmanager", "url": receiver.url + "/"})
    with make_client(cfg, checkpoint_interval_s=0.1) as c:
        start = datetime.now(UTC) - timedelta(seconds=5)
        c.post("/api/v1/alertmanager", content=webhook(start), headers=JSON)
        got = list(receiver.wait(3))  # the opening, then refreshes
        assert {m["path"] for m in got} == {"/api/v2/alerts"}
        first = got[0]["body"]
        (alert,) = first
        assert alert["labels"]["alertname"] == "AiopsIncident"
        assert alert["labels"]["severity"] == "critical"
        assert alert["endsAt"] > datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert all(m["body"][0]["labels"] == alert["labels"] for m in got[1:])
        incident_id = alert["labels"]["aiops_incident"]
        c.post(f"/api/v1/incidents/{incident_id}/resolve", json={"by": "erin"})
        deadline = time.monotonic() + 20
        while not any(m["body"][0]["endsAt"] <= datetime.now(UTC).isoformat()
                      for m in receiver.received[len(got):]):
            assert time.monotonic() < deadline, "no resolution posted"
            time.sleep(0.1)
        n = len(receiver.received)
        time.sleep(1.5)  # resolved: no longer refreshed
        assert all(m["body"][0]["endsAt"] <= datetime.now(UTC).isoformat()
                   for m in receiver.received[n - 1:])


def test_alertmanager_webhooks_post_to_its_alerts_api_and_mirror_every_change():
    (hook,), _ = hooks_from_config({"webhooks": [
        {"format": "alertmanager", "url": "http://alertmanager:9093"}]})
    assert hook.url == "http://alertmanager:9093/api/v2/alerts" and hook.events == EVENTS


def test_the_readme_notify_example_is_a_config_aiops_accepts():
    """What a team copies from the README must start: every webhook in its [notify] example
    is read as written (the formats, the defaults, ${NAME} from the environment)."""
    import tomllib

    from tests.conftest import ROOT

    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Notifications"):]
    start = section.index("```toml") + len("```toml")
    example = tomllib.loads(section[start:section.index("```", start)])
    environ = {"PAGERDUTY_ROUTING_KEY": "R0UT1NG", "SLACK_WEBHOOK_URL": "https://hooks.slack."
               "com/services/T0/B0/X", "TEAMS_WORKFLOW_URL": "https://prod.example/workflows/1",
               "PD_WEBHOOK_SECRET": "s"}
    hooks, base_url = hooks_from_config(example["notify"], environ)
    assert [(h.name, h.format) for h in hooks] == [
        ("pagerduty", "pagerduty"), ("chat", "slack"), ("teams", "teams"),
        ("alertmanager", "alertmanager"), ("itsm", "json")]
    assert hooks[0].routing_key == "R0UT1NG" and hooks[2].url == environ["TEAMS_WORKFLOW_URL"]
    assert base_url == "https://aiops.internal:8080"

"""Outbound notifications: each incident change, once, to webhooks, chat and PagerDuty.

Reducing a flood to a few incidents helps only if someone hears about them: ``aiops serve``
posts every change worth a page (an incident shown for the first time, reopened, raised or
lowered in severity, acknowledged, resolved) to each ``[[notify.webhooks]]`` entry, as
plain JSON, as a Slack-compatible ``{"text": ...}`` message (Slack, Mattermost, Rocket.Chat
incoming webhooks) or as a PagerDuty Events API v2 event (trigger / acknowledge / resolve,
``dedup_key`` = the incident id, so PagerDuty keeps one alert per aiops incident).

Delivery is at least once, in order, per webhook: the changes come from the store's outbox
(written in the transaction that stores the incident), a webhook's cursor advances only
after a 2xx, and a failing one is retried with backoff (up to a minute apart) without
holding up the others or the engine. A restart resumes from the stored cursor. Each post
carries ``Idempotency-Key: <webhook>-<change id>`` for receivers that deduplicate.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Mapping

import orjson

from aiops.config import ConfigError
from aiops.schema import SEVERITIES, severity_rank
from aiops.store import outbox, queries

log = logging.getLogger("aiops.api.notify")

EVENTS = ("opened", "reopened", "escalated", "deescalated", "acknowledged", "resolved")
DEFAULT_EVENTS = ("opened", "reopened", "escalated", "acknowledged", "resolved")
FORMATS = ("json", "slack", "pagerduty")
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
_HOOK_KEYS = {"name", "url", "format", "events", "min_severity", "headers", "routing_key",
              "timeout_s"}
_PD_ACTION = {"acknowledged": "acknowledge", "resolved": "resolve"}
_PD_SEVERITY = {"critical": "critical", "error": "error", "warning": "warning"}
_SLACK_MARK = {"opened": ":rotating_light:", "reopened": ":rotating_light:",
               "escalated": ":arrow_up:", "deescalated": ":arrow_down:",
               "acknowledged": ":eyes:", "resolved": ":white_check_mark:"}


@dataclass(frozen=True)
class Hook:
    name: str
    url: str
    format: str = "json"
    events: tuple[str, ...] = DEFAULT_EVENTS
    min_severity: str = "warning"
    headers: dict[str, str] = field(default_factory=dict)
    routing_key: str = ""
    timeout_s: float = 10.0

    @property
    def host(self) -> str:
        """The URL without its path and query, which often hold the secret (Slack's
        ``/services/T/B/XXXX``): what logs and answers show."""
        parts = urllib.parse.urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")

    def wants(self, event: str, severity: str | None, previous: str | None = None) -> bool:
        """Its events, at or above its severity, now or just before (a de-escalation
        below it, or the resolution that follows one, closes a page sent above it). An
        incident that never reached it is never news here, its resolution included."""
        if event not in self.events:
            return False
        floor = severity_rank(self.min_severity)
        return severity_rank(severity or "info") >= floor or \
            (previous is not None and severity_rank(previous) >= floor)


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(value: Any, where: str, environ: Mapping[str, str]) -> Any:
    """``${NAME}`` in a string taken from the environment: a routing key or a Slack URL
    belongs in a secret store's variable, not in a config file checked into a repository."""
    if isinstance(value, dict):
        return {k: _expand(v, f"{where}.{k}", environ) for k, v in value.items()}
    if not isinstance(value, str):
        return value

    def sub(match: re.Match) -> str:
        name = match.group(1)
        if name not in environ:
            raise ConfigError(f"{where}: ${{{name}}} is not set in the environment")
        return environ[name]
    return _ENV_REF.sub(sub, value)


def hooks_from_config(section: dict[str, Any] | None,
                      environ: Mapping[str, str] | None = None) -> tuple[list[Hook], str]:
    """The ``[notify]`` section: its webhooks and ``base_url`` (links in messages); strings
    may name environment variables as ``${NAME}``."""
    environ = os.environ if environ is None else environ
    section = dict(section or {})
    unknown = set(section) - {"webhooks", "base_url", "pagerduty_webhook_secret"}
    if unknown:
        raise ConfigError(f"[notify]: unknown key(s) {', '.join(sorted(unknown))}; expected "
                          f"webhooks, base_url, pagerduty_webhook_secret")
    base_url = section.get("base_url", "")
    if not isinstance(base_url, str):
        raise ConfigError(f"[notify] base_url: expected a URL string, got {base_url!r}")
    raw = section.get("webhooks", [])
    if not isinstance(raw, list):
        raise ConfigError("[notify] webhooks: expected a list of tables ([[notify.webhooks]])")
    hooks: list[Hook] = []
    for i, spec in enumerate(raw):
        where = f"[notify] webhooks[{i}]"
        if isinstance(spec, dict):
            spec = {k: _expand(v, f"{where} {k}", environ) for k, v in spec.items()}
        hooks.append(_hook(spec, where, i))
    names = [h.name for h in hooks]
    if len(set(names)) != len(names):
        raise ConfigError(f"[notify] webhooks: names must differ (they key the cursors); got "
                          f"{', '.join(names)}")
    return hooks, base_url.rstrip("/")


def pagerduty_secret(section: dict[str, Any] | None,
                     environ: Mapping[str, str] | None = None) -> str:
    """``[notify] pagerduty_webhook_secret``: the v3 subscription's signing secret ("" = the
    signature is not checked; the API's tokens still guard the endpoint)."""
    value = (section or {}).get("pagerduty_webhook_secret", "")
    if not isinstance(value, str):
        raise ConfigError("[notify] pagerduty_webhook_secret: expected a string")
    return _expand(value, "[notify] pagerduty_webhook_secret",
                   os.environ if environ is None else environ)


def _hook(spec: Any, where: str, index: int) -> Hook:
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: expected a table with url (and format, events, ...)")
    unknown = set(spec) - _HOOK_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; expected "
                          f"{', '.join(sorted(_HOOK_KEYS))}")
    fmt = spec.get("format", "json")
    if fmt not in FORMATS:
        raise ConfigError(f"{where} format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    url = spec.get("url", PAGERDUTY_URL if fmt == "pagerduty" else None)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where} url: expected an http:// or https:// URL, got {url!r}")
    events = spec.get("events", list(DEFAULT_EVENTS))
    if isinstance(events, str):
        events = [events]
    if not isinstance(events, list) or not events or any(e not in EVENTS for e in events):
        raise ConfigError(f"{where} events: expected a list among {', '.join(EVENTS)}, got "
                          f"{events!r}")
    severity = spec.get("min_severity", "warning")
    if severity not in SEVERITIES:
        raise ConfigError(f"{where} min_severity: expected one of {', '.join(SEVERITIES)}, "
                          f"got {severity!r}")
    headers = spec.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                for k, v in headers.items()):
        raise ConfigError(f"{where} headers: expected a table of strings")
    routing_key = spec.get("routing_key", "")
    if fmt == "pagerduty" and (not isinstance(routing_key, str) or not routing_key):
        raise ConfigError(f"{where} routing_key: a PagerDuty webhook needs the integration's "
                          f"routing key")
    timeout = spec.get("timeout_s", 10.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError(f"{where} timeout_s: expected seconds above 0, got {timeout!r}")
    name = spec.get("name", f"webhook-{index + 1}")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where} name: expected a non-empty string")
    return Hook(name, url, fmt, tuple(events), severity, dict(headers), routing_key,
                float(timeout))


def event_of(change: outbox.Change) -> str:
    if change.previous_status is None:
        return "resolved" if change.status == "resolved" else "opened"
    if change.status == change.previous_status:
        up = severity_rank(change.severity or "info") > \
            severity_rank(change.previous_severity or "info")
        return "escalated" if up else "deescalated"
    if change.status == "open":
        return "reopened"
    return change.status  # acknowledged | resolved


def runbook(store: Any, incident: dict[str, Any]) -> str | None:
    """The root-cause alert's runbook (Prometheus rules' ``runbook_url`` annotation)."""
    root_id = (incident.get("root_cause") or {}).get("alert_id")
    try:
        doc = queries.get_alert(store, root_id) if root_id else None
    except Exception:  # the store busy or closing: the page goes out without the link
        return None
    annotations = (orjson.loads(doc).get("annotations") or {}) if doc else {}
    link = annotations.get("runbook_url") or annotations.get("runbook")
    return link if isinstance(link, str) and link else None


def payload(hook: Hook, change: outbox.Change, event: str, base_url: str,
            runbook_url: str | None = None) -> dict[str, Any]:
    inc = {k: v for k, v in change.incident.items() if k not in ("alerts", "timeline")}
    inc["alert_count"] = len(change.incident.get("alerts") or [])
    inc["runbook_url"] = runbook_url
    link = f"{base_url}/api/v1/incidents/{change.incident_id}" if base_url else None
    title = inc.get("title") or change.incident_id
    root = inc.get("root_cause") or {}
    owner = inc.get("owner") or {}
    if hook.format == "pagerduty":
        body: dict[str, Any] = {"routing_key": hook.routing_key, "dedup_key": change.incident_id,
                                "event_action": _PD_ACTION.get(event, "trigger")}
        if body["event_action"] == "trigger":
            body.update(client="aiops", payload={
                "summary": title[:1024], "source": root.get("service") or "aiops",
                "severity": _PD_SEVERITY.get(change.severity or "", "info"),
                "timestamp": inc.get("opened_at"), "component": root.get("service") or None,
                "group": owner.get("layer"),
                "custom_details": {"root_cause": root.get("reason"), "owner": owner.get("team"),
                                   "services": inc.get("services"), "scope": inc.get("scope"),
                                   "alerts": inc["alert_count"], "aiops_event": event}})
            if link:
                body["client_url"] = link
            if inc["runbook_url"]:
                body["links"] = [{"href": inc["runbook_url"], "text": "Runbook"}]
        return body
    if hook.format == "slack":
        lines = [f"{_SLACK_MARK[event]} *{event.upper()}* [{change.severity or 'info'}] {title}"]
        if root.get("service"):
            lines.append(f"Root cause: {root['service']} ({root.get('reason', '')})")
        if owner.get("team"):
            lines.append(f"Owner: {owner['team']}; {inc['alert_count']} alerts")
        if inc["runbook_url"]:
            lines.append(f"Runbook: {inc['runbook_url']}")
        if link:
            lines.append(link)
        return {"text": "\n".join(lines)}
    return {"version": "1", "event": event, "change_id": change.id, "incident": inc,
            "previous": {"status": change.previous_status,
                         "severity": change.previous_severity}, "link": link}


class Notifier:
    """One thread per webhook, each walking the outbox from its own stored cursor."""

    POLL_S = 1.0
    MAX_BACKOFF_S = 60.0

    def __init__(self, store: Any, hooks: list[Hook], base_url: str = "") -> None:
        self.store = store
        self.hooks = hooks
        self.base_url = base_url
        self.state = {h.name: {"sent": 0, "skipped": 0, "rejected": 0, "failures": 0,
                               "last_error": None, "cursor": 0, "last_sent_at": None}
                      for h in hooks}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for hook in self.hooks:
            self.state[hook.name]["cursor"] = outbox.cursor(self.store, hook.name)
            t = threading.Thread(target=self._run, args=(hook,), daemon=True,
                                 name=f"aiops-notify-{hook.name}")
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(15)
        self._threads = []

    def status(self) -> dict[str, Any]:
        newest = outbox.last_change(self.store) if self.hooks else 0
        return {name: {**s, "pending": max(0, newest - s["cursor"])}
                for name, s in self.state.items()}

    def _run(self, hook: Hook) -> None:
        state = self.state[hook.name]
        while not self._stop.is_set():
            try:
                changes = outbox.changes_after(self.store, state["cursor"], 50)
            except Exception as exc:  # the store closing under us at shutdown, a full disk
                state["last_error"] = f"reading the outbox: {exc}"
                self._stop.wait(self.POLL_S)
                continue
            if not changes:
                self._stop.wait(self.POLL_S)
                continue
            for change in changes:
                event = event_of(change)
                if hook.wants(event, change.severity, change.previous_severity):
                    if not self._deliver(hook, change, event):
                        return  # stopping
                    state["last_sent_at"] = time.time()
                else:
                    state["skipped"] += 1
                state["cursor"] = change.id
                try:
                    outbox.advance(self.store, hook.name, change.id)
                except Exception as exc:  # a full disk: sent again after a restart, not lost
                    state["last_error"] = f"storing the cursor: {exc}"
                    log.error("notify %s: cannot store its cursor (%s)", hook.name, exc)

    def _deliver(self, hook: Hook, change: outbox.Change, event: str) -> bool:
        """Post until a 2xx (True) or until stopped (False)."""
        body = orjson.dumps(payload(hook, change, event, self.base_url,
                                    runbook(self.store, change.incident)))
        backoff = 1.0
        state = self.state[hook.name]
        while not self._stop.is_set():
            status, error = post(hook, body, f"{hook.name}-{change.id}")
            if error is None:
                state["sent"] += 1
                return True
            if status is not None and 400 <= status < 500 and status not in _RETRIED_4XX:
                # the receiver refuses this message (a bad routing key, a payload it cannot
                # take): retrying cannot help, and must not hold up later pages
                state["rejected"] += 1
                state["last_error"] = f"{error} (change {change.id})"
                log.error("notify %s: %s refused %s for incident %s: %s; not retried",
                          hook.name, hook.host, event, change.incident_id, error)
                return True
            state["failures"] += 1
            state["last_error"] = error
            log.warning("notify %s: %s %s for incident %s failed (%s); retrying in %.0f s",
                        hook.name, hook.format, event, change.incident_id, error, backoff)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self.MAX_BACKOFF_S)
        return False

    def test(self, name: str) -> dict[str, Any]:
        """One made-up change posted to the webhook ``name`` now, once: does it answer 2xx?"""
        hook = next((h for h in self.hooks if h.name == name), None)
        if hook is None:
            raise KeyError(name)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        change = outbox.Change(0, f"inc-test-{int(time.time())}", "open", "info", None, None, {
            "id": f"inc-test-{int(time.time())}", "status": "open", "severity": "info",
            "title": "aiops test notification (no incident)", "opened_at": now,
            "services": [], "scope": {}, "root_cause": {"service": "aiops",
                                                         "reason": "a test of this webhook"},
            "owner": {"layer": "", "team": "whoever reads this"}})
        body = orjson.dumps(payload(hook, change, "opened", self.base_url))
        status, error = post(hook, body, f"{hook.name}-test-{int(time.time() * 1000)}")
        return {"webhook": name, "format": hook.format, "host": hook.host, "ok": error is None,
                "status": status, "error": error}


_RETRIED_4XX = (408, 425, 429)


def post(hook: Hook, body: bytes, key: str) -> tuple[int | None, str | None]:
    """One POST: (HTTP status or None, None on a 2xx else what went wrong)."""
    headers = {"Content-Type": "application/json", "User-Agent": "aiops",
               "Idempotency-Key": key, **hook.headers}
    request = urllib.request.Request(hook.url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=hook.timeout_s) as response:
            response.read()
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}: {exc.read()[:200]!r}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"

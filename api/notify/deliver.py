"""Delivery: one thread per webhook walking the outbox from its stored cursor."""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import orjson

from aiops.store import outbox, queries
from api.notify.config import Hook
from api.notify.formats import (ALERTMANAGER_REFRESH_S, alertmanager_alerts, event_of,
                                 iso_utc, payload, root_links)

log = logging.getLogger("aiops.api.notify")


class Notifier:
    """One thread per webhook, each walking the outbox from its own stored cursor."""

    POLL_S = 1.0
    MAX_BACKOFF_S = 60.0

    def __init__(self, store: Any, hooks: list[Hook], base_url: str = "") -> None:
        self.store = store
        self.hooks = hooks
        self.base_url = base_url
        self.state = {h.name: {"sent": 0, "skipped": 0, "rejected": 0, "failures": 0,
                               "refreshed": 0, "last_error": None, "cursor": 0,
                               "last_sent_at": None} for h in hooks}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for hook in self.hooks:
            self.state[hook.name]["cursor"] = outbox.cursor(self.store, hook.name)
            log.info("notify %s: from change %d", hook.name, self.state[hook.name]["cursor"])
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
        refresh_at = time.monotonic() + ALERTMANAGER_REFRESH_S
        while not self._stop.is_set():
            # busy or not: a storm of changes must not starve the open incidents' renewal
            if hook.format == "alertmanager" and time.monotonic() >= refresh_at:
                refresh_at = time.monotonic() + ALERTMANAGER_REFRESH_S
                self._refresh(hook)
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
                                    *root_links(self.store, change.incident)))
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

    def _refresh(self, hook: Hook) -> None:
        """Re-post every open incident to an Alertmanager, as Prometheus re-sends its firing
        alerts: each stays firing while aiops lives, and ends a hold after it stops. One
        attempt; the next refresh is the retry."""
        try:
            page = queries.list_incidents(
                self.store, queries.incident_filter(status=["open", "acknowledged"]), limit=1000)
            alerts = []
            for doc in page.docs:
                incident = orjson.loads(doc)
                if hook.wants("opened", incident.get("severity")):
                    alerts.extend(alertmanager_alerts(incident, incident.get("severity"), None,
                                                      self.base_url,
                                                      root_links(self.store, incident)[0]))
        except Exception as exc:  # the store closing at shutdown
            self.state[hook.name]["last_error"] = f"reading open incidents: {exc}"
            return
        if not alerts:
            return
        status, error = post(hook, orjson.dumps(alerts), f"{hook.name}-refresh-{time.time():.0f}")
        state = self.state[hook.name]
        state["refreshed"] += error is None
        if error is not None:
            state["failures"] += 1
            state["last_error"] = f"refresh: {error}"

    def test(self, name: str) -> dict[str, Any]:
        """One made-up change posted to the webhook ``name`` now, once: does it answer 2xx?"""
        hook = next((h for h in self.hooks if h.name == name), None)
        if hook is None:
            raise KeyError(name)
        now = time.time()
        test_id = f"inc-test-{int(now)}"
        change = outbox.Change(0, test_id, "open", "info", None, None, {
            "id": test_id, "status": "open", "severity": "info",
            "title": "aiops test notification (no incident)",
            "opened_at": iso_utc(now),
            "services": [], "scope": {}, "root_cause": {"service": "aiops",
                                                         "reason": "a test of this webhook"},
            "owner": {"layer": "", "team": "whoever reads this"}})
        body = orjson.dumps(payload(hook, change, "opened", self.base_url))
        status, error = post(hook, body, f"{hook.name}-test-{int(now * 1000)}")
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

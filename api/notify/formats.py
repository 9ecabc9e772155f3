"""What each webhook format says about an incident change: plain JSON, Slack-compatible
text, PagerDuty Events API v2."""

from __future__ import annotations

from typing import Any

import orjson

from aiops.schema import severity_rank
from aiops.store import outbox, queries
from api.notify.config import Hook

_PD_ACTION = {"acknowledged": "acknowledge", "resolved": "resolve"}
_PD_SEVERITY = {"critical": "critical", "error": "error", "warning": "warning"}
_SLACK_MARK = {"opened": ":rotating_light:", "reopened": ":rotating_light:",
               "escalated": ":arrow_up:", "deescalated": ":arrow_down:",
               "acknowledged": ":eyes:", "resolved": ":white_check_mark:"}


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

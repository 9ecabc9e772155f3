"""What each webhook format says about an incident change: plain JSON, Slack-compatible
text, a Microsoft Teams Adaptive Card, PagerDuty Events API v2, Alertmanager alerts."""

from __future__ import annotations

import time
from typing import Any

import orjson

from aiops.schema import severity_rank
from aiops.store import outbox, queries
from api.notify.config import Hook
from ingest.alerts import AIOPS_INCIDENT_LABEL

_PD_ACTION = {"acknowledged": "acknowledge", "resolved": "resolve"}
_PD_SEVERITY = {"critical": "critical", "error": "error", "warning": "warning"}
_SLACK_MARK = {"opened": ":rotating_light:", "reopened": ":rotating_light:",
               "escalated": ":arrow_up:", "deescalated": ":arrow_down:",
               "acknowledged": ":eyes:", "resolved": ":white_check_mark:"}
#: an Adaptive Card TextBlock's colour per change (Teams shows Attention red, Good green)
_TEAMS_COLOR = {"opened": "Attention", "reopened": "Attention", "escalated": "Attention",
                "deescalated": "Warning", "acknowledged": "Warning", "resolved": "Good"}


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


def root_links(store: Any, incident: dict[str, Any]) -> tuple[str | None, str | None]:
    """The root-cause alert's runbook (Prometheus rules' ``runbook_url`` annotation) and
    source (its ``generatorURL``: the rule's graph), where it has them."""
    root_id = (incident.get("root_cause") or {}).get("alert_id")
    try:
        doc = queries.get_alert(store, root_id) if root_id else None
    except Exception:  # the store busy or closing: the page goes out without the links
        return None, None
    alert = orjson.loads(doc) if doc else {}
    annotations = alert.get("annotations") or {}
    link = annotations.get("runbook_url") or annotations.get("runbook")
    source = alert.get("generator_url")
    return (link if isinstance(link, str) and link else None,
            source if isinstance(source, str) and source else None)


#: how long an Alertmanager keeps an incident's alert firing without hearing from aiops again:
#: open incidents are re-posted every ``ALERTMANAGER_REFRESH_S`` (``deliver``), so an aiops
#: that stops leaves no alert firing for longer than this
ALERTMANAGER_REFRESH_S = 60.0
ALERTMANAGER_HOLD_S = 5 * ALERTMANAGER_REFRESH_S


def iso_utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def alertmanager_alerts(incident: dict[str, Any], severity: str | None,
                        previous_severity: str | None, base_url: str,
                        runbook_url: str | None) -> list[dict[str, Any]]:
    """The incident as an Alertmanager alert (``POST /api/v2/alerts``), so a Prometheus
    shop's routing tree delivers it: labels ``alertname="AiopsIncident"``, the incident id,
    its severity, root service, owning layer and scope (what routes match on); the title,
    root cause and runbook as annotations. Open: ``endsAt`` a hold ahead, renewed by
    re-posting; resolved: its resolution time. A changed severity is a new label set, so
    the old one is ended with it."""
    inc_id = incident.get("id", "")
    root = incident.get("root_cause") or {}
    owner = incident.get("owner") or {}
    now = time.time()
    resolved = incident.get("status") == "resolved"
    ends = incident.get("resolved_at") if resolved else None
    link = f"{base_url}/api/v1/incidents/{inc_id}" if base_url else ""

    def alert(sev: str | None, ends_at: str) -> dict[str, Any]:
        labels = {"alertname": "AiopsIncident", AIOPS_INCIDENT_LABEL: inc_id,
                  "severity": sev or "info", "service": root.get("service") or "",
                  "owner": owner.get("layer") or "", **(incident.get("scope") or {})}
        annotations = {"summary": incident.get("title") or inc_id,
                       "description": root.get("reason") or "", "team": owner.get("team") or "",
                       "runbook_url": runbook_url or "", "aiops_url": link,
                       "status": incident.get("status") or "",
                       "alerts": str(len(incident.get("alerts") or []))}
        return {"labels": {k: v for k, v in labels.items() if v},
                "annotations": {k: v for k, v in annotations.items() if v},
                "startsAt": incident.get("opened_at") or iso_utc(now), "endsAt": ends_at,
                "generatorURL": link}

    out = [alert(severity, ends or iso_utc(now + ALERTMANAGER_HOLD_S))]
    if previous_severity and previous_severity != severity:
        out.append(alert(previous_severity, iso_utc(now)))
    return out


def payload(hook: Hook, change: outbox.Change, event: str, base_url: str,
            runbook_url: str | None = None,
            source_url: str | None = None) -> dict[str, Any] | list[dict[str, Any]]:
    if hook.format == "alertmanager":
        # the incident as it is now (a state to keep in sync, not a message about one step)
        return alertmanager_alerts(change.incident, change.incident.get("severity")
                                   or change.severity, change.previous_severity, base_url,
                                   runbook_url)
    inc = {k: v for k, v in change.incident.items() if k not in ("alerts", "timeline")}
    inc["alert_count"] = len(change.incident.get("alerts") or [])
    inc["runbook_url"] = runbook_url
    inc["source_url"] = source_url
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
            links = [{"href": url, "text": text} for text, url in _links(inc)]
            if links:
                body["links"] = links
        return body
    if hook.format == "slack":
        lines = [f"{_SLACK_MARK[event]} *{event.upper()}* [{change.severity or 'info'}] {title}"]
        if root.get("service"):
            lines.append(f"Root cause: {root['service']} ({root.get('reason', '')})")
        if owner.get("team"):
            lines.append(f"Owner: {owner['team']}; {inc['alert_count']} alerts")
        lines += [f"{text}: {url}" for text, url in _links(inc)]
        if link:
            lines.append(link)
        return {"text": "\n".join(lines)}
    if hook.format == "teams":
        return teams_card(event, change.severity, title, inc, link)
    return {"version": "1", "event": event, "change_id": change.id, "incident": inc,
            "previous": {"status": change.previous_status,
                         "severity": change.previous_severity}, "link": link}


def _links(inc: dict[str, Any]) -> list[tuple[str, str]]:
    """The root alert's links a message offers, as (text, URL): its runbook, its source."""
    return [(text, url) for text, url in (("Runbook", inc.get("runbook_url")),
                                          ("Source", inc.get("source_url"))) if url]


def teams_card(event: str, severity: str | None, title: str, inc: dict[str, Any],
               link: str | None) -> dict[str, Any]:
    """A message with one Adaptive Card: what a Teams Workflows webhook ("When a Teams webhook
    request is received") posts to a channel, and what the retired Office 365 incoming
    webhooks accepted too (Workflows take Adaptive Cards only, not Slack text)."""
    root = inc.get("root_cause") or {}
    owner = inc.get("owner") or {}
    facts = [("Severity", severity or "info")]
    if root.get("service"):
        facts.append(("Root cause", f"{root['service']}: {root.get('reason', '')}"))
    if owner.get("team"):
        facts.append(("Owner", f"{owner['team']} ({owner.get('layer', '')})"))
    facts.append(("Alerts", str(inc.get("alert_count", 0))))
    if inc.get("services"):
        facts.append(("Services", ", ".join(inc["services"])))
    if inc.get("scope"):
        facts.append(("Scope", ", ".join(f"{k}={v}" for k, v in sorted(inc["scope"].items()))))
    facts.append(("Opened", str(inc.get("opened_at") or "")))
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard", "version": "1.4",
        "body": [{"type": "TextBlock", "text": f"{event.upper()}: {title}", "wrap": True,
                  "weight": "Bolder", "size": "Medium", "color": _TEAMS_COLOR[event]},
                 {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in facts]}]}
    actions = [{"type": "Action.OpenUrl", "title": text, "url": url}
               for text, url in (*_links(inc), ("Incident", link)) if url]
    if actions:
        card["actions"] = actions
    return {"type": "message", "summary": f"{event}: {title}"[:200],
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                             "contentUrl": None, "content": card}]}

"""``POST /api/v1/pagerduty``: PagerDuty v3 webhooks back in, so MTTA and MTTR are measured.

aiops pages PagerDuty with ``dedup_key`` = the incident id (``api.notify``); PagerDuty puts
that key in every v3 webhook about the incident it made (``event.data.incident_key``). An
``incident.acknowledged`` or ``incident.resolved`` event for one of aiops' incidents
acknowledges or resolves it here, by the responder PagerDuty names, at the time it says:
without this, the people who ack in PagerDuty's app never show in aiops' MTTA. Events about
incidents aiops did not make, of other types, or already applied are answered 200 and
ignored (PagerDuty retries anything else). With ``[notify] pagerduty_webhook_secret`` set,
the ``X-PagerDuty-Signature`` HMAC must match.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.auth import WRITE
from api.common import error_responses, parse_time, read_body, request_body
from api.errors import ApiError, json_response
from api.routers.incidents import incident_exists

router = APIRouter(tags=["ingest"])
_ACTIONS = {"incident.acknowledged": "ack", "incident.resolved": "resolve"}


@router.post("/api/v1/pagerduty", dependencies=[WRITE],
             responses=error_responses(400, 401, 403, 413),
             summary="PagerDuty v3 webhook: acks and resolutions of aiops' pages",
             openapi_extra=request_body({"application/json": {"schema": {"type": "object"}}},
                                        "a PagerDuty v3 webhook payload ({\"event\": {...}})"))
async def pagerduty_webhook(request: Request) -> Response:
    settings = request.app.state.settings
    raw = await read_body(request, settings.max_body_bytes)
    secret = request.app.state.pagerduty_secret
    if secret:
        _verify(raw, request.headers.get("x-pagerduty-signature", ""), secret)
    try:
        event = orjson.loads(raw)["event"]
        kind = event["event_type"]
        data = event.get("data") or {}
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise ApiError(400, "invalid_body", "expected a PagerDuty v3 webhook: "
                       "{\"event\": {\"event_type\", \"data\", ...}}", field="event") from None
    return json_response(await run_in_threadpool(_apply, request, kind, event, data))


def _verify(raw: bytes, header: str, secret: str) -> None:
    """PagerDuty signs the body with each of the subscription's secrets: ``v1=<hex>[,v1=...]``."""
    expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    given = [part.strip()[3:] for part in header.split(",") if part.strip().startswith("v1=")]
    if not any(hmac.compare_digest(expected, g) for g in given):
        raise ApiError(401, "unauthorized", "X-PagerDuty-Signature does not match "
                       "[notify] pagerduty_webhook_secret", field="x-pagerduty-signature")


def _apply(request: Request, kind: str, event: dict[str, Any], data: dict[str, Any]
           ) -> dict[str, Any]:
    action = _ACTIONS.get(kind)
    incident_id = data.get("incident_key") if isinstance(data, dict) else None
    if action is None:
        return {"applied": False, "reason": f"{kind}: not an acknowledgement or resolution"}
    if not isinstance(incident_id, str) or not incident_id:
        return {"applied": False, "reason": "no incident_key: not an incident aiops paged"}
    backend = request.app.state.backend
    if not incident_exists(backend, incident_id):
        return {"applied": False, "reason": f"{incident_id}: not an aiops incident"}
    if not backend.supports(action):  # a correlator without acks: PagerDuty must not retry
        return {"applied": False, "reason": f"this correlator does not support {action}"}
    agent = event.get("agent") or {}
    who = agent.get("summary") if isinstance(agent, dict) else None
    at = parse_time(event.get("occurred_at"), "event.occurred_at") or backend.max_ts
    note = f"via PagerDuty ({data.get('html_url') or data.get('id') or 'incident'})"
    try:
        backend.call(action, incident_id, who or "PagerDuty", at, note)
    except (KeyError, ValueError) as err:  # gone, or already acknowledged / resolved
        return {"applied": False, "reason": f"{incident_id}: {err}"}
    return {"applied": True, "incident": incident_id, "action": action, "by": who}

"""``/api/v1/notify``: the outbound webhooks' progress, and a test message to one of them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.auth import READ, WRITE
from api.common import READ_ERRORS, error_responses
from api.errors import ApiError, json_response

router = APIRouter(prefix="/api/v1/notify", tags=["control"])
Name = Annotated[str, Path(max_length=200, description="a [[notify.webhooks]] name")]


@router.get("", dependencies=[READ], responses=READ_ERRORS,
            summary="Per webhook: sent, skipped, rejected, failures, last error, pending")
async def webhooks(request: Request) -> Response:
    notifier = request.app.state.notifier
    return json_response(await run_in_threadpool(notifier.status) if notifier else {})


@router.post("/{name}/test", dependencies=[WRITE], responses=error_responses(401, 403, 404),
             summary="Post a made-up incident to one webhook now, once; report its answer")
async def test_webhook(request: Request, name: Name) -> Response:
    """What the receiver says to a message in the webhook's format, with its URL, headers and
    routing key: a wrong key or an unreachable URL shows here, not at the first real page.
    The message says it is a test; it is not retried and leaves no cursor behind."""
    notifier = request.app.state.notifier
    try:
        if notifier is None:
            raise KeyError(name)
        return json_response(await run_in_threadpool(notifier.test, name))
    except KeyError:
        known = ", ".join(h.name for h in notifier.hooks) if notifier else "none configured"
        raise ApiError(404, "not_found", f"no webhook {name!r} (known: {known})",
                       field="name", got=name) from None

"""Provider webhooks: verify on the raw body, store, answer at once; the inbox worker
does the work. 5xx only when the event could not be stored (so the provider retries)."""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payflow_app.api.errors import error_response
from payflow_app.providers import get_provider
from payflow_app.providers.base import WebhookRejected
from payflow_app.services import inbox

log = logging.getLogger(__name__)


async def stripe_webhook(request: Request) -> Response:
    return await _receive(request, "stripe")


async def _receive(request: Request, provider_id: str) -> Response:
    body = await request.body()
    headers = dict(request.headers)
    try:
        event = get_provider(provider_id).parse_webhook(body, headers)
    except WebhookRejected as exc:
        await asyncio.to_thread(
            inbox.record_rejection, provider=provider_id, reason=str(exc), headers=headers, body=body
        )
        return error_response(400, "invalid_webhook", str(exc))
    try:
        stored = await asyncio.to_thread(
            inbox.record_webhook, provider=provider_id, event=event, headers=headers, body=body
        )
    except Exception:
        log.exception("could not store %s webhook %s", provider_id, event.event_id)
        return error_response(503, "not_stored", "The event could not be stored; please retry.")
    inbox.wake_worker()
    return JSONResponse({"received": True, "duplicate": stored.duplicate})

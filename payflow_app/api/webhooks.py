"""Provider webhooks: verify on the raw body, store, answer at once; the inbox worker
does the work. 5xx only when the event could not be stored (so the provider retries)."""

from __future__ import annotations

import asyncio
import logging
import secrets

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payflow_app.api.errors import error_response
from payflow_app.providers import get_provider
from payflow_app.providers.base import WebhookRejected
from payflow_app.services import inbox
from payflow_app.settings import get_settings

log = logging.getLogger(__name__)


async def stripe_webhook(request: Request) -> Response:
    return await _receive(request, "stripe")


async def univapay_webhook(request: Request) -> Response:
    """``POST /api/payment/callback``: UnivaPay's charge events, authenticated by the
    configured Authorization header value (checked by the provider module)."""
    return await _receive(request, "univapay")


async def payhero_callback(request: Request) -> Response:
    """``POST /api/payhero/callback``: PayHero signs nothing, so the callback URL we
    give it carries a secret token; a request without it is recorded and refused."""
    token = request.query_params.get("token", "")
    if not secrets.compare_digest(token.encode(), get_settings().payhero_callback_token.encode()):
        return await _reject(request, "payhero", "authorization: missing or wrong callback token", 401)
    return await _receive(request, "payhero")


async def _reject(request: Request, provider_id: str, reason: str, status: int) -> Response:
    body = await request.body()
    headers = dict(request.headers)
    await asyncio.to_thread(
        inbox.record_rejection, provider=provider_id, reason=reason, headers=headers, body=body
    )
    code = "unauthorized" if status == 401 else "invalid_webhook"
    return error_response(status, code, reason)


async def _receive(request: Request, provider_id: str) -> Response:
    body = await request.body()
    headers = dict(request.headers)
    try:
        event = get_provider(provider_id).parse_webhook(body, headers)
    except WebhookRejected as exc:
        # A missing or wrong credential is 401; a bad signature or payload is 400.
        return await _reject(request, provider_id, str(exc), 401 if exc.unauthorized else 400)
    try:
        stored = await asyncio.to_thread(
            inbox.record_webhook, provider=provider_id, event=event, headers=headers, body=body
        )
    except Exception:
        log.exception("could not store %s webhook %s", provider_id, event.event_id)
        return error_response(503, "not_stored", "The event could not be stored; please retry.")
    log.info(
        "%s webhook %s (%s) stored as inbox row %s%s",
        provider_id,
        event.event_id,
        event.event_type,
        stored.id,
        " (duplicate)" if stored.duplicate else "",
    )
    inbox.wake_worker()
    return JSONResponse({"received": True, "duplicate": stored.duplicate})

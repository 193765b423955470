"""Provider webhooks: verify on the raw body, store, answer at once; the inbox worker
does the work. 5xx only when the event could not be stored (so the provider retries)."""

from __future__ import annotations

import asyncio
import logging
import secrets

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payflow_app.api.errors import BodyTooLarge, error_response, read_body
from payflow_app.providers import get_provider
from payflow_app.providers.base import ProviderEvent, WebhookRejected
from payflow_app.services.payments import inbox
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
        reason = "authorization: missing or wrong callback token"
        return await _receive(request, "payhero", refuse=WebhookRejected(reason, unauthorized=True))
    return await _receive(request, "payhero")


async def _reject(
    request: Request, provider_id: str, reason: str, status: int, body: bytes, size: int | None = None
) -> Response:
    """Refuse the request; keep (the start of) it for operators unless its source has
    sent too many refused requests lately. ``size``: ``body`` is only a too-large body's start."""
    await asyncio.to_thread(
        inbox.record_rejection,
        provider=provider_id,
        reason=reason,
        headers=dict(request.headers),
        body=body,
        source=request.client.host if request.client else "unknown",
        size=size,
    )
    code = {401: "unauthorized", 413: "body_too_large"}.get(status, "invalid_webhook")
    return error_response(status, code, reason)


def _check_fits(event: ProviderEvent) -> None:
    """Identifiers the inbox's columns cannot hold are not a provider's: refused, not a
    5xx (a 5xx would be retried for ever). PostgreSQL's text holds no NUL (``\\u0000``
    is valid JSON)."""
    if len(event.event_id) > 255 or len(event.event_type) > 100 or len(event.provider_reference or "") > 255:
        raise WebhookRejected("payload: an identifier is longer than any provider's")
    if "\x00" in event.event_id + event.event_type + (event.provider_reference or ""):
        raise WebhookRejected("payload: an identifier contains a NUL character")


async def _receive(request: Request, provider_id: str, refuse: WebhookRejected | None = None) -> Response:
    """Read the body (at most ``max_webhook_body_bytes``), verify and parse it, store
    it. ``refuse``: the request is already known to be refused (read, then kept)."""
    limit = get_settings().max_webhook_body_bytes
    try:
        body = await read_body(request, limit=limit)
    except BodyTooLarge as exc:
        reason = f"body: {exc.size:,} bytes, over the limit of {limit:,}"
        return await _reject(request, provider_id, reason, 413, exc.head, exc.size)
    headers = dict(request.headers)
    try:
        if refuse is not None:
            raise refuse
        event = get_provider(provider_id).parse_webhook(body, headers)
        _check_fits(event)
    except WebhookRejected as exc:
        # A missing or wrong credential is 401; a bad signature or payload is 400.
        return await _reject(request, provider_id, str(exc), 401 if exc.unauthorized else 400, body)
    try:
        stored = await inbox.store_webhook(provider=provider_id, event=event, headers=headers, body=body)
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

"""Operator endpoints (admin role only; 401 without a session, 403 for anyone else).

- ``POST /api/admin/sync-orders``: ask the providers about every open payment now →
  ``{"synced", "failed", "skipped"}``.
- ``POST /api/admin/payments/{id}/sync``: ask about one payment now → its status.
- ``POST /api/admin/payments/{id}/review`` ``{"reason"}``: hold it for a person.
- ``POST /api/admin/events/{id}/replay``: send a stored webhook back to the worker.
- ``GET /api/admin/events/{id}``: a stored webhook, raw body included.
- ``GET /metrics``: the console's figures in Prometheus' text format; a scraper may
  send ``Authorization: Bearer <PAYFLOW_METRICS_TOKEN>`` instead of a session.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payflow_app.api.auth import request_user
from payflow_app.api.errors import BadRequest, domain_error_response, error_response, json_object
from payflow_app.api.prometheus import SnapshotCollector
from payflow_app.core.errors import DomainError
from payflow_app.services.operations import console, metrics, timeline
from payflow_app.services.payments import inbox, reconciler
from payflow_app.settings import get_settings

Handler = Callable[[Request], Awaitable[Response]]


async def _refusal(request: Request) -> Response | None:
    user = await request_user(request)
    if user is None:
        return error_response(401, "not_signed_in", "Sign in with an operator account.")
    if user.role != "admin":
        return error_response(403, "forbidden", "Only operators (admin role) can do this.")
    return None


def admin_only(handler: Handler) -> Handler:
    async def guarded(request: Request) -> Response:
        refusal = await _refusal(request)
        if refusal is not None:
            return refusal
        try:
            return await handler(request)
        except BadRequest as exc:
            return exc.response
        except DomainError as exc:
            return domain_error_response(exc)

    return guarded


@admin_only
async def sync_orders(_request: Request) -> Response:
    report = await reconciler.sync_open_payments_now()
    return JSONResponse(report.as_dict())


@admin_only
async def sync_payment(request: Request) -> Response:
    payment_id = request.path_params["payment_id"]
    if not await asyncio.to_thread(reconciler.claim_payment, payment_id):
        return error_response(
            409, "not_syncable", "This payment has no provider reference or is being synced."
        )
    synced = await reconciler.sync_payment(payment_id, trigger="operator")
    payment_status, order_status = await asyncio.to_thread(console.statuses, payment_id)
    return JSONResponse({"synced": synced, "paymentStatus": payment_status, "orderStatus": order_status})


@admin_only
async def mark_for_review(request: Request) -> Response:
    body = await json_object(request)
    reason = body.get("reason")
    await asyncio.to_thread(
        console.mark_for_review,
        payment_id=request.path_params["payment_id"],
        reason=reason if isinstance(reason, str) else "",
    )
    return JSONResponse({"flagged": True})


@admin_only
async def replay_event(request: Request) -> Response:
    await asyncio.to_thread(inbox.replay_event, event_id=request.path_params["event_id"])
    return JSONResponse({"replayed": True})


@admin_only
async def webhook_event(request: Request) -> Response:
    event, body = await asyncio.to_thread(timeline.webhook_body, request.path_params["event_id"])
    return JSONResponse(
        {
            "id": event.id,
            "provider": event.provider,
            "eventId": event.event_id,
            "type": event.event_type,
            "status": event.status,
            "attempts": event.attempts,
            "receivedAt": event.received_at.isoformat(),
            "headers": json.loads(event.headers),
            "rawBody": body,
            "lastError": event.last_error,
        }
    )


async def prometheus_metrics(request: Request) -> Response:
    token = get_settings().metrics_token
    presented = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not (token and presented and hmac.compare_digest(token, presented)):
        refusal = await _refusal(request)
        if refusal is not None:
            return refusal
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(await asyncio.to_thread(metrics.snapshot)))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

"""Signed webhook delivery from the sandbox to the app, like Stripe's: a real
``Stripe-Signature`` header, after a delay, retried with backoff on failure."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import httpx

from payflow_app.settings import get_settings

log = logging.getLogger(__name__)
_tasks: set[asyncio.Task[None]] = set()
RETRY_DELAYS = (1.0, 3.0, 9.0)


def stripe_signature_header(payload: str, secret: str, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


async def _deliver(event: dict[str, Any], delay: float) -> None:
    settings = get_settings()
    await asyncio.sleep(delay)
    payload = json.dumps(event, indent=2)
    for attempt, backoff in enumerate((*RETRY_DELAYS, None), start=1):
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": stripe_signature_header(payload, settings.stripe_webhook_secret),
        }
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                response = await client.post(settings.stripe_webhook_url, content=payload, headers=headers)
            if 200 <= response.status_code < 300:
                return
            log.warning(
                "sandbox webhook %s got HTTP %s (attempt %s)", event["id"], response.status_code, attempt
            )
        except httpx.HTTPError as exc:
            log.warning("sandbox webhook %s failed: %s (attempt %s)", event["id"], exc, attempt)
        if backoff is None:
            return
        await asyncio.sleep(backoff)


def schedule_delivery(event: dict[str, Any]) -> None:
    task = asyncio.get_running_loop().create_task(
        _deliver(event, get_settings().sandbox_webhook_delay_seconds)
    )
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)

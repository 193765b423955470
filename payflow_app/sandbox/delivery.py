"""Webhook delivery from the sandbox to the app, as the providers do it: after a
delay, retried with backoff on failure. Stripe's carry a real ``Stripe-Signature``
header; other providers' carry whatever headers their imitation gives."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
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


async def _deliver(
    url: str, payload: str, headers: Callable[[], dict[str, str]], label: str, delay: float
) -> None:
    await asyncio.sleep(delay)
    for attempt, backoff in enumerate((*RETRY_DELAYS, None), start=1):
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                response = await client.post(url, content=payload, headers=headers())
            if 200 <= response.status_code < 300:
                return
            log.warning("sandbox webhook %s got HTTP %s (attempt %s)", label, response.status_code, attempt)
        except httpx.HTTPError as exc:
            log.warning("sandbox webhook %s failed: %s (attempt %s)", label, exc, attempt)
        if backoff is None:
            return
        await asyncio.sleep(backoff)


def schedule_webhook(*, url: str, payload: str, headers: Callable[[], dict[str, str]], label: str) -> None:
    """POST ``payload`` to ``url`` after the sandbox's webhook delay; ``headers`` is
    called for every attempt (a signature may carry a timestamp)."""
    delay = get_settings().sandbox_webhook_delay_seconds
    task = asyncio.get_running_loop().create_task(_deliver(url, payload, headers, label, delay))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def schedule_delivery(event: dict[str, Any]) -> None:
    """Send a Stripe event to the app's Stripe webhook, signed like Stripe signs it."""
    settings = get_settings()
    payload = json.dumps(event, indent=2)

    def headers() -> dict[str, str]:
        return {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": stripe_signature_header(payload, settings.stripe_webhook_secret),
        }

    schedule_webhook(url=settings.stripe_webhook_url, payload=payload, headers=headers, label=event["id"])

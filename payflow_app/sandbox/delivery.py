"""Webhook delivery from the sandbox to the app, as the providers do it: after a
delay, retried with backoff on failure, and shaped by the rail's fault knobs
(``sandbox/faults.py``: extra delay, duplicates, drops, reordering, a wrong
credential). Stripe's carry a real ``Stripe-Signature`` header; other providers'
carry whatever credential their imitation gives."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import httpx

from payflow_app.sandbox import faults
from payflow_app.settings import get_settings

log = logging.getLogger(__name__)
_tasks: set[asyncio.Task[None]] = set()
RETRY_DELAYS = (1.0, 3.0, 9.0)


@dataclass(frozen=True)
class Destination:
    """Where and how a callback is posted; ``headers`` is called for every attempt
    (a signature may carry a timestamp)."""

    url: str
    headers: Callable[[], dict[str, str]]


def stripe_signature_header(payload: str, secret: str, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


async def _deliver(to: Destination, payload: str, label: str, delay: float) -> None:
    await asyncio.sleep(delay)
    for attempt, backoff in enumerate((*RETRY_DELAYS, None), start=1):
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                response = await client.post(to.url, content=payload, headers=to.headers())
            if 200 <= response.status_code < 300:
                return
            log.warning("sandbox webhook %s got HTTP %s (attempt %s)", label, response.status_code, attempt)
        except httpx.HTTPError as exc:
            log.warning("sandbox webhook %s failed: %s (attempt %s)", label, exc, attempt)
        if backoff is None:
            return
        await asyncio.sleep(backoff)


async def _deliver_as_planned(
    provider: str, payload: str, label: str, to: Destination, forged: Destination
) -> None:
    try:
        plan = await asyncio.to_thread(faults.plan_deliveries, provider)
    except Exception:
        # Unreadable knobs must not lose a callback the provider would have sent.
        log.exception("sandbox faults of %s unreadable; sending %s as usual", provider, label)
        plan = faults.DeliveryPlan(delays=(get_settings().sandbox_webhook_delay_seconds,))
    if not plan.delays:
        log.warning("sandbox fault: %s webhook %s dropped, never sent", provider, label)
        return
    target = forged if plan.forged else to
    if plan.forged:
        log.warning("sandbox fault: %s webhook %s sent with a wrong credential", provider, label)
    copies = len(plan.delays)
    await asyncio.gather(
        *(
            _deliver(target, payload, label if copies == 1 else f"{label} (copy {n}/{copies})", delay)
            for n, delay in enumerate(plan.delays, start=1)
        )
    )


def schedule_webhook(
    *, provider: str, payload: str, label: str, to: Destination, forged: Destination
) -> None:
    """Send ``payload`` to the app as ``provider`` does, in the background: to ``to``,
    or to ``forged`` (the same callback with a wrong credential) when the rail's
    ``bad_signature`` knob is on; after the sandbox's webhook delay plus the knobs',
    as many copies as they say, or none when the callback is dropped."""
    _spawn(_deliver_as_planned(provider, payload, label, to, forged))


def _stripe_destination(url: str, payload: str, secret: str) -> Destination:
    def headers() -> dict[str, str]:
        return {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": stripe_signature_header(payload, secret),
        }

    return Destination(url, headers)


def schedule_delivery(event: dict[str, Any]) -> None:
    """Send a Stripe event to the app's Stripe webhook, signed like Stripe signs it
    (every copy and retry signed afresh)."""
    settings = get_settings()
    payload = json.dumps(event, indent=2)
    url, secret = settings.stripe_webhook_url, settings.stripe_webhook_secret
    schedule_webhook(
        provider="stripe",
        payload=payload,
        label=event["id"],
        to=_stripe_destination(url, payload, secret),
        forged=_stripe_destination(url, payload, faults.wrong_credential(secret)),
    )


def _spawn(job: Coroutine[Any, Any, None]) -> None:
    task = asyncio.get_running_loop().create_task(job)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)

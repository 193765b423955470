"""The life of an STK prompt: pushed to a phone, answered there or timed out, and the
callback PayHero sends for every result (after a delay, retried with backoff)."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Coroutine
from typing import Any

import httpx

from payflow_app.sandbox.delivery import RETRY_DELAYS
from payflow_app.sandbox.payhero import store
from payflow_app.settings import get_settings

log = logging.getLogger(__name__)
LOW_BALANCE_PHONE = "254700000001"
_tasks: set[asyncio.Task[None]] = set()


async def push(fields: dict[str, Any]) -> dict[str, Any]:
    """Show an STK prompt on ``fields["phone"]``; answers the stored request."""
    timeout = get_settings().sandbox_mpesa_prompt_timeout_seconds
    request, resolved = await asyncio.to_thread(store.push, fields, timeout_seconds=timeout)
    _send_callbacks(resolved)
    if request["status"] == "QUEUED":
        _spawn(_time_out_later(request["reference"], request["deadline"]))
    return request


async def answer(*, phone: str, reference: str, action: str, pin: str) -> None:
    """The customer pressed Send (``action="pay"``) or Cancel on the phone. A prompt
    answered already, timed out or shown on another phone changes nothing."""
    await current(reference)  # a prompt past its timeout cannot be paid any more
    if action == "cancel":
        code = store.CANCELLED
    elif action != "pay":
        return
    elif not secrets.compare_digest(pin.encode(), get_settings().sandbox_mpesa_pin.encode()):
        code = store.WRONG_PIN
    else:
        code = store.LOW_BALANCE if phone == LOW_BALANCE_PHONE else store.SUCCESS
    resolved = await asyncio.to_thread(store.resolve, reference, code, phone=phone)
    _send_callbacks([resolved] if resolved else [])


async def current(reference: str) -> dict[str, Any] | None:
    """The request as it stands, timed out first if nobody answered it in time (so a
    restart that lost the timer cannot leave a prompt waiting for ever)."""
    request = await asyncio.to_thread(store.load, reference)
    if request is None or not store.is_overdue(request):
        return request
    timed_out = await asyncio.to_thread(store.resolve, reference, store.TIMEOUT, only_if_overdue=True)
    if timed_out is None:  # answered meanwhile
        return await asyncio.to_thread(store.load, reference)
    _send_callbacks([timed_out])
    return timed_out


async def on_phone(phone: str) -> list[dict[str, Any]]:
    """Every request the phone received, newest first, overdue prompts timed out."""
    requests = await asyncio.to_thread(store.phone_requests, phone)
    return [(await current(r["reference"]) or r) if store.is_overdue(r) else r for r in requests]


def callback_body(request: dict[str, Any]) -> dict[str, Any]:
    """PayHero's v2 callback: Daraja's result, flattened and wrapped."""
    succeeded = request["result_code"] == store.SUCCESS
    return {
        "forward_url": "",
        "response": {
            "Amount": request["amount"],
            "CheckoutRequestID": request["checkout_request_id"],
            "ExternalReference": request["external_reference"],
            "MerchantRequestID": request["merchant_request_id"],
            "MpesaReceiptNumber": request["receipt"],
            "Phone": f"+{request['phone']}",
            "ResultCode": request["result_code"],
            "ResultDesc": request["result_desc"],
            "Status": "Success" if succeeded else "Failed",
        },
        "status": succeeded,
    }


async def _time_out_later(reference: str, deadline: float) -> None:
    await asyncio.sleep(max(0.0, deadline - time.time()))
    await current(reference)


def _send_callbacks(resolved: list[dict[str, Any]]) -> None:
    settings = get_settings()
    if settings.sandbox_payhero_withhold_callbacks or store.callbacks_withheld():
        return
    for request in resolved:
        if request["callback_url"]:
            body = callback_body(request)
            _spawn(_deliver(request["callback_url"], body, settings.sandbox_webhook_delay_seconds))


async def _deliver(url: str, body: dict[str, Any], delay: float) -> None:
    await asyncio.sleep(delay)
    payload = json.dumps(body)
    name = body["response"]["CheckoutRequestID"]
    for attempt, backoff in enumerate((*RETRY_DELAYS, None), start=1):
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                response = await client.post(
                    url, content=payload, headers={"Content-Type": "application/json"}
                )
            if 200 <= response.status_code < 300:
                return
            log.warning("sandbox callback %s got HTTP %s (attempt %s)", name, response.status_code, attempt)
        except httpx.HTTPError as exc:
            log.warning("sandbox callback %s failed: %s (attempt %s)", name, exc, attempt)
        if backoff is None:
            return
        await asyncio.sleep(backoff)


def _spawn(job: Coroutine[Any, Any, None]) -> None:
    task = asyncio.get_running_loop().create_task(job)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)

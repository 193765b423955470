"""The life of an STK prompt: pushed to a phone, answered there or timed out, and the
callback PayHero sends for every result (through ``sandbox/delivery.py``: after a
delay, retried with backoff, shaped by PayHero's fault knobs)."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Coroutine
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from payflow_app.sandbox.delivery import Destination, schedule_webhook
from payflow_app.sandbox.faults import wrong_credential
from payflow_app.sandbox.payhero import store
from payflow_app.settings import get_settings

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
    for request in resolved:
        if request["callback_url"]:
            url = request["callback_url"]
            schedule_webhook(
                provider="payhero",
                payload=json.dumps(callback_body(request)),
                label=request["checkout_request_id"],
                to=Destination(url, _headers),
                forged=Destination(forged_callback_url(url), _headers),
            )


def _headers() -> dict[str, str]:
    return {"Content-Type": "application/json"}


def forged_callback_url(url: str) -> str:
    """The callback URL with a wrong ``token`` (PayHero signs nothing: the app's
    URL carries the secret)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    token = next((value for name, value in query if name == "token"), "")
    kept = [(name, value) for name, value in query if name != "token"]
    return urlunsplit(parts._replace(query=urlencode([*kept, ("token", wrong_credential(token))])))


def _spawn(job: Coroutine[Any, Any, None]) -> None:
    task = asyncio.get_running_loop().create_task(job)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)

"""PayHero's v2 API subset, offline: STK push and the transaction status query,
Basic auth, JSON in and out. PayHero documents no error body, so every error here
answers ``{"success": false, "error_message": …}``."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payflow_app.api.errors import BadRequest, read_body
from payflow_app.core.inputs import loads_json
from payflow_app.core.phones import normalise_kenyan_phone
from payflow_app.sandbox import faults
from payflow_app.sandbox.payhero import prompts, store
from payflow_app.settings import get_settings


def payhero_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"success": False, "error_message": message}, status_code=status)


def _authorized(request: Request) -> bool:
    settings = get_settings()
    credentials = f"{settings.payhero_username}:{settings.payhero_password}".encode()
    expected = b"Basic " + base64.b64encode(credentials)
    return secrets.compare_digest(request.headers.get("authorization", "").encode(), expected)


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _validate_push(body: Any) -> dict[str, Any] | JSONResponse:
    if not isinstance(body, dict):
        return payhero_error(400, "The request body must be a JSON object.")
    missing = [f for f in ("amount", "phone_number", "channel_id", "provider") if body.get(f) in (None, "")]
    if missing:
        return payhero_error(400, f"Missing required field(s): {', '.join(missing)}.")
    amount, channel_id = body["amount"], body["channel_id"]
    if not _is_whole(amount) or amount < 1:
        return payhero_error(400, "amount must be a positive whole number of shillings.")
    raw_phone = body["phone_number"]
    phone = normalise_kenyan_phone(str(raw_phone)) if isinstance(raw_phone, str | int) else None
    if phone is None:
        return payhero_error(400, "phone_number is not a valid Kenyan mobile number.")
    if not _is_whole(channel_id) or channel_id != get_settings().payhero_channel_id:
        return payhero_error(400, f"channel_id {channel_id!r} is not a payment channel of this account.")
    if body["provider"] != "m-pesa":
        return payhero_error(400, "provider must be m-pesa (the sandbox has no sasapay).")
    optional = {f: body.get(f) or "" for f in ("external_reference", "customer_name", "callback_url")}
    if not all(isinstance(v, str) for v in optional.values()):
        return payhero_error(400, "external_reference, customer_name and callback_url must be strings.")
    if optional["callback_url"] and not optional["callback_url"].startswith(("http://", "https://")):
        return payhero_error(400, "callback_url must be an http(s) URL.")
    return {"amount": amount, "phone": phone, "channel_id": channel_id, **optional}


async def create_payment(request: Request) -> Response:
    """``POST /api/v2/payments``: push an STK prompt to the customer's phone."""
    if not _authorized(request):
        return payhero_error(401, "Unauthorized")
    try:
        body = loads_json(await read_body(request))
    except (ValueError, BadRequest):  # not JSON, nested too deep, or too large
        return payhero_error(400, "The request body must be JSON.")
    fields = _validate_push(body)
    if isinstance(fields, JSONResponse):
        return fields
    pushed = await prompts.push(fields)
    return JSONResponse(
        {
            "success": True,
            "status": "QUEUED",
            "reference": pushed["reference"],
            "CheckoutRequestID": pushed["checkout_request_id"],
        },
        status_code=201,
    )


async def transaction_status(request: Request) -> Response:
    """``GET /api/v2/transaction-status?reference=…``; like PayHero's, without the amount."""
    if not _authorized(request):
        return payhero_error(401, "Unauthorized")
    if await faults.status_fault("payhero"):
        return payhero_error(500, "Internal server error.")
    reference = request.query_params.get("reference", "")
    if not reference:
        return payhero_error(400, "reference is required.")
    stk = await prompts.current(reference)
    if stk is None:
        return payhero_error(404, f"No transaction with reference {reference}.")
    return JSONResponse(
        {
            "transaction_date": stk["transaction_date"],
            "provider": "m-pesa",
            "success": True,
            "merchant": store.MERCHANT,
            "payment_reference": "",
            "third_party_reference": stk["receipt"],
            "status": stk["status"],
            "reference": stk["reference"],
            "CheckoutRequestID": stk["checkout_request_id"],
            "provider_reference": stk["receipt"],
        }
    )


async def controls(request: Request) -> Response:
    """``POST {"withholdCallbacks": true}`` keeps every callback from being sent (the
    status query still answers) until it is set back to false: PayHero's
    ``drop_rate`` fault knob set to 1 (or 0), the other knobs kept. Answers whether
    callbacks are withheld, by the knob or by
    ``PAYFLOW_SANDBOX_PAYHERO_WITHHOLD_CALLBACKS``."""
    if request.method == "POST":
        try:
            body = loads_json(await read_body(request))
        except (ValueError, BadRequest):
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("withholdCallbacks"), bool):
            return payhero_error(400, 'Send {"withholdCallbacks": true|false}.')
        await asyncio.to_thread(_withhold_callbacks, body["withholdCallbacks"])
    knobs = await asyncio.to_thread(faults.load_faults, "payhero")
    withheld = faults.withheld_by_setting("payhero") or knobs.drop_rate >= 1
    return JSONResponse({"withholdCallbacks": withheld})


def _withhold_callbacks(withheld: bool) -> None:
    knobs = faults.load_faults("payhero")
    faults.save_faults("payhero", dataclasses.replace(knobs, drop_rate=1.0 if withheld else 0.0))

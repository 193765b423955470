"""The Checkout Session API subset of Stripe, offline: form-encoded requests, JSON
objects and errors in Stripe's wire format, idempotency keys honoured."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payflow_app.core.inputs import whole_number
from payflow_app.core.money import EXPONENTS
from payflow_app.sandbox import stripe_store as store
from payflow_app.sandbox.delivery import schedule_delivery
from payflow_app.sandbox.faults import status_fault
from payflow_app.settings import get_settings

MAX_AMOUNT = 99_999_999  # Stripe's largest amount (eight digits of minor units)


def stripe_error(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
) -> JSONResponse:
    body = {
        "error": {
            "type": type_,
            "code": code,
            "message": message,
            "param": param,
            "doc_url": f"https://stripe.com/docs/error-codes/{code}" if code else None,
        }
    }
    return JSONResponse(body, status_code=status, headers={"Request-Id": store.new_id("req_", 14)})


def authorized(request: Request) -> bool:
    return request.headers.get("authorization", "") == f"Bearer {get_settings().stripe_secret_key}"


def unauthorized() -> JSONResponse:
    return stripe_error(401, "Invalid API Key provided.", code="api_key_invalid")


def _validate_create(form: dict[str, Any]) -> tuple[int, str] | JSONResponse:
    if form.get("mode") != "payment":
        return stripe_error(400, "Only mode=payment is supported by the sandbox.", param="mode")
    for url in ("success_url", "cancel_url"):
        if not str(form.get(url, "")).startswith(("http://", "https://")):
            return stripe_error(400, f"Not a valid URL: {url}", code="url_invalid", param=url)
    items = form.get("line_items")
    if not isinstance(items, list) or not items:
        return stripe_error(
            400, "line_items is required in payment mode.", code="parameter_missing", param="line_items"
        )
    total, currency = 0, None
    for i, item in enumerate(items):
        price = item.get("price_data") if isinstance(item, dict) else None
        if not isinstance(price, dict):
            return stripe_error(400, "Invalid line item.", param=f"line_items[{i}][price_data]")
        unit = whole_number(str(price.get("unit_amount", "")), minimum=0, maximum=MAX_AMOUNT)
        quantity = whole_number(str(item.get("quantity", 1)), minimum=1, maximum=MAX_AMOUNT)
        if unit is None or quantity is None:
            return stripe_error(
                400, "unit_amount must be an integer.", param=f"line_items[{i}][price_data][unit_amount]"
            )
        product = price.get("product_data")
        if not isinstance(product, dict) or not product.get("name"):
            return stripe_error(400, "Invalid line item.", param=f"line_items[{i}]")
        item_currency = price.get("currency")
        if not isinstance(item_currency, str) or not item_currency:
            break  # answered below
        if item_currency.upper() not in EXPONENTS:
            return stripe_error(400, f"Invalid currency: {item_currency}.", param=f"line_items[{i}]")
        if currency not in (None, item_currency):
            return stripe_error(400, "All line items must share one currency.", param="line_items")
        currency = item_currency
        total += unit * quantity
    else:
        return total, str(currency)
    return stripe_error(
        400,
        "currency is required.",
        code="parameter_missing",
        param="line_items[0][price_data][currency]",
    )


def _new_session(form: dict[str, Any], total: int, currency: str) -> dict[str, Any]:
    now = int(time.time())
    session_id = store.new_id("cs_test_", 58)
    expires_at = whole_number(str(form.get("expires_at") or ""), minimum=now) or now + 24 * 3600
    return {
        "id": session_id,
        "object": "checkout.session",
        "mode": "payment",
        "status": "open",
        "payment_status": "unpaid",
        "amount_subtotal": total,
        "amount_total": total,
        "currency": currency,
        "created": now,
        "expires_at": expires_at,
        "livemode": False,
        "client_reference_id": form.get("client_reference_id"),
        "customer": None,
        "customer_email": form.get("customer_email"),
        "customer_details": None,
        "metadata": form.get("metadata") or {},
        "payment_intent": None,
        "payment_method_types": ["card"],
        "success_url": form["success_url"],
        "cancel_url": form["cancel_url"],
        "url": f"{get_settings().public_url}/sandbox/stripe/pay/{session_id}",
        "ui_mode": "hosted_page",
        "invoice": None,
        "subscription": None,
    }


async def create_session(request: Request) -> Response:
    if not authorized(request):
        return unauthorized()
    try:
        form = store.parse_form(list((await request.form()).multi_items()))  # type: ignore[arg-type]
    except ValueError as exc:
        return stripe_error(400, f"Invalid request: {exc}")
    checked = _validate_create(form)
    if isinstance(checked, JSONResponse):
        return checked
    session = _new_session(form, *checked)
    key = request.headers.get("idempotency-key")
    if key:
        first_id = await asyncio.to_thread(store.remember_idempotency, key, session["id"])
        if first_id != session["id"]:
            existing = await asyncio.to_thread(store.load, first_id, "checkout.session")
            return JSONResponse(existing, headers={"Idempotent-Replayed": "true"})
    await asyncio.to_thread(store.save, session, kind="checkout.session", expires_at=session["expires_at"])
    return JSONResponse(session)


async def retrieve_session(request: Request) -> Response:
    if not authorized(request):
        return unauthorized()
    if await status_fault("stripe"):
        return stripe_error(500, "An unknown error occurred (sandbox fault knob).", type_="api_error")
    session_id = request.path_params["session_id"]
    session = await asyncio.to_thread(store.load, session_id, "checkout.session")
    if session is None:
        return stripe_error(
            404, f"No such checkout.session: '{session_id}'", code="resource_missing", param="session"
        )
    return JSONResponse(session)


async def expire_session(request: Request) -> Response:
    if not authorized(request):
        return unauthorized()
    session_id = request.path_params["session_id"]
    expired = await expire(session_id)
    if expired is not None:
        return JSONResponse(expired)
    session = await asyncio.to_thread(store.load, session_id, "checkout.session")
    if session is None:
        return stripe_error(
            404, f"No such checkout.session: '{session_id}'", code="resource_missing", param="session"
        )
    return stripe_error(
        400,
        'Only Checkout Sessions with a status in ["open"] can be expired.',
        code="checkout_session_not_open",
    )


async def expire(session_id: str) -> dict[str, Any] | None:
    """Expire an open session and send ``checkout.session.expired``; None if not open."""
    expired = await asyncio.to_thread(store.update_session, session_id, status="expired", url=None)
    if expired is not None:
        schedule_delivery(await asyncio.to_thread(store.make_event, "checkout.session.expired", expired))
    return expired


async def run_expiry_sweeper() -> None:
    """Expire sessions past their ``expires_at``, as Stripe does."""
    while True:
        await asyncio.sleep(get_settings().sandbox_expiry_sweep_seconds)
        for session_id in await asyncio.to_thread(store.open_sessions_past_expiry):
            await expire(session_id)

"""The PaymentIntent and Charge behind a paid Checkout Session, in Stripe's wire shape.

Paying on the sandbox's Checkout page makes one succeeded PaymentIntent (the
session's ``payment_intent``) with one captured Charge (its ``latest_charge``).
Refunds (:mod:`payflow_app.sandbox.stripe_refunds`) draw on the Charge's
``amount_refunded``, as on Stripe."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payflow_app.core.db import write_transaction
from payflow_app.models import SandboxObject
from payflow_app.sandbox import stripe_store as store
from payflow_app.sandbox.stripe_api import authorized, stripe_error, unauthorized


def _card_brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or number.startswith("2"):
        return "mastercard"
    return "amex" if number[:2] in {"34", "37"} else "unknown"


def payment_objects(session: dict[str, Any], *, card_number: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The succeeded PaymentIntent (id from ``session["payment_intent"]``) and its Charge."""
    now, amount, currency = int(time.time()), session["amount_total"], session["currency"]
    intent_id, charge_id = session["payment_intent"], store.new_id("ch_")
    method = store.new_id("pm_")
    details = session.get("customer_details") or {}
    intent = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": amount,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{intent_id}_secret_{store.new_id('', 25)}",
        "confirmation_method": "automatic",
        "created": now,
        "currency": currency,
        "customer": None,
        "description": None,
        "last_payment_error": None,
        "latest_charge": charge_id,
        "livemode": False,
        "metadata": dict(session.get("metadata") or {}),
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": method,
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": details.get("email"),
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded",
        "transfer_data": None,
        "transfer_group": None,
    }
    charge = {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": 0,
        "balance_transaction": store.new_id("txn_"),
        "billing_details": {"address": None, "email": details.get("email"), "name": details.get("name")},
        "captured": True,
        "created": now,
        "currency": currency,
        "customer": None,
        "description": None,
        "disputed": False,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {},
        "outcome": {"network_status": "approved_by_network", "reason": None, "type": "authorized"},
        "paid": True,
        "payment_intent": intent_id,
        "payment_method": method,
        "payment_method_details": {
            "type": "card",
            "card": {"brand": _card_brand(card_number), "last4": card_number[-4:], "funding": "credit"},
        },
        "receipt_email": details.get("email"),
        "refunded": False,
        "status": "succeeded",
    }
    return intent, charge


def record_payment(session: dict[str, Any], *, card_number: str) -> dict[str, Any]:
    """Store the PaymentIntent and Charge of a just-paid session; answers the intent."""
    intent, charge = payment_objects(session, card_number=card_number)
    with write_transaction() as db:
        for obj in (intent, charge):
            db.add(SandboxObject(id=obj["id"], provider="stripe", kind=obj["object"], data=json.dumps(obj)))
    return intent


async def retrieve_payment_intent(request: Request) -> Response:
    if not authorized(request):
        return unauthorized()
    intent_id = request.path_params["intent_id"]
    intent = await asyncio.to_thread(store.load, intent_id, "payment_intent")
    if intent is None:
        return stripe_error(
            404, f"No such payment_intent: '{intent_id}'", code="resource_missing", param="intent"
        )
    return JSONResponse(intent)

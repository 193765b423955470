"""``POST /pay``: the purchase endpoint for API clients (design 1).

With ``"dryRun": true`` (the default) it only answers which method would pay — the
wallet when the balance covers the amount, else the card provider — and the
amounts; nothing changes. With ``"dryRun": false`` it places the order and pays it
that way: the wallet settles at once, the card answers the provider's page URL.
Needs the session cookie. Body: ``{"kind": "ticket_order", "ticketTypeId", "quantity"}``
| ``{"kind": "plan_upgrade", "plan"}`` | ``{"kind": "gallery", "galleryId"}`` |
``{"kind": "wallet_topup", "amount": "50.00", "currency": "PLN"}``."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payflow_app.api.auth import request_user
from payflow_app.api.errors import BadRequest, error_response, int_field, json_object
from payflow_app.core.errors import DomainError, InvalidInput, NotFound
from payflow_app.core.money import Money
from payflow_app.core.states import Kind
from payflow_app.models import Order, pk
from payflow_app.providers.base import PaymentError
from payflow_app.services.accounts import plans
from payflow_app.services.accounts.customers import SessionUser
from payflow_app.services.checkout import orders
from payflow_app.services.payments import purchases

# What /pay sells (a membership has its own card flow, ``/membership``).
PAYABLE = (Kind.TICKETS, Kind.PLAN, Kind.GALLERY, Kind.TOP_UP)
CONFLICTS = {
    "gallery_locked",
    "gallery_active",
    "insufficient_funds",
    "order_not_pending",
    "plan_not_upgrade",
}


def _money(value: Money | None) -> dict[str, Any] | None:
    return None if value is None else {"minor": value.amount, "currency": value.currency}


def _amount(body: dict[str, Any], user: SessionUser) -> tuple[Kind, Money]:
    kind = next((k for k in PAYABLE if k.value == body.get("kind")), None)
    if kind is None:
        raise InvalidInput({"kind": "kind must be one of " + ", ".join(k.value for k in PAYABLE)})
    if kind is Kind.TICKETS:
        return kind, purchases.ticket_amount(
            ticket_type_id=int_field(body, "ticketTypeId"), quantity=int_field(body, "quantity")
        )
    if kind is Kind.PLAN:
        chosen = plans.plan(str(body.get("plan", "")))
        if chosen is None:
            raise InvalidInput({"plan": "Unknown plan."})
        return kind, chosen.price
    if kind is Kind.GALLERY:
        int_field(body, "galleryId")
        return kind, plans.GALLERY_PUBLICATION_PRICE
    return kind, purchases.top_up_amount(str(body.get("amount", "")), str(body.get("currency", "")))


def _place(kind: Kind, body: dict[str, Any], user: SessionUser) -> Order:
    if kind is Kind.TICKETS:
        form = orders.CheckoutForm(
            full_name=user.full_name,
            email=user.email,
            phone="",
            ticket_type_id=int_field(body, "ticketTypeId"),
            quantity=int_field(body, "quantity"),
            language=user.language,
            user_id=user.id,
        )
        return orders.place_order(form=form)
    if kind is Kind.PLAN:
        return purchases.place_plan_upgrade(user_id=user.id, plan_code=str(body.get("plan")))
    if kind is Kind.GALLERY:
        return purchases.place_gallery_publication(user_id=user.id, gallery_id=int_field(body, "galleryId"))
    amount = purchases.top_up_amount(str(body.get("amount", "")), str(body.get("currency", "")))
    return purchases.place_top_up(user_id=user.id, amount=amount)


async def pay(request: Request) -> Response:
    user = await request_user(request)
    if user is None:
        return error_response(401, "not_signed_in", "Log in first: /pay acts for the signed-in customer.")
    try:
        body = await json_object(request)
    except BadRequest as exc:
        return exc.response
    try:
        kind, amount = await asyncio.to_thread(_amount, body, user)
        choice = await asyncio.to_thread(purchases.quote, user_id=user.id, amount=amount, kind=kind)
        answer: dict[str, Any] = {
            "dryRun": body.get("dryRun", True) is not False,
            "kind": kind.value,
            "method": choice.method.value,
            "amount": _money(choice.amount),
            "walletBalance": _money(choice.wallet_balance),
            "balanceAfter": _money(choice.balance_after),
        }
        if answer["dryRun"]:
            return JSONResponse(answer)
        order = await asyncio.to_thread(_place, kind, body, user)
        started = await purchases.pay(order_id=pk(order), method=choice.method)
    except InvalidInput as exc:
        return error_response(400, "invalid_input", exc.message)
    except NotFound as exc:
        return error_response(404, exc.code, exc.message)
    except DomainError as exc:
        return error_response(409 if exc.code in CONFLICTS else 400, exc.code, exc.message)
    except PaymentError as exc:
        return error_response(502, exc.code, exc.message)
    return JSONResponse(
        answer
        | {
            "orderNumber": order.number,
            "paymentReference": started.reference,
            "redirectUrl": started.redirect_url,
            "statusUrl": f"/payments/success?session_id={started.reference}",
        },
        status_code=201,
    )

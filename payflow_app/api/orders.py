"""Ticket orders paid with M-PESA (design 5).

- ``POST /api/orders/direct-checkout``: ``{"fullName", "email", "phone",
  "ticketTypeId", "quantity"}`` → 201 ``{"success", "orderId", "orderNumber"}``; the STK
  prompt is on its way to the phone. 400 for bad input (nothing is created), 409
  when a prompt already waits on that phone, 502 when PayHero refused the push (the
  order is then cancelled).
- ``POST /api/orders/{orderId}/stk-push``: push the prompt again for a pending order
  (``{"phone"}`` optional); 409 while one still waits.
- ``GET /api/orders/{orderId}/status``: the order's payment status as JSON.

``orderId`` is the order's public reference (``ord_…``, 128 random bits), not its row
id: only whoever was given it (the checkout's answer, the waiting page's link) can read
the order or push a prompt. A row id or a made-up reference answers 404, like a missing
order, and changes nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payflow_app.api.auth import request_user
from payflow_app.api.errors import (
    BadRequest,
    domain_error_response,
    error_response,
    int_field,
    json_object,
)
from payflow_app.core.errors import DomainError, InvalidInput, NotFound
from payflow_app.core.phones import normalise_kenyan_phone
from payflow_app.core.states import OrderStatus, PaymentStatus
from payflow_app.i18n import normalise
from payflow_app.models import pk
from payflow_app.providers.base import PaymentError
from payflow_app.services.checkout import lookup
from payflow_app.services.checkout.orders import CheckoutForm
from payflow_app.services.payments import mpesa


def _field(body: dict[str, Any], *names: str) -> str:
    value = next((body[n] for n in names if n in body), "")
    return value.strip() if isinstance(value, str) else ""


async def direct_checkout(request: Request) -> Response:
    try:
        body = await json_object(request)
        user = await request_user(request)
        form = CheckoutForm(
            full_name=_field(body, "fullName", "name"),
            email=_field(body, "email") or (user.email if user else ""),
            phone=_field(body, "phone", "phoneNumber"),
            ticket_type_id=int_field(body, "ticketTypeId"),
            quantity=int_field(body, "quantity"),
            language=normalise(_field(body, "language") or (user.language if user else "en")),
            user_id=user.id if user else None,
            client_address=request.client.host if request.client else "unknown",
        )
        order = await mpesa.direct_checkout(form=form)
    except BadRequest as exc:
        return exc.response
    except DomainError as exc:
        return domain_error_response(exc)
    except PaymentError as exc:
        return error_response(502, exc.code, exc.message)
    return JSONResponse(
        {
            "success": True,
            "orderId": order.public_id,
            "orderNumber": order.number,
            "statusUrl": f"/api/orders/{order.public_id}/status",
            "paymentPage": f"/payment/{order.public_id}",
        },
        status_code=201,
    )


async def push_again(request: Request) -> Response:
    try:
        reference: str = request.path_params["reference"]
        order, last = await asyncio.to_thread(mpesa.order_for_prompt, reference)
        body = await json_object(request)
        raw_phone = _field(body, "phone") or last.payer_phone or ""
        phone = normalise_kenyan_phone(raw_phone)
        if phone is None:
            raise InvalidInput({"phone": "Enter a Kenyan M-PESA number, e.g. 0712 345 678."})
        payment = await mpesa.push_prompt(order_id=pk(order), phone=phone)
    except BadRequest as exc:
        return exc.response
    except DomainError as exc:
        return domain_error_response(exc)
    except PaymentError as exc:
        return error_response(502, exc.code, exc.message)
    return JSONResponse(
        {"success": True, "orderId": reference, "orderNumber": order.number, "paymentStatus": payment.status},
        status_code=201,
    )


async def order_status(request: Request) -> Response:
    reference: str = request.path_params["reference"]
    try:
        order, payment = await asyncio.to_thread(lookup.order_by_reference, reference)
    except NotFound:
        return error_response(404, "not_found", "We could not find this order.")
    paid = order.status in (OrderStatus.PAID, OrderStatus.FULFILLED)
    return JSONResponse(
        {
            "orderId": reference,
            "orderNumber": order.number,
            "status": order.status,
            "isPaid": paid,
            "isFulfilled": order.status == OrderStatus.FULFILLED,
            "amount": {"minor": order.amount_minor, "currency": order.currency},
            "payment": None
            if payment is None
            else {
                "provider": payment.provider,
                "status": payment.status,
                "waitingForCustomer": payment.status in (PaymentStatus.CREATED, PaymentStatus.PENDING),
                "failureCode": payment.failure_code,
                "failureReason": payment.failure_message,
                "receiptNumber": payment.receipt_number,
            },
            "updatedAt": order.updated_at.isoformat(),
        }
    )

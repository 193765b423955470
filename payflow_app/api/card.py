"""The card rail's HTTP side (UnivaPay, design 2).

- ``GET /payment/card?paymentId=…`` opens the card widget for a pending payment (the
  sandbox's imitation, or UnivaPay's own widget script with real credentials).
- ``POST /api/payment/checkout/charge`` takes the widget's transaction token: a form
  post from the widget (answered with a 303 to the next page) or JSON from an API
  client (answered with JSON).
- ``GET /api/payment/callback`` is where the issuer returns the customer after 3-D
  Secure: on to ``/payment/return``, which follows the payment live.
- ``GET /api/payment/verify?paymentId=…`` answers the payment's status, asking the
  provider first while it is pending, and whether the membership exists.
"""

from __future__ import annotations

import asyncio
import html
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from payflow_app.api.errors import BadRequest, error_response, json_object, read_body
from payflow_app.core import urls
from payflow_app.core.errors import NotFound
from payflow_app.core.states import PaymentStatus
from payflow_app.models import pk
from payflow_app.providers.base import PaymentError
from payflow_app.services.accounts import memberships
from payflow_app.services.payments import attempts, card
from payflow_app.settings import get_settings

_STATUS = re.compile(r"[a-z_]{1,20}")


async def open_widget(request: Request) -> Response:
    public_id = request.query_params.get("paymentId", "")
    payment = await asyncio.to_thread(card.find_by_public_id, public_id)
    if payment is None or payment.provider != card.PROVIDER:
        return error_response(404, "not_found", "We could not find this payment.")
    if payment.status != PaymentStatus.PENDING or payment.provider_reference is not None:
        return RedirectResponse(card.where_it_stands(payment).next_url, status_code=303)
    settings = get_settings()
    fields = {
        "appId": settings.univapay_app_token,
        "amount": str(payment.amount_minor),
        "currency": payment.currency,
        "email": await asyncio.to_thread(card.payer_email, payment),
        "action": f"{settings.public_url}/api/payment/checkout/charge",
        "cancel": f"{settings.public_url}{urls.card_page(urls.CARD_CANCEL, public_id)}",
        "paymentId": public_id,
    }
    if settings.sandbox_enabled and (settings.univapay_api_base or "").startswith(settings.public_url):
        return RedirectResponse(f"/sandbox/univapay/widget?{urlencode(fields)}", status_code=303)
    return HTMLResponse(_real_widget(fields, settings.univapay_widget_script))


def _real_widget(fields: dict[str, str], script: str) -> str:
    """UnivaPay's inline widget: it tokenises the card and submits the form with
    ``univapayTokenId``, to the charge endpoint below."""
    e = {k: html.escape(v, quote=True) for k, v in fields.items()}
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Card payment</title>
<script src="{html.escape(script, quote=True)}"></script></head><body>
<form action="{e["action"]}" method="post"><input type="hidden" name="paymentId" value="{e["paymentId"]}">
<span data-app-id="{e["appId"]}" data-checkout="token" data-amount="{e["amount"]}"
 data-currency="{e["currency"]}"></span></form>
<p><a href="{e["cancel"]}">Cancel</a></p></body></html>"""


async def charge(request: Request) -> Response:
    from_widget = "application/json" not in request.headers.get("content-type", "")
    try:
        public_id, token = await _charge_input(request, from_widget)
        result = await card.charge_card(public_id=public_id, token=token)
    except BadRequest as exc:
        return exc.response
    except NotFound as exc:
        return error_response(404, exc.code, exc.message)
    if from_widget:
        return RedirectResponse(result.next_url, status_code=303)
    return JSONResponse(
        {"paymentId": result.payment_id, "status": result.outcome.value, "redirectUrl": result.next_url}
    )


async def _charge_input(request: Request, from_widget: bool) -> tuple[str, str]:
    if from_widget:  # a form post (urlencoded), read within the same size limit as JSON
        form = (await read_body(request)).decode("utf-8", errors="replace")
        try:
            body: dict[str, Any] = dict(parse_qsl(form, keep_blank_values=True, max_num_fields=100))
        except ValueError:  # more fields than any widget sends
            raise BadRequest(400, "invalid_input", "The form has too many fields.") from None
    else:
        body = await json_object(request)
    public_id = body.get("paymentId")
    token = body.get("univapayTokenId") or body.get("transactionTokenId")
    if not isinstance(public_id, str) or not public_id:
        raise BadRequest(400, "invalid_input", "paymentId is required.")
    if not isinstance(token, str) or not token:
        raise BadRequest(
            400, "invalid_input", "univapayTokenId (the widget's transaction token) is required."
        )
    return public_id, token


async def three_ds_return(request: Request) -> Response:
    query = request.query_params
    status = query.get("status", "")
    params = {
        "univapayChargeId": query.get("univapayChargeId", ""),
        "status": status if _STATUS.fullmatch(status) else "",
        "paymentId": query.get("paymentId", ""),
    }
    return RedirectResponse(f"{urls.CARD_RETURN}?{urlencode(params)}", status_code=303)


async def verify(request: Request) -> Response:
    public_id = request.query_params.get("paymentId", "")
    if not public_id:
        return error_response(400, "invalid_input", "paymentId is required.")
    payment = await asyncio.to_thread(card.find_by_public_id, public_id)
    if payment is None:
        return error_response(404, "not_found", "We could not find this payment.")
    if payment.status == PaymentStatus.PENDING and payment.provider_reference is not None:
        try:
            await attempts.verify_payment(payment_id=pk(payment))
        except PaymentError as exc:
            return error_response(502, exc.code, exc.message)
        payment = await asyncio.to_thread(card.find_by_public_id, public_id)
        assert payment is not None
    credentials = await asyncio.to_thread(memberships.credentials_for_payment, public_id)
    return JSONResponse(
        {
            "paymentId": public_id,
            "status": payment.status,
            "failureReason": payment.failure_message,
            "membershipExists": credentials is not None,
            "username": credentials.username if credentials else None,
        }
    )

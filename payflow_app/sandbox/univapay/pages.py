"""The sandbox's UnivaPay browser pages: the checkout widget, which only creates a
transaction token and posts ``univapayTokenId`` to the shop (the shop charges it),
and the card issuer's 3-D Secure page, which completes or fails an awaiting charge."""

from __future__ import annotations

import asyncio
import html
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from payflow_app.sandbox.banner import BANNER
from payflow_app.sandbox.univapay import processing, store
from payflow_app.sandbox.univapay.api import create_token_now
from payflow_app.sandbox.univapay.objects import FieldError
from payflow_app.services.inputs import ascii_digits, whole_number
from payflow_app.services.money import EXPONENTS, format_money
from payflow_app.settings import get_settings

MERCHANT = "payflow (UnivaPay sandbox store)"
WIDGET_PARAMS = ("appId", "amount", "currency", "email", "action", "cancel")
FIELD_MESSAGES = {
    ("data.card_number", "REQUIRED_VALUE"): "Enter your card number.",
    ("data.card_number", "INVALID_CARD_NUMBER"): "Your card number is invalid.",
    ("data.exp_month", "INVALID_CARD_EXPIRATION"): "Enter the expiry date as MM / YY.",
    ("data.exp_year", "INVALID_CARD_EXPIRATION"): "Enter the expiry date as MM / YY.",
    ("data.exp_year", "CARD_EXPIRED"): "Your card has expired.",
    ("data.cvv", "INVALID_CVV"): "The CVV is the 3 or 4 digits on your card.",
    ("data.cardholder", "REQUIRED_VALUE"): "Enter the cardholder's name.",
    ("email", "REQUIRED_VALUE"): "Enter your email address.",
    ("email", "INVALID_FORMAT_EMAIL"): "Enter a valid email address.",
}

PAGE = (
    """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{title} — UnivaPay sandbox</title>
<style>body{{font-family:system-ui,sans-serif;background:#f3f6fa;margin:0;color:#1f2937}}
.banner{{background:#fde68a;text-align:center;padding:6px;font-size:14px}}
main{{max-width:420px;margin:32px auto;background:#fff;border-radius:10px;padding:28px;box-shadow:0 2px 12px #0001}}
h1{{font-size:22px;margin-top:0}}label{{display:block;margin:14px 0 4px;font-size:14px}}
input{{width:100%;box-sizing:border-box;padding:10px;font-size:16px;border:1px solid #cbd5e1;border-radius:6px}}
.row{{display:flex;gap:12px}}.row>div{{flex:1}}
button{{margin-top:16px;width:100%;padding:12px;font-size:16px;background:#0b5fff;color:#fff;border:0;border-radius:6px;cursor:pointer}}
button.secondary{{background:#fff;color:#b91c1c;border:1px solid #b91c1c}}
.error{{background:#fee2e2;color:#991b1b;padding:10px;border-radius:6px;margin-top:14px}}
.amount{{font-size:28px;font-weight:600}}a{{color:#0b5fff}}.hint{{font-size:12px;color:#4b5563;margin-top:18px}}
dt{{font-size:13px;color:#4b5563}}dd{{margin:0 0 10px;font-weight:600}}</style></head>
<body{body_attrs}>"""
    + BANNER
    + """<main>{content}</main></body></html>"""
)


def _page(title: str, content: str, status: int = 200, body_attrs: str = "") -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=title, content=content, body_attrs=body_attrs), status_code=status)


def _e(value: object) -> str:
    return html.escape(str(value))


# --- the checkout widget ---------------------------------------------------------


@dataclass(frozen=True)
class Widget:
    amount: int
    currency: str
    email: str
    action: str
    cancel: str
    passthrough: list[tuple[str, str]]  # the shop's own fields, posted back hidden


def _widget(query: Mapping[str, str], items: list[tuple[str, str]]) -> Widget | str:
    """The widget's parameters, or why they cannot be used."""
    if not secrets.compare_digest(
        query.get("appId", "").encode(), get_settings().univapay_app_token.encode()
    ):
        return "This checkout's app token (appId) is not valid for this store."
    amount, currency = whole_number(query.get("amount", ""), minimum=1), query.get("currency", "").upper()
    if amount is None:
        return "The amount must be a positive whole number of the currency's minor units."
    if currency not in EXPONENTS:
        return f"The currency {currency or '(none)'} is not supported."
    action, cancel = query.get("action", ""), query.get("cancel", "")
    if not all(url.startswith(("http://", "https://")) for url in (action, cancel)):
        return "The checkout needs an http(s) action and cancel URL."
    passthrough = [(k, v) for k, v in items if k not in WIDGET_PARAMS]
    return Widget(amount, currency, query.get("email", ""), action, cancel, passthrough)


def _widget_form(
    widget: Widget, errors: list[str] | None = None, values: dict[str, str] | None = None
) -> str:
    v = {k: _e(x) for k, x in (values or {}).items()}
    amount = _e(format_money(widget.amount, widget.currency))
    alert = ""
    if errors:
        items = "".join(f"<li>{_e(message)}</li>" for message in errors)
        alert = f'<div class="error" role="alert"><ul>{items}</ul></div>'
    return f"""<h1>Card payment</h1><p>{_e(MERCHANT)}</p><p class="amount">{amount}</p>
<form method="post">{alert}
<label for="card">Card number</label><input id="card" name="card_number" inputmode="numeric" autocomplete="cc-number" placeholder="1234 1234 1234 1234" value="{v.get("card_number", "")}">
<div class="row"><div><label for="exp">Expiry (MM / YY)</label><input id="exp" name="expiry" autocomplete="cc-exp" placeholder="MM / YY" value="{v.get("expiry", "")}"></div>
<div><label for="cvv">CVV</label><input id="cvv" name="cvv" inputmode="numeric" autocomplete="cc-csc" placeholder="123" value="{v.get("cvv", "")}"></div></div>
<label for="holder">Cardholder name</label><input id="holder" name="cardholder" autocomplete="cc-name" value="{v.get("cardholder", "")}">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" value="{v.get("email", _e(widget.email))}">
<button type="submit">Pay</button></form>
<p><a href="{_e(widget.cancel)}">Cancel</a></p>
<p class="hint">Test cards: 4242 4242 4242 4242 succeeds · 4111 1111 1111 1111 fails · 4000 0000 0000 3220 requires 3-D Secure. Any future expiry and any 3-digit CVV.</p>"""


def _expiry(text: str) -> tuple[Any, Any]:
    """``MM / YY`` (or ``MM/YYYY``) as UnivaPay's exp_month and 4-digit exp_year."""
    month, _, year = (part.strip() for part in text.partition("/"))
    number, full_year = whole_number(month, minimum=0, maximum=99), whole_number(year, minimum=0)
    if number is None or full_year is None or not ascii_digits(year) or len(year) not in (2, 4):
        return None, None
    return number, full_year + (2000 if len(year) == 2 else 0)


def _token_body(form: Mapping[str, str]) -> dict[str, Any]:
    exp_month, exp_year = _expiry(form.get("expiry", ""))
    return {
        "payment_type": "card",
        "type": "one_time",
        "email": form.get("email", "").strip(),
        "data": {
            "card_number": form.get("card_number", ""),
            "exp_month": exp_month,
            "exp_year": exp_year,
            "cvv": form.get("cvv", ""),
            "cardholder": form.get("cardholder", ""),
        },
        "metadata": {},
    }


def _messages(errors: list[FieldError]) -> list[str]:
    messages = [FIELD_MESSAGES.get((e.field, e.reason), f"{e.field}: {e.reason}") for e in errors]
    return list(dict.fromkeys(messages))


def _back_to_shop(widget: Widget, token_id: str) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{_e(k)}" value="{_e(v)}">'
        for k, v in [("univapayTokenId", token_id), *widget.passthrough]
    )
    return f"""<h1>Returning to the shop…</h1><p>Your card was accepted; the shop now confirms the payment.</p>
<form method="post" action="{_e(widget.action)}">{hidden}<button type="submit">Continue</button></form>"""


async def widget_page(request: Request) -> Response:
    widget = _widget(request.query_params, list(request.query_params.multi_items()))
    if isinstance(widget, str):
        return _page("Checkout unavailable", f"<h1>Checkout unavailable</h1><p>{_e(widget)}</p>", 400)
    return _page("Card payment", _widget_form(widget))


async def submit_widget(request: Request) -> Response:
    widget = _widget(request.query_params, list(request.query_params.multi_items()))
    if isinstance(widget, str):
        return _page("Checkout unavailable", f"<h1>Checkout unavailable</h1><p>{_e(widget)}</p>", 400)
    form = {k: str(v) for k, v in (await request.form()).items()}
    created = await asyncio.to_thread(create_token_now, _token_body(form))
    if isinstance(created, list):
        return _page("Card payment", _widget_form(widget, _messages(created), form), 400)
    return _page(
        "Returning to the shop",
        _back_to_shop(widget, created["id"]),
        body_attrs=' onload="document.forms[0].submit()"',
    )


# --- the issuer's 3-D Secure page -------------------------------------------------


def _return_link(charge: dict[str, Any]) -> str:
    url = processing.return_url(charge)
    return f'<p><a href="{_e(url)}">Return to the shop</a></p>' if url else ""


def _already_complete(charge: dict[str, Any]) -> str:
    return f"<h1>This authentication is already complete</h1><p>The payment is {_e(charge['status'])}.</p>{_return_link(charge)}"


async def _charge_for_3ds(request: Request) -> dict[str, Any] | None:
    return await asyncio.to_thread(store.load_charge, request.path_params["charge_id"])


def _not_found() -> Response:
    return _page("Not found", "<h1>Authentication not found</h1>", 404)


async def three_ds_page(request: Request) -> Response:
    charge = await _charge_for_3ds(request)
    if charge is None:
        return _not_found()
    if charge["status"] != "awaiting":
        return _page("3-D Secure authentication", _already_complete(charge))
    token = await asyncio.to_thread(store.load_token, charge["transaction_token_id"])
    last_four = token["data"]["card"]["last_four"] if token else "????"
    amount = format_money(charge["requested_amount"], charge["requested_currency"])
    content = f"""<h1>3-D Secure authentication</h1>
<p>Your card issuer asks you to confirm this payment.</p>
<dl><dt>Merchant</dt><dd>{_e(MERCHANT)}</dd><dt>Amount</dt><dd>{_e(amount)}</dd>
<dt>Card</dt><dd>•••• {_e(last_four)}</dd></dl>
<form method="post"><input type="hidden" name="result" value="complete"><button type="submit">Complete authentication</button></form>
<form method="post"><input type="hidden" name="result" value="fail"><button type="submit" class="secondary">Fail authentication</button></form>"""
    return _page("3-D Secure authentication", content)


async def submit_three_ds(request: Request) -> Response:
    charge = await _charge_for_3ds(request)
    if charge is None:
        return _not_found()
    result = (await request.form()).get("result")
    if result not in ("complete", "fail"):
        return _page(
            "3-D Secure authentication", "<h1>Choose to complete or fail the authentication</h1>", 400
        )
    finished = await processing.finish_three_ds(charge["id"], authenticated=result == "complete")
    if finished is None:  # no longer awaiting: finished before, or by a concurrent request
        latest = await _charge_for_3ds(request) or charge
        return _page("3-D Secure authentication", _already_complete(latest), 409)
    url = processing.return_url(finished)
    if url is None:
        return _page("3-D Secure authentication", f"<h1>Authentication {_e(finished['status'])}</h1>")
    return RedirectResponse(url, status_code=303)

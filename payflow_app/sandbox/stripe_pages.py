"""The sandbox's hosted Checkout page: a card form where test cards behave as on Stripe."""

from __future__ import annotations

import asyncio
import html
import time
from datetime import date

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from payflow_app.sandbox import stripe_payments
from payflow_app.sandbox import stripe_store as store
from payflow_app.sandbox.banner import BANNER
from payflow_app.sandbox.delivery import schedule_delivery
from payflow_app.services.inputs import ascii_digits
from payflow_app.services.money import format_money

DECLINES = {
    "4000000000000002": ("card_declined", "generic_decline", "Your card was declined."),
    "4000000000009995": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
}

PAGE = (
    """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Pay — payflow sandbox</title>
<style>body{{font-family:system-ui,sans-serif;background:#f6f9fc;margin:0;color:#1a1f36}}
.banner{{background:#fde68a;text-align:center;padding:6px;font-size:14px}}
main{{max-width:420px;margin:32px auto;background:#fff;border-radius:10px;padding:28px;box-shadow:0 2px 12px #0001}}
label{{display:block;margin:14px 0 4px;font-size:14px}}input{{width:100%;box-sizing:border-box;padding:10px;font-size:16px;border:1px solid #cbd5e1;border-radius:6px}}
.row{{display:flex;gap:12px}}.row>div{{flex:1}}button{{margin-top:20px;width:100%;padding:12px;font-size:16px;background:#635bff;color:#fff;border:0;border-radius:6px;cursor:pointer}}
.error{{background:#fee2e2;color:#991b1b;padding:10px;border-radius:6px;margin-top:14px}}.amount{{font-size:28px;font-weight:600}}
a{{color:#635bff}}.hint{{font-size:12px;color:#64748b;margin-top:18px}}</style></head><body>
"""
    + BANNER
    + """<main>{content}</main></body></html>"""
)


def _form(session: dict, error: str | None = None, values: dict | None = None) -> str:
    v = {k: html.escape(str(x)) for k, x in (values or {}).items()}
    amount = format_money(session["amount_total"], session["currency"].upper())
    err = f'<div class="error" role="alert">{html.escape(error)}</div>' if error else ""
    return f"""<p><a href="{html.escape(session["cancel_url"].replace("{CHECKOUT_SESSION_ID}", session["id"]))}">← Back</a></p>
<p>Pay payflow sandbox</p><p class="amount">{html.escape(amount)}</p>
<form method="post"><label for="email">Email</label>
<input id="email" name="email" type="email" value="{v.get("email", html.escape(session.get("customer_email") or ""))}">
<label for="card">Card number</label><input id="card" name="card_number" inputmode="numeric" autocomplete="cc-number" placeholder="1234 1234 1234 1234" value="{v.get("card_number", "")}">
<div class="row"><div><label for="exp">Expiry (MM / YY)</label><input id="exp" name="expiry" placeholder="MM / YY" value="{v.get("expiry", "")}"></div>
<div><label for="cvc">CVC</label><input id="cvc" name="cvc" inputmode="numeric" placeholder="CVC" value="{v.get("cvc", "")}"></div></div>
<label for="name">Cardholder name</label><input id="name" name="cardholder" value="{v.get("cardholder", "")}">
{err}<button type="submit">Pay {html.escape(amount)}</button></form>
<p class="hint">Test cards: 4242 4242 4242 4242 pays · 4000 0000 0000 0002 is declined · 4000 0000 0000 9995 has insufficient funds.</p>"""


def _luhn_ok(number: str) -> bool:
    if not ascii_digits(number):
        return False
    digits = [int(d) for d in number][::-1]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits))
    return len(number) >= 12 and total % 10 == 0


def _card_problem(number: str, expiry: str, cvc: str) -> str | None:
    if not _luhn_ok(number):
        return "Your card number is invalid."
    parts = [p.strip() for p in expiry.replace(" ", "").split("/")]
    if (
        len(parts) != 2
        or not all(ascii_digits(p) and len(p) <= 4 for p in parts)
        or not 1 <= int(parts[0]) <= 12
    ):
        return "Your card's expiration date is incomplete."
    month, year = int(parts[0]), 2000 + int(parts[1][-2:])
    if (year, month) < (date.today().year, date.today().month):
        return "Your card's expiration year is in the past."
    if not (ascii_digits(cvc) and len(cvc) in (3, 4)):
        return "Your card's security code is incomplete."
    if number in DECLINES:
        return DECLINES[number][2]
    return None


def _closed(session: dict) -> str:
    state = "has been paid" if session["payment_status"] == "paid" else "has expired"
    back = html.escape(session["cancel_url"].replace("{CHECKOUT_SESSION_ID}", session["id"]))
    return f'<h1>This checkout {state}</h1><p><a href="{back}">Return to the shop</a></p>'


async def pay_page(request: Request) -> Response:
    session = await asyncio.to_thread(store.load, request.path_params["session_id"], "checkout.session")
    if session is None:
        return HTMLResponse(PAGE.format(content="<h1>Checkout not found</h1>"), status_code=404)
    if session["status"] != "open":
        return HTMLResponse(PAGE.format(content=_closed(session)))
    return HTMLResponse(PAGE.format(content=_form(session)))


async def submit_payment(request: Request) -> Response:
    session_id = request.path_params["session_id"]
    session = await asyncio.to_thread(store.load, session_id, "checkout.session")
    if session is None:
        return HTMLResponse(PAGE.format(content="<h1>Checkout not found</h1>"), status_code=404)
    if session["status"] != "open":
        return HTMLResponse(PAGE.format(content=_closed(session)), status_code=409)
    form = {k: str(v) for k, v in (await request.form()).items()}
    number = form.get("card_number", "").replace(" ", "")
    problem = _card_problem(number, form.get("expiry", ""), form.get("cvc", "").strip())
    if problem:
        return HTMLResponse(PAGE.format(content=_form(session, problem, form)), status_code=402)
    email = form.get("email") or session.get("customer_email")
    paid = await asyncio.to_thread(
        store.update_session,
        session_id,
        status="complete",
        payment_status="paid",
        payment_intent=store.new_id("pi_"),
        url=None,
        customer_details={
            "email": email,
            "name": form.get("cardholder") or None,
            "phone": None,
            "address": None,
            "tax_exempt": "none",
            "tax_ids": [],
        },
    )
    if paid is None:  # paid or expired by a concurrent request
        latest = await asyncio.to_thread(store.load, session_id, "checkout.session")
        return HTMLResponse(PAGE.format(content=_closed(latest or session)), status_code=409)
    await asyncio.to_thread(stripe_payments.record_payment, paid, card_number=number)
    paid["completed_at"] = int(time.time())
    schedule_delivery(await asyncio.to_thread(store.make_event, "checkout.session.completed", paid))
    return RedirectResponse(paid["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id), status_code=303)

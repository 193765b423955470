"""The sandbox's hosted Checkout page: a card form where test cards behave as on Stripe,
in the customer's language (as Stripe Checkout follows the browser's)."""

from __future__ import annotations

import asyncio
import html
import time
from datetime import date

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from payflow_app.core.inputs import ascii_digits
from payflow_app.i18n import format_money
from payflow_app.sandbox import stripe_payments
from payflow_app.sandbox import stripe_store as store
from payflow_app.sandbox.banner import banner
from payflow_app.sandbox.delivery import schedule_delivery
from payflow_app.sandbox.texts import page_language, text

MERCHANT = "payflow sandbox"
# A test card that is declined: Stripe's error and decline codes, and the text key of
# what the customer is told.
DECLINES = {
    "4000000000000002": ("card_declined", "generic_decline", "stripe.declined"),
    "4000000000009995": ("card_declined", "insufficient_funds", "stripe.insufficient_funds"),
}

PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;background:#f6f9fc;margin:0;color:#1a1f36}}
.banner{{background:#fde68a;text-align:center;padding:6px;font-size:14px}}
main{{max-width:420px;margin:32px auto;background:#fff;border-radius:10px;padding:28px;box-shadow:0 2px 12px #0001}}
label{{display:block;margin:14px 0 4px;font-size:14px}}input{{width:100%;box-sizing:border-box;padding:10px;font-size:16px;border:1px solid #cbd5e1;border-radius:6px}}
.row{{display:flex;gap:12px}}.row>div{{flex:1}}button{{margin-top:20px;width:100%;padding:12px;font-size:16px;background:#635bff;color:#fff;border:0;border-radius:6px;cursor:pointer}}
.error{{background:#fee2e2;color:#991b1b;padding:10px;border-radius:6px;margin-top:14px}}.amount{{font-size:28px;font-weight:600}}
a{{color:#635bff}}.hint{{font-size:12px;color:#64748b;margin-top:18px}}</style></head><body>
{banner}<main>{content}</main></body></html>"""


FORM_KEYS = (
    "stripe.back",
    "card.email",
    "card.number",
    "card.expiry",
    "card.expiry_placeholder",
    "card.holder",
    "stripe.hint",
)


def _page(lang: str, content: str, status: int = 200) -> HTMLResponse:
    title = text(lang, "page_title", title=text(lang, "stripe.title"))
    page = PAGE.format(lang=lang, title=html.escape(title), banner=banner(lang), content=content)
    return HTMLResponse(page, status_code=status)


def _form(lang: str, session: dict, error: str | None = None, values: dict | None = None) -> str:
    """The card form; ``error`` is the text key of what is wrong with the card."""
    v = {k: html.escape(str(x)) for k, x in (values or {}).items()}
    w = {key: html.escape(text(lang, key)) for key in FORM_KEYS}
    amount = format_money(session["amount_total"], session["currency"].upper(), lang)
    err = f'<div class="error" role="alert">{html.escape(text(lang, error))}</div>' if error else ""
    back = html.escape(session["cancel_url"].replace("{CHECKOUT_SESSION_ID}", session["id"]))
    # "CVC" is the same word in Polish, as on Polish cards.
    return f"""<p><a href="{back}">{w["stripe.back"]}</a></p>
<p>{html.escape(text(lang, "stripe.pay_to", merchant=MERCHANT))}</p><p class="amount">{html.escape(amount)}</p>
<form method="post"><label for="email">{w["card.email"]}</label>
<input id="email" name="email" type="email" value="{v.get("email", html.escape(session.get("customer_email") or ""))}">
<label for="card">{w["card.number"]}</label><input id="card" name="card_number" inputmode="numeric" autocomplete="cc-number" placeholder="1234 1234 1234 1234" value="{v.get("card_number", "")}">
<div class="row"><div><label for="exp">{w["card.expiry"]}</label><input id="exp" name="expiry" placeholder="{w["card.expiry_placeholder"]}" value="{v.get("expiry", "")}"></div>
<div><label for="cvc">CVC</label><input id="cvc" name="cvc" inputmode="numeric" placeholder="CVC" value="{v.get("cvc", "")}"></div></div>
<label for="name">{w["card.holder"]}</label><input id="name" name="cardholder" value="{v.get("cardholder", "")}">
{err}<button type="submit">{html.escape(text(lang, "stripe.pay_amount", amount=amount))}</button></form>
<p class="hint">{w["stripe.hint"]}</p>"""


def _luhn_ok(number: str) -> bool:
    if not ascii_digits(number):
        return False
    digits = [int(d) for d in number][::-1]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits))
    return len(number) >= 12 and total % 10 == 0


def _card_problem(number: str, expiry: str, cvc: str) -> str | None:
    """The text key of what is wrong with the card, or None when it pays."""
    if not _luhn_ok(number):
        return "card.number_invalid"
    parts = [p.strip() for p in expiry.replace(" ", "").split("/")]
    if (
        len(parts) != 2
        or not all(ascii_digits(p) and len(p) <= 4 for p in parts)
        or not 1 <= int(parts[0]) <= 12
    ):
        return "stripe.expiry_incomplete"
    month, year = int(parts[0]), 2000 + int(parts[1][-2:])
    if (year, month) < (date.today().year, date.today().month):
        return "stripe.expiry_past"
    if not (ascii_digits(cvc) and len(cvc) in (3, 4)):
        return "stripe.cvc_incomplete"
    if number in DECLINES:
        return DECLINES[number][2]
    return None


def _closed(lang: str, session: dict) -> str:
    state = text(lang, "stripe.paid" if session["payment_status"] == "paid" else "stripe.expired")
    back = html.escape(session["cancel_url"].replace("{CHECKOUT_SESSION_ID}", session["id"]))
    return f'<h1>{html.escape(state)}</h1><p><a href="{back}">{html.escape(text(lang, "return_to_shop"))}</a></p>'


def _not_found(lang: str) -> HTMLResponse:
    return _page(lang, f"<h1>{html.escape(text(lang, 'stripe.not_found'))}</h1>", 404)


async def pay_page(request: Request) -> Response:
    lang = page_language(request)
    session = await asyncio.to_thread(store.load, request.path_params["session_id"], "checkout.session")
    if session is None:
        return _not_found(lang)
    if session["status"] != "open":
        return _page(lang, _closed(lang, session))
    return _page(lang, _form(lang, session))


async def submit_payment(request: Request) -> Response:
    lang = page_language(request)
    session_id = request.path_params["session_id"]
    session = await asyncio.to_thread(store.load, session_id, "checkout.session")
    if session is None:
        return _not_found(lang)
    if session["status"] != "open":
        return _page(lang, _closed(lang, session), 409)
    form = {k: str(v) for k, v in (await request.form()).items()}
    number = form.get("card_number", "").replace(" ", "")
    problem = _card_problem(number, form.get("expiry", ""), form.get("cvc", "").strip())
    if problem:
        return _page(lang, _form(lang, session, problem, form), 402)
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
        return _page(lang, _closed(lang, latest or session), 409)
    await asyncio.to_thread(stripe_payments.record_payment, paid, card_number=number)
    paid["completed_at"] = int(time.time())
    schedule_delivery(await asyncio.to_thread(store.make_event, "checkout.session.completed", paid))
    return RedirectResponse(paid["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id), status_code=303)

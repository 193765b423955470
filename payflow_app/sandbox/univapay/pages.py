"""The sandbox's UnivaPay browser pages: the checkout widget, which only creates a
transaction token and posts ``univapayTokenId`` to the shop (the shop charges it),
and the card issuer's 3-D Secure page, which completes or fails an awaiting charge.
Both speak the customer's language (see :mod:`payflow_app.sandbox.texts`)."""

from __future__ import annotations

import asyncio
import html
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from payflow_app.core.inputs import ascii_digits, whole_number
from payflow_app.core.money import EXPONENTS
from payflow_app.i18n import format_money
from payflow_app.sandbox.banner import banner
from payflow_app.sandbox.texts import page_language, text, word_or_raw
from payflow_app.sandbox.univapay import processing, store
from payflow_app.sandbox.univapay.api import create_token_now
from payflow_app.sandbox.univapay.objects import FieldError
from payflow_app.settings import get_settings

WIDGET_PARAMS = ("appId", "amount", "currency", "email", "action", "cancel")
# UnivaPay's field error, and the text key of what the customer is told.
FIELD_MESSAGES = {
    ("data.card_number", "REQUIRED_VALUE"): "field.card_required",
    ("data.card_number", "INVALID_CARD_NUMBER"): "card.number_invalid",
    ("data.exp_month", "INVALID_CARD_EXPIRATION"): "field.expiry",
    ("data.exp_year", "INVALID_CARD_EXPIRATION"): "field.expiry",
    ("data.exp_year", "CARD_EXPIRED"): "field.expired",
    ("data.cvv", "INVALID_CVV"): "field.cvv",
    ("data.cardholder", "REQUIRED_VALUE"): "field.holder_required",
    ("email", "REQUIRED_VALUE"): "field.email_required",
    ("email", "INVALID_FORMAT_EMAIL"): "field.email_invalid",
}

PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{title}</title>
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
<body{body_attrs}>{banner}<main>{content}</main></body></html>"""


def _page(lang: str, title_key: str, content: str, status: int = 200, body_attrs: str = "") -> HTMLResponse:
    title = _e(text(lang, "univapay.page_title", title=text(lang, title_key)))
    page = PAGE.format(lang=lang, title=title, banner=banner(lang), content=content, body_attrs=body_attrs)
    return HTMLResponse(page, status_code=status)


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


def _widget(lang: str, query: Mapping[str, str], items: list[tuple[str, str]]) -> Widget | str:
    """The widget's parameters, or why they cannot be used."""
    if not secrets.compare_digest(
        query.get("appId", "").encode(), get_settings().univapay_app_token.encode()
    ):
        return text(lang, "univapay.bad_app")
    amount, currency = whole_number(query.get("amount", ""), minimum=1), query.get("currency", "").upper()
    if amount is None:
        return text(lang, "univapay.bad_amount")
    if currency not in EXPONENTS:
        return text(lang, "univapay.bad_currency", currency=currency or text(lang, "univapay.no_currency"))
    action, cancel = query.get("action", ""), query.get("cancel", "")
    if not all(url.startswith(("http://", "https://")) for url in (action, cancel)):
        return text(lang, "univapay.bad_urls")
    passthrough = [(k, v) for k, v in items if k not in WIDGET_PARAMS]
    return Widget(amount, currency, query.get("email", ""), action, cancel, passthrough)


FORM_KEYS = (
    "univapay.card_payment",
    "univapay.merchant",
    "card.number",
    "card.expiry",
    "card.expiry_placeholder",
    "card.holder",
    "card.email",
    "univapay.pay",
    "univapay.cancel",
    "univapay.hint",
)


def _widget_form(
    lang: str, widget: Widget, errors: list[str] | None = None, values: dict[str, str] | None = None
) -> str:
    """The card form; ``errors`` are what the customer is told, already in their language."""
    v = {k: _e(x) for k, x in (values or {}).items()}
    w = {key: _e(text(lang, key)) for key in FORM_KEYS}
    amount = _e(format_money(widget.amount, widget.currency, lang))
    alert = ""
    if errors:
        items = "".join(f"<li>{_e(message)}</li>" for message in errors)
        alert = f'<div class="error" role="alert"><ul>{items}</ul></div>'
    # "CVV" is the same word in Polish, as on Polish cards.
    return f"""<h1>{w["univapay.card_payment"]}</h1><p>{w["univapay.merchant"]}</p><p class="amount">{amount}</p>
<form method="post">{alert}
<label for="card">{w["card.number"]}</label><input id="card" name="card_number" inputmode="numeric" autocomplete="cc-number" placeholder="1234 1234 1234 1234" value="{v.get("card_number", "")}">
<div class="row"><div><label for="exp">{w["card.expiry"]}</label><input id="exp" name="expiry" autocomplete="cc-exp" placeholder="{w["card.expiry_placeholder"]}" value="{v.get("expiry", "")}"></div>
<div><label for="cvv">CVV</label><input id="cvv" name="cvv" inputmode="numeric" autocomplete="cc-csc" placeholder="123" value="{v.get("cvv", "")}"></div></div>
<label for="holder">{w["card.holder"]}</label><input id="holder" name="cardholder" autocomplete="cc-name" value="{v.get("cardholder", "")}">
<label for="email">{w["card.email"]}</label><input id="email" name="email" type="email" autocomplete="email" value="{v.get("email", _e(widget.email))}">
<button type="submit">{w["univapay.pay"]}</button></form>
<p><a href="{_e(widget.cancel)}">{w["univapay.cancel"]}</a></p>
<p class="hint">{w["univapay.hint"]}</p>"""


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


def _messages(lang: str, errors: list[FieldError]) -> list[str]:
    """Each field error once, in the customer's words; one payflow has no words for is
    shown as UnivaPay names it."""
    messages = [
        text(lang, FIELD_MESSAGES[(e.field, e.reason)])
        if (e.field, e.reason) in FIELD_MESSAGES
        else f"{e.field}: {e.reason}"
        for e in errors
    ]
    return list(dict.fromkeys(messages))


def _back_to_shop(lang: str, widget: Widget, token_id: str) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{_e(k)}" value="{_e(v)}">'
        for k, v in [("univapayTokenId", token_id), *widget.passthrough]
    )
    return f"""<h1>{_e(text(lang, "univapay.returning"))}</h1><p>{_e(text(lang, "univapay.accepted"))}</p>
<form method="post" action="{_e(widget.action)}">{hidden}<button type="submit">{_e(text(lang, "univapay.continue"))}</button></form>"""


def _unavailable(lang: str, why: str) -> HTMLResponse:
    content = f"<h1>{_e(text(lang, 'univapay.unavailable'))}</h1><p>{_e(why)}</p>"
    return _page(lang, "univapay.unavailable", content, 400)


async def widget_page(request: Request) -> Response:
    lang = page_language(request)
    widget = _widget(lang, request.query_params, list(request.query_params.multi_items()))
    if isinstance(widget, str):
        return _unavailable(lang, widget)
    return _page(lang, "univapay.card_payment", _widget_form(lang, widget))


async def submit_widget(request: Request) -> Response:
    lang = page_language(request)
    widget = _widget(lang, request.query_params, list(request.query_params.multi_items()))
    if isinstance(widget, str):
        return _unavailable(lang, widget)
    form = {k: str(v) for k, v in (await request.form()).items()}
    created = await asyncio.to_thread(create_token_now, _token_body(form))
    if isinstance(created, list):
        return _page(
            lang, "univapay.card_payment", _widget_form(lang, widget, _messages(lang, created), form), 400
        )
    return _page(
        lang,
        "univapay.returning_title",
        _back_to_shop(lang, widget, created["id"]),
        body_attrs=' onload="document.forms[0].submit()"',
    )


# --- the issuer's 3-D Secure page -------------------------------------------------


def _return_link(lang: str, charge: dict[str, Any]) -> str:
    url = processing.return_url(charge)
    return f'<p><a href="{_e(url)}">{_e(text(lang, "return_to_shop"))}</a></p>' if url else ""


def _status(lang: str, charge: dict[str, Any]) -> str:
    return word_or_raw(lang, "charge", charge["status"])


def _already_complete(lang: str, charge: dict[str, Any]) -> str:
    done, state = text(lang, "three_ds.done"), text(lang, "three_ds.payment_is", status=_status(lang, charge))
    return f"<h1>{_e(done)}</h1><p>{_e(state)}</p>{_return_link(lang, charge)}"


async def _charge_for_3ds(request: Request) -> dict[str, Any] | None:
    return await asyncio.to_thread(store.load_charge, request.path_params["charge_id"])


def _not_found(lang: str) -> Response:
    return _page(lang, "three_ds.not_found_title", f"<h1>{_e(text(lang, 'three_ds.not_found'))}</h1>", 404)


THREE_DS_KEYS = (
    "three_ds.title",
    "three_ds.ask",
    "three_ds.merchant",
    "univapay.merchant",
    "three_ds.amount",
    "three_ds.card",
    "three_ds.complete",
    "three_ds.fail",
)


async def three_ds_page(request: Request) -> Response:
    lang = page_language(request)
    charge = await _charge_for_3ds(request)
    if charge is None:
        return _not_found(lang)
    if charge["status"] != "awaiting":
        return _page(lang, "three_ds.title", _already_complete(lang, charge))
    token = await asyncio.to_thread(store.load_token, charge["transaction_token_id"])
    last_four = token["data"]["card"]["last_four"] if token else "????"
    amount = format_money(charge["requested_amount"], charge["requested_currency"], lang)
    w = {key: _e(text(lang, key)) for key in THREE_DS_KEYS}
    content = f"""<h1>{w["three_ds.title"]}</h1>
<p>{w["three_ds.ask"]}</p>
<dl><dt>{w["three_ds.merchant"]}</dt><dd>{w["univapay.merchant"]}</dd><dt>{w["three_ds.amount"]}</dt><dd>{_e(amount)}</dd>
<dt>{w["three_ds.card"]}</dt><dd>•••• {_e(last_four)}</dd></dl>
<form method="post"><input type="hidden" name="result" value="complete"><button type="submit">{w["three_ds.complete"]}</button></form>
<form method="post"><input type="hidden" name="result" value="fail"><button type="submit" class="secondary">{w["three_ds.fail"]}</button></form>"""
    return _page(lang, "three_ds.title", content)


async def submit_three_ds(request: Request) -> Response:
    lang = page_language(request)
    charge = await _charge_for_3ds(request)
    if charge is None:
        return _not_found(lang)
    result = (await request.form()).get("result")
    if result not in ("complete", "fail"):
        return _page(lang, "three_ds.title", f"<h1>{_e(text(lang, 'three_ds.choose'))}</h1>", 400)
    finished = await processing.finish_three_ds(charge["id"], authenticated=result == "complete")
    if finished is None:  # no longer awaiting: finished before, or by a concurrent request
        latest = await _charge_for_3ds(request) or charge
        return _page(lang, "three_ds.title", _already_complete(lang, latest), 409)
    url = processing.return_url(finished)
    if url is None:
        said = text(lang, "three_ds.finished", status=_status(lang, finished))
        return _page(lang, "three_ds.title", f"<h1>{_e(said)}</h1>")
    return RedirectResponse(url, status_code=303)

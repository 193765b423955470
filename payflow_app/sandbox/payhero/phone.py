"""The phone simulator: the customer's handset, showing the STK prompt (PIN, Send,
Cancel) and the M-PESA messages it received. The handset speaks the customer's
language; the messages stay as M-PESA writes them (see :func:`sms_text`)."""

from __future__ import annotations

import html
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from payflow_app.core.phones import normalise_kenyan_phone
from payflow_app.sandbox.banner import banner
from payflow_app.sandbox.payhero import prompts, store
from payflow_app.sandbox.texts import page_language, text, whole_number
from payflow_app.settings import get_settings

EAST_AFRICA_TIME = timezone(timedelta(hours=3))

PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;background:#e2e8f0;margin:0;color:#0f172a}}
.banner{{background:#fde68a;text-align:center;padding:6px;font-size:14px}}
.phone{{max-width:340px;margin:24px auto;background:#111827;border-radius:36px;padding:18px 14px 28px;box-shadow:0 8px 24px #0003}}
.screen{{background:#f8fafc;border-radius:22px;min-height:480px;padding:18px}}
h1{{margin:0;color:#15803d;font-size:24px;letter-spacing:1px}}.number{{margin:2px 0 16px;color:#475569}}
.prompt{{background:#fff;border:1px solid #cbd5e1;border-radius:12px;padding:16px}}
.ask{{font-size:18px;margin:0 0 4px}}.account{{font-size:13px;color:#64748b;margin:0 0 12px}}
label{{display:block;font-size:14px;margin-bottom:4px}}input{{width:100%;box-sizing:border-box;padding:10px;font-size:18px;border:1px solid #94a3b8;border-radius:6px}}
.buttons{{display:flex;gap:10px;margin-top:14px}}button{{flex:1;padding:10px;font-size:16px;border:0;border-radius:6px;cursor:pointer;background:#15803d;color:#fff}}
button.secondary{{background:#e2e8f0;color:#0f172a}}.empty{{color:#64748b}}
h2{{font-size:15px;margin:20px 0 8px}}ol{{list-style:none;padding:0;margin:0}}
li{{background:#dcfce7;border-radius:12px;padding:10px;margin-bottom:8px;font-size:14px}}li.failed{{background:#fee2e2}}
.from{{font-weight:600;display:block}}.hint{{max-width:340px;margin:0 auto 24px;font-size:13px;color:#475569}}</style></head>
<body>{banner}
<main class="phone"><div class="screen"><h1>M-PESA</h1><p class="number">{phone}</p>{content}</div></main>
{hint}</body></html>"""


def _page(lang: str, phone: str, content: str, hint: str, status: int = 200) -> HTMLResponse:
    title = html.escape(text(lang, "phone.title", phone=phone))
    page = PAGE.format(lang=lang, title=title, banner=banner(lang), phone=phone, content=content, hint=hint)
    return HTMLResponse(page, status_code=status)


def _prompt(lang: str, request: dict[str, Any]) -> str:
    ask = text(lang, "phone.ask", amount=whole_number(lang, request["amount"]), merchant=store.MERCHANT)
    account = text(lang, "phone.account", account=request["external_reference"])
    w = {key: html.escape(text(lang, key)) for key in ("phone.pin", "phone.send", "phone.cancel")}
    return f"""<section class="prompt" aria-labelledby="ask">
<p id="ask" class="ask">{html.escape(ask)}</p>
<p class="account">{html.escape(account)}</p>
<form method="post"><input type="hidden" name="prompt" value="{html.escape(request["reference"])}">
<label for="pin">{w["phone.pin"]}</label>
<input id="pin" name="pin" type="password" inputmode="numeric" autocomplete="off" maxlength="6" autofocus>
<div class="buttons"><button type="submit" name="action" value="pay">{w["phone.send"]}</button>
<button type="submit" name="action" value="cancel" class="secondary">{w["phone.cancel"]}</button></div></form></section>"""


def sms_text(request: dict[str, Any]) -> str:
    """The message M-PESA sends the customer about a result. English in every language
    of the page: M-PESA itself writes its SMS in English in Kenya, so this imitates
    what a Kenyan customer really receives (the handset around it is translated)."""
    amount = f"Ksh{request['amount']:,.2f}"
    account = f" for account {request['external_reference']}" if request["external_reference"] else ""
    if request["result_code"] != store.SUCCESS:
        reason = request["result_desc"].rstrip(".")
        return f"Failed. {reason}. {amount} to {store.MERCHANT}{account} was not sent."
    at = datetime.fromtimestamp(request["answered_at"], EAST_AFRICA_TIME)
    when = f"{at.day}/{at.month}/{at:%y} at {at.hour % 12 or 12}:{at:%M %p}"
    return f"{request['receipt']} Confirmed. {amount} sent to {store.MERCHANT}{account} on {when}."


def _messages(lang: str, requests: list[dict[str, Any]]) -> str:
    answered = [r for r in requests if r["status"] != "QUEUED"]
    items = "".join(
        f'<li lang="en" class="{"failed" if r["result_code"] else "paid"}"><span class="from">MPESA</span>'
        f"{html.escape(sms_text(r))}</li>"
        for r in answered
    )
    empty = html.escape(text(lang, "no_messages"))
    body = f"<ol>{items}</ol>" if items else f'<p class="empty">{empty}</p>'
    heading = html.escape(text(lang, "phone.messages"))
    return f'<section aria-labelledby="inbox"><h2 id="inbox">{heading}</h2>{body}</section>'


def _hint(lang: str) -> str:
    settings = get_settings()
    seconds = f"{settings.sandbox_mpesa_prompt_timeout_seconds:g}"
    lines = (
        text(lang, "phone.hint_pin", pin=settings.sandbox_mpesa_pin),
        text(lang, "phone.hint_low_balance", phone=prompts.LOW_BALANCE_PHONE),
        text(lang, "phone.hint_timeout", seconds=seconds),
    )
    items = "\n".join(f"<li>{html.escape(line)}</li>" for line in lines)
    heading = html.escape(text(lang, "phone.test_numbers"))
    return f"""<aside class="hint" aria-labelledby="hint"><h2 id="hint">{heading}</h2><ul>
{items}
</ul></aside>"""


def _not_a_phone(lang: str) -> HTMLResponse:
    content = f"<p>{html.escape(text(lang, 'phone.not_kenyan'))}</p>"
    return _page(lang, "—", content, hint="", status=404)


async def phone_page(request: Request) -> Response:
    lang = page_language(request)
    phone = normalise_kenyan_phone(request.path_params["phone"])
    if phone is None:
        return _not_a_phone(lang)
    requests = await prompts.on_phone(phone)
    waiting = next((r for r in requests if r["status"] == "QUEUED"), None)
    none_waiting = f'<p class="empty">{html.escape(text(lang, "phone.no_requests"))}</p>'
    content = (_prompt(lang, waiting) if waiting else none_waiting) + _messages(lang, requests)
    return _page(lang, phone, content, hint=_hint(lang))


async def answer_prompt(request: Request) -> Response:
    phone = normalise_kenyan_phone(request.path_params["phone"])
    if phone is None:
        return _not_a_phone(page_language(request))
    form = await request.form()
    await prompts.answer(
        phone=phone,
        reference=str(form.get("prompt", "")),
        action=str(form.get("action", "")),
        pin=str(form.get("pin", "")),
    )
    return RedirectResponse(f"/sandbox/payhero/phone/{phone}", status_code=303)

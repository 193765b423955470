"""The built-in mailbox, mounted with the sandbox: every message in the outbox, newest
first, as a page a person can read (no JavaScript) and as JSON for tests and tools.
``?to=address`` shows one recipient's messages. The page around the messages speaks
the reader's language; each message is shown in the language it was sent in."""

from __future__ import annotations

import asyncio
import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from payflow_app.core.qr import qr_data_uri
from payflow_app.emails.outbox import mailbox_messages
from payflow_app.emails.sender import inline_images
from payflow_app.models import EmailOutbox
from payflow_app.sandbox.texts import page_language, text, word_or_raw

PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;background:#f6f9fc;margin:0;color:#1a1f36}}
.banner{{background:#fde68a;text-align:center;padding:6px;font-size:14px}}
main{{max-width:860px;margin:24px auto;padding:0 16px}}
article{{background:#fff;border-radius:10px;padding:20px;margin:16px 0;box-shadow:0 2px 12px #0001}}
h1{{font-size:24px}}h2{{font-size:18px;margin:0 0 8px}}dl{{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0 0 12px;font-size:14px}}
dt{{color:#64748b}}dd{{margin:0}}pre{{white-space:pre-wrap;background:#f1f5f9;padding:12px;border-radius:6px}}
iframe{{width:100%;height:640px;border:1px solid #e3e8ee;border-radius:6px;background:#fff}}
input{{padding:8px;font-size:15px;min-width:260px}}button{{padding:8px 14px;font-size:15px}}.error{{color:#991b1b}}</style></head><body>
<div class="banner" role="status">{w[mailbox.banner]}</div><main>
<h1>{w[mailbox.title]}</h1>
<form method="get"><label for="to">{w[mailbox.recipient]}</label> <input id="to" name="to" type="email" value="{to}">
<button type="submit">{w[mailbox.show]}</button> <a href="/sandbox/mailbox">{w[mailbox.all]}</a></form>
{messages}</main></body></html>"""
PAGE_KEYS = ("mailbox.banner", "mailbox.title", "mailbox.recipient", "mailbox.show", "mailbox.all")
ARTICLE_KEYS = (
    "mailbox.to",
    "mailbox.template",
    "mailbox.language",
    "mailbox.status",
    "mailbox.time",
    "mailbox.last_error",
)


async def mailbox_page(request: Request) -> Response:
    lang = page_language(request)
    to = request.query_params.get("to", "").strip()
    rows = await asyncio.to_thread(mailbox_messages, recipient=to or None)
    empty = f"<p>{html.escape(text(lang, 'no_messages'))}</p>"
    articles = "\n".join(_article(lang, row) for row in rows) or empty
    title = text(lang, "page_title", title=text(lang, "mailbox.title"))
    words = _words(lang, PAGE_KEYS)
    page = PAGE.format(lang=lang, title=html.escape(title), w=words, to=html.escape(to), messages=articles)
    return HTMLResponse(page)


def _words(lang: str, keys: tuple[str, ...]) -> dict[str, str]:
    return {key: html.escape(text(lang, key)) for key in keys}


async def mailbox_json(request: Request) -> Response:
    to = request.query_params.get("to", "").strip()
    rows = await asyncio.to_thread(mailbox_messages, recipient=to or None)
    return JSONResponse(
        {
            "messages": [
                {
                    "id": row.id,
                    "to": row.recipient,
                    "subject": row.subject,
                    "template": row.template,
                    "language": row.language,
                    "status": row.status,
                    "transport": row.transport,
                    "text": row.body_text,
                    "html": row.body_html,
                }
                for row in rows
            ]
        }
    )


def _article(lang: str, row: EmailOutbox) -> str:
    """One message: its subject, text and HTML in the language it was sent in (marked
    with ``lang``), described in the reader's."""
    e, w = html.escape, _words(lang, ARTICLE_KEYS)
    when = row.sent_at or row.created_at
    state = word_or_raw(lang, "mailbox.state", row.status)
    status = state if row.transport is None else f"{state} ({row.transport})"
    error = (
        f'<dt>{w["mailbox.last_error"]}</dt><dd class="error">{e(row.last_error)}</dd>'
        if row.last_error
        else ""
    )
    sent_in = e(row.language)
    body = f'<iframe title="{e(row.subject)}" sandbox srcdoc="{e(_with_images(row))}"></iframe>'
    return f"""<article><h2 lang="{sent_in}">{e(row.subject)}</h2><dl>
<dt>{w["mailbox.to"]}</dt><dd>{e(row.recipient)}</dd><dt>{w["mailbox.template"]}</dt><dd>{e(row.template)}</dd>
<dt>{w["mailbox.language"]}</dt><dd>{sent_in}</dd><dt>{w["mailbox.status"]}</dt><dd>{e(status)}</dd>
<dt>{w["mailbox.time"]}</dt><dd>{when:%Y-%m-%d %H:%M:%S} UTC</dd>{error}</dl>
<pre lang="{sent_in}">{e(row.body_text)}</pre>
{body if row.body_html else ""}</article>"""


def _with_images(row: EmailOutbox) -> str:
    """The HTML with each ``cid:`` reference replaced by the QR code's data URI."""
    body = row.body_html
    for image in inline_images(row):
        body = body.replace(f"cid:{image.cid}", qr_data_uri(image.qr_token))
    return body

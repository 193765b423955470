"""The built-in mailbox, mounted with the sandbox: every message in the outbox, newest
first, as a page a person can read (no JavaScript) and as JSON for tests and tools.
``?to=address`` shows one recipient's messages."""

from __future__ import annotations

import asyncio
import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from payflow_app.emails.outbox import mailbox_messages
from payflow_app.emails.sender import inline_images
from payflow_app.models import EmailOutbox
from payflow_app.services.tickets import qr_data_uri

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Mailbox — payflow sandbox</title>
<style>body{{font-family:system-ui,sans-serif;background:#f6f9fc;margin:0;color:#1a1f36}}
.banner{{background:#fde68a;text-align:center;padding:6px;font-size:14px}}
main{{max-width:860px;margin:24px auto;padding:0 16px}}
article{{background:#fff;border-radius:10px;padding:20px;margin:16px 0;box-shadow:0 2px 12px #0001}}
h1{{font-size:24px}}h2{{font-size:18px;margin:0 0 8px}}dl{{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0 0 12px;font-size:14px}}
dt{{color:#64748b}}dd{{margin:0}}pre{{white-space:pre-wrap;background:#f1f5f9;padding:12px;border-radius:6px}}
iframe{{width:100%;height:640px;border:1px solid #e3e8ee;border-radius:6px;background:#fff}}
input{{padding:8px;font-size:15px;min-width:260px}}button{{padding:8px 14px;font-size:15px}}.error{{color:#991b1b}}</style></head><body>
<div class="banner" role="status">Sandbox — emails are kept here, not sent</div><main>
<h1>Mailbox</h1>
<form method="get"><label for="to">Recipient</label> <input id="to" name="to" type="email" value="{to}">
<button type="submit">Show</button> <a href="/sandbox/mailbox">All messages</a></form>
{messages}</main></body></html>"""


async def mailbox_page(request: Request) -> Response:
    to = request.query_params.get("to", "").strip()
    rows = await asyncio.to_thread(mailbox_messages, recipient=to or None)
    articles = "\n".join(_article(row) for row in rows) or "<p>No messages yet.</p>"
    return HTMLResponse(PAGE.format(to=html.escape(to), messages=articles))


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


def _article(row: EmailOutbox) -> str:
    e = html.escape
    when = row.sent_at or row.created_at
    status = row.status if row.transport is None else f"{row.status} ({row.transport})"
    error = f'<dt>Last error</dt><dd class="error">{e(row.last_error)}</dd>' if row.last_error else ""
    body = f'<iframe title="{e(row.subject)}" sandbox srcdoc="{e(_with_images(row))}"></iframe>'
    return f"""<article><h2>{e(row.subject)}</h2><dl>
<dt>To</dt><dd>{e(row.recipient)}</dd><dt>Template</dt><dd>{e(row.template)}</dd>
<dt>Language</dt><dd>{e(row.language)}</dd><dt>Status</dt><dd>{e(status)}</dd>
<dt>Time</dt><dd>{when:%Y-%m-%d %H:%M:%S} UTC</dd>{error}</dl>
<pre>{e(row.body_text)}</pre>
{body if row.body_html else ""}</article>"""


def _with_images(row: EmailOutbox) -> str:
    """The HTML with each ``cid:`` reference replaced by the QR code's data URI."""
    body = row.body_html
    for image in inline_images(row):
        body = body.replace(f"cid:{image.cid}", qr_data_uri(image.qr_token))
    return body

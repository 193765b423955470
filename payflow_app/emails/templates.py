"""Rendering payflow's emails, in the reader's language, as plain text and HTML.

Every value that reaches the HTML is escaped: names, event titles and venues are typed
by customers and organisers. A QR code is not a link to an image host: the HTML points
at ``cid:`` references and the sender attaches the PNGs as inline parts.

A secret shown to the reader (the temporary password of a welcome email) is wrapped
in ``<code class="secret">`` so :func:`scrub_secrets` can find it again and remove it
from the stored copy once the message has left by SMTP.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from payflow_app import i18n
from payflow_app.emails.texts import status_label, text

SECRET_MASK = "********"
_SECRET_SPAN = re.compile(r'<code class="secret"[^>]*>(.*?)</code>', re.DOTALL)
_NOT_CID_CHARS = re.compile(r"[^A-Za-z0-9-]")


@dataclass(frozen=True)
class InlineImage:
    """A QR code sent as an inline part: ``cid`` is its Content-ID without brackets."""

    cid: str
    qr_token: str


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    inline_images: tuple[InlineImage, ...] = ()


@dataclass(frozen=True)
class TicketLine:
    number: str
    ticket_type: str
    qr_token: str


def qr_cid(ticket_number: str) -> str:
    """The Content-ID of a ticket's QR image, e.g. ``qr-TKT-1760000000-ABCDEF@payflow``."""
    return f"qr-{_NOT_CID_CHARS.sub('-', ticket_number)}@payflow"


def scrub_secrets(body_text: str, body_html: str) -> tuple[str, str]:
    """Both bodies with every secret marked in the HTML replaced by ``********``.

    The plain-text part has no markup, so each secret found in the HTML is replaced
    wherever it appears in the text: secrets are generated passwords, long enough
    never to occur by chance in the rest of a message."""
    secrets = {html.unescape(found) for found in _SECRET_SPAN.findall(body_html)} - {"", SECRET_MASK}
    scrubbed_html = _SECRET_SPAN.sub(f'<code class="secret">{SECRET_MASK}</code>', body_html)
    for secret in secrets:
        body_text = body_text.replace(secret, SECRET_MASK)
    return body_text, scrubbed_html


def welcome_email(
    lang: str, *, full_name: str, email: str, temporary_password: str, login_url: str
) -> RenderedEmail:
    """The account created at checkout: its login, temporary password and where to sign in."""
    lang = i18n.normalise(lang)
    subject = text(lang, "welcome.subject")
    plain = _lines(
        text(lang, "greeting", name=full_name),
        "",
        text(lang, "welcome.intro"),
        "",
        f"{text(lang, 'welcome.login')}: {email}",
        f"{text(lang, 'welcome.password')}: {temporary_password}",
        "",
        f"{text(lang, 'welcome.sign_in')}: {login_url}",
        "",
        text(lang, "welcome.first_login"),
        text(lang, "welcome.not_you"),
        "",
        text(lang, "signature"),
    )
    body = f"""<p>{_e(text(lang, "greeting", name=full_name))}</p>
<p>{_e(text(lang, "welcome.intro"))}</p>
<table role="presentation" style="border-collapse:collapse;margin:16px 0">
{_row(text(lang, "welcome.login"), _e(email))}
{_row(text(lang, "welcome.password"), f'<code class="secret" style="font-size:16px">{_e(temporary_password)}</code>')}
</table>
<p>{_button(text(lang, "welcome.sign_in"), login_url)}</p>
<p>{_e(text(lang, "welcome.first_login"))}</p>
<p style="color:#64748b;font-size:13px">{_e(text(lang, "welcome.not_you"))}</p>"""
    return RenderedEmail(subject=subject, text=plain, html=_page(lang, subject, body, footer=None))


def membership_email(
    lang: str,
    *,
    full_name: str,
    plan_name: str,
    username: str,
    password: str,
    valid_until: datetime,
    login_url: str,
) -> RenderedEmail:
    """The membership's credentials: a username and its generated password."""
    lang = i18n.normalise(lang)
    subject = text(lang, "membership.subject", plan=plan_name)
    until = i18n.format_datetime(valid_until, lang)
    plain = _lines(
        text(lang, "greeting", name=full_name),
        "",
        text(lang, "membership.intro", plan=plan_name, until=until),
        "",
        f"{text(lang, 'membership.username')}: {username}",
        f"{text(lang, 'membership.password')}: {password}",
        "",
        f"{text(lang, 'welcome.sign_in')}: {login_url}",
        text(lang, "membership.keep_safe"),
        "",
        text(lang, "signature"),
    )
    body = f"""<p>{_e(text(lang, "greeting", name=full_name))}</p>
<p>{_e(text(lang, "membership.intro", plan=plan_name, until=until))}</p>
<table role="presentation" style="border-collapse:collapse;margin:16px 0">
{_row(text(lang, "membership.username"), f"<code>{_e(username)}</code>")}
{_row(text(lang, "membership.password"), f'<code class="secret" style="font-size:16px">{_e(password)}</code>')}
</table>
<p>{_button(text(lang, "welcome.sign_in"), login_url)}</p>
<p style="color:#64748b;font-size:13px">{_e(text(lang, "membership.keep_safe"))}</p>"""
    return RenderedEmail(subject=subject, text=plain, html=_page(lang, subject, body, footer=None))


def tickets_email(
    lang: str,
    *,
    full_name: str,
    order_number: str,
    event_title: str,
    starts_at: datetime,
    venue: str,
    tickets: Sequence[TicketLine],
    tickets_url: str,
    reissued: bool = False,
) -> RenderedEmail:
    """One card per ticket with its QR code inline; the text part lists the tickets.
    ``reissued``: the tickets carry new QR codes that replace the ones sent before."""
    lang = i18n.normalise(lang)
    subject = text(lang, "tickets.subject", event=event_title, order=order_number)
    intro = text(lang, "reissued.intro") if reissued else text(lang, "tickets.intro", order=order_number)
    when = i18n.format_datetime(starts_at, lang)
    plain = _lines(
        text(lang, "greeting", name=full_name),
        "",
        intro,
        "",
        event_title,
        f"{text(lang, 'tickets.when')}: {when}",
        f"{text(lang, 'tickets.where')}: {venue}",
        "",
        *(f"{text(lang, 'tickets.ticket')} {t.number} — {t.ticket_type}" for t in tickets),
        "",
        text(lang, "tickets.my_tickets_text", url=tickets_url),
        "",
        text(lang, "signature"),
    )
    cards = "\n".join(_ticket_card(lang, ticket) for ticket in tickets)
    body = f"""<p>{_e(text(lang, "greeting", name=full_name))}</p>
<p>{_e(intro)}</p>
<h2 style="margin:20px 0 8px;font-size:20px">{_e(event_title)}</h2>
<table role="presentation" style="border-collapse:collapse">
{_row(text(lang, "tickets.when"), _e(when))}
{_row(text(lang, "tickets.where"), _e(venue))}
</table>
{cards}
<p>{_button(text(lang, "tickets.my_tickets"), tickets_url)}</p>"""
    return RenderedEmail(
        subject=subject,
        text=plain,
        html=_page(lang, subject, body, footer=text(lang, "footer", order=order_number)),
        inline_images=tuple(InlineImage(cid=qr_cid(t.number), qr_token=t.qr_token) for t in tickets),
    )


def ticket_revoked_email(
    lang: str, *, full_name: str, order_number: str, event_title: str, ticket_number: str, reason: str
) -> RenderedEmail:
    """The holder is told their ticket no longer admits them, and why."""
    lang = i18n.normalise(lang)
    subject = text(lang, "revoked.subject", number=ticket_number, event=event_title)
    intro = text(lang, "revoked.intro", number=ticket_number, event=event_title)
    plain = _lines(
        text(lang, "greeting", name=full_name),
        "",
        intro,
        f"{text(lang, 'revoked.reason')}: {reason}",
        "",
        text(lang, "revoked.contact"),
        "",
        text(lang, "signature"),
    )
    body = f"""<p>{_e(text(lang, "greeting", name=full_name))}</p>
<p>{_e(intro)}</p>
<table role="presentation" style="border-collapse:collapse;margin:16px 0">
{_row(text(lang, "revoked.reason"), _e(reason))}
</table>
<p style="color:#64748b;font-size:13px">{_e(text(lang, "revoked.contact"))}</p>"""
    return RenderedEmail(
        subject=subject,
        text=plain,
        html=_page(lang, subject, body, footer=text(lang, "footer", order=order_number)),
    )


def receipt_email(
    lang: str,
    *,
    full_name: str,
    order_number: str,
    receipt_number: str,
    paid_at: datetime,
    amount_minor: int,
    currency: str,
    status: str,
    description: str,
) -> RenderedEmail:
    """What was paid, when and for what; ``receipt_number`` is the provider's."""
    lang = i18n.normalise(lang)
    subject = text(lang, "receipt.subject", order=order_number)
    facts = [
        (text(lang, "receipt.order"), order_number),
        (text(lang, "receipt.receipt"), receipt_number),
        (text(lang, "receipt.date"), i18n.format_datetime(paid_at, lang)),
        (text(lang, "receipt.amount"), i18n.format_money(amount_minor, currency, lang)),
        (text(lang, "receipt.status"), status_label(lang, status)),
        (text(lang, "receipt.description"), description),
    ]
    plain = _lines(
        text(lang, "greeting", name=full_name),
        "",
        text(lang, "receipt.intro"),
        "",
        *(f"{label}: {value}" for label, value in facts),
        "",
        text(lang, "signature"),
    )
    rows = "\n".join(_row(label, _e(value)) for label, value in facts)
    body = f"""<p>{_e(text(lang, "greeting", name=full_name))}</p>
<p>{_e(text(lang, "receipt.intro"))}</p>
<table role="presentation" style="border-collapse:collapse;margin:16px 0">
{rows}
</table>"""
    return RenderedEmail(
        subject=subject,
        text=plain,
        html=_page(lang, subject, body, footer=text(lang, "footer", order=order_number)),
    )


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def _lines(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def _row(label: str, value_html: str) -> str:
    return (
        f'<tr><td style="padding:4px 16px 4px 0;color:#64748b;vertical-align:top">{_e(label)}</td>'
        f'<td style="padding:4px 0">{value_html}</td></tr>'
    )


def _button(label: str, url: str) -> str:
    return (
        f'<a href="{_e(url)}" style="display:inline-block;background:#635bff;color:#ffffff;'
        f'padding:12px 20px;border-radius:6px;text-decoration:none">{_e(label)}</a>'
    )


def _ticket_card(lang: str, ticket: TicketLine) -> str:
    alt = text(lang, "tickets.qr_alt", number=ticket.number)
    return f"""<div style="border:1px solid #e3e8ee;border-radius:10px;padding:16px;margin:16px 0;text-align:center">
<p style="margin:0;font-size:13px;color:#64748b">{_e(text(lang, "tickets.ticket"))}</p>
<p style="margin:4px 0;font-size:18px;font-weight:bold;font-family:monospace">{_e(ticket.number)}</p>
<p style="margin:0 0 12px">{_e(text(lang, "tickets.type"))}: {_e(ticket.ticket_type)}</p>
<img src="cid:{_e(qr_cid(ticket.number))}" alt="{_e(alt)}" width="240" height="240" style="display:block;margin:0 auto">
</div>"""


def _page(lang: str, title: str, body: str, *, footer: str | None) -> str:
    foot = (
        f'<p style="max-width:560px;margin:12px auto;color:#64748b;font-size:12px">{_e(footer)}</p>'
        if footer
        else ""
    )
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{_e(title)}</title></head>
<body style="margin:0;padding:24px;background:#f6f9fc;font-family:Arial,Helvetica,sans-serif;color:#1a1f36;line-height:1.5">
<div style="max-width:560px;margin:0 auto;background:#ffffff;border-radius:10px;padding:28px">
{body}
<p>{_e(text(lang, "signature"))}</p>
</div>
{foot}
</body></html>
"""

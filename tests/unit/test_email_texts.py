"""Every email, subject and body, exists in Polish: the email catalogue has the same
keys and placeholders in both languages, and a Polish email carries no English line."""

from __future__ import annotations

import re
from datetime import datetime

from payflow_app.emails.templates import (
    RenderedEmail,
    TicketLine,
    membership_email,
    receipt_email,
    ticket_revoked_email,
    tickets_email,
    welcome_email,
)
from payflow_app.emails.texts import EN, PL

PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Words Polish writes as English does.
SAME_IN_BOTH = {"welcome.login", "receipt.status"}
WHEN = datetime(2026, 12, 22, 19, 0)


def every_email(lang: str) -> list[RenderedEmail]:
    name, order = "Ada Lovelace", "ORD-1-ABCDEF"
    tickets = [TicketLine(number="TKT-1", ticket_type="VIP", qr_token="token")]
    return [
        welcome_email(
            lang, full_name=name, email="ada@example.com", temporary_password="pw", login_url="http://x/login"
        ),
        membership_email(
            lang,
            full_name=name,
            plan_name="Supporter",
            username="ada",
            password="pw",
            valid_until=WHEN,
            login_url="http://x/login",
        ),
        *(
            tickets_email(
                lang,
                full_name=name,
                order_number=order,
                event_title="Jazz Night",
                starts_at=WHEN,
                venue="Hall",
                tickets=tickets,
                tickets_url="http://x/tickets",
                reissued=reissued,
            )
            for reissued in (False, True)
        ),
        ticket_revoked_email(
            lang,
            full_name=name,
            order_number=order,
            event_title="Jazz Night",
            ticket_number="TKT-1",
            reason="x",
        ),
        receipt_email(
            lang,
            full_name=name,
            order_number=order,
            receipt_number="pi_1",
            paid_at=WHEN,
            amount_minor=12000,
            currency="PLN",
            status="paid",
            description="1 × VIP",
        ),
    ]


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    assert EN.keys() ^ PL.keys() == set()
    for key in EN:
        assert set(PLACEHOLDER.findall(EN[key])) == set(PLACEHOLDER.findall(PL[key])), key


def test_polish_is_translated_not_copied() -> None:
    assert {key for key in EN if EN[key] == PL[key]} == SAME_IN_BOTH


def test_a_polish_email_has_no_english_line() -> None:
    """Each English text with no placeholder, looked for in every Polish subject and body."""
    english = [EN[key] for key in EN if key not in SAME_IN_BOTH and not PLACEHOLDER.search(EN[key])]
    for email in every_email("pl"):
        assert '<html lang="pl">' in email.html
        for words in english:
            for part in (email.subject, email.text, email.html):
                assert words not in part, (email.subject, words)
    english_subjects = {email.subject for email in every_email("en")}
    assert english_subjects.isdisjoint(email.subject for email in every_email("pl"))

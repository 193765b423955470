import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import text
from sqlmodel import Session, col, select

from payflow_app.core.db import is_sqlite, read_session, write_transaction
from payflow_app.emails.outbox import emails_for_order, queue_email
from payflow_app.emails.templates import (
    RenderedEmail,
    TicketLine,
    qr_cid,
    receipt_email,
    scrub_secrets,
    tickets_email,
    welcome_email,
)
from payflow_app.models import EmailOutbox, Order, pk
from payflow_app.seed import seed
from tests import factories

CONCERT = datetime(2026, 12, 22, 19, 0, tzinfo=UTC)
TICKETS = [
    TicketLine("TKT-1760000000-ABCDEF", "Standard", "token-a"),
    TicketLine("TKT-1760000000-GHJKLM", "VIP", "token-b"),
]


def _tickets(lang: str, full_name: str = "Ada Lovelace") -> RenderedEmail:
    return tickets_email(
        lang,
        full_name=full_name,
        order_number="ORD-1760000000-QWERTY",
        event_title="Jazz Night",
        starts_at=CONCERT,
        venue="Hala Stulecia",
        tickets=TICKETS,
        tickets_url="https://payflow.test/my-tickets",
    )


def _receipt(lang: str) -> RenderedEmail:
    return receipt_email(
        lang,
        full_name="Ada Lovelace",
        order_number="ORD-1760000000-QWERTY",
        receipt_number="pi_3Q0abc",
        paid_at=CONCERT,
        amount_minor=123456,
        currency="PLN",
        status="paid",
        description="2 × Standard — Jazz Night",
    )


def _queue(session: Session, order: Order, template: str, lang: str) -> bool:
    """Queue the order's ``tickets`` or ``receipt`` email, rendered in ``lang``."""
    render = {"tickets": _tickets, "receipt": _receipt}[template]
    return queue_email(
        session,
        order_id=pk(order),
        template=template,
        recipient="ada@example.com",
        language=lang,
        email=render(lang),
    )


def _welcome(lang: str, password: str = "tmp-Kx9vQ2mZ7w") -> RenderedEmail:
    return welcome_email(
        lang,
        full_name="Ada Lovelace",
        email="ada@example.com",
        temporary_password=password,
        login_url="https://payflow.test/login",
    )


def test_welcome_email_gives_login_temporary_password_and_link() -> None:
    for lang, first_login in (
        ("en", "you will be asked to choose a new password"),
        ("pl", "poprosimy Cię o ustawienie nowego hasła"),
    ):
        email = _welcome(lang)
        for body in (email.text, email.html):
            assert "ada@example.com" in body
            assert "tmp-Kx9vQ2mZ7w" in body
            assert "https://payflow.test/login" in body
            assert first_login in body
    assert _welcome("en").subject == "Your payflow account"
    assert _welcome("pl").subject == "Twoje konto w payflow"
    assert "Hasło tymczasowe: tmp-Kx9vQ2mZ7w" in _welcome("pl").text


def test_tickets_email_embeds_each_qr_inline_and_lists_tickets_in_text() -> None:
    email = _tickets("en")
    assert email.subject == "Your tickets for Jazz Night — order ORD-1760000000-QWERTY"
    assert [image.qr_token for image in email.inline_images] == ["token-a", "token-b"]
    for ticket, image in zip(TICKETS, email.inline_images, strict=True):
        assert image.cid == qr_cid(ticket.number)
        assert f'src="cid:{image.cid}"' in email.html
        assert f"Ticket {ticket.number} — {ticket.ticket_type}" in email.text
    assert "22 December 2026, 19:00 UTC" in email.text
    assert "My Tickets: https://payflow.test/my-tickets" in email.text


def test_qr_content_ids_use_only_valid_characters() -> None:
    cid = qr_cid("TKT 17/60 <x>")
    local, _, domain = cid.partition("@")
    assert domain == "payflow"
    assert all(ch.isalnum() or ch == "-" for ch in local)


def test_tickets_email_in_polish() -> None:
    email = _tickets("pl")
    assert email.subject == "Twoje bilety na Jazz Night — zamówienie ORD-1760000000-QWERTY"
    assert "22 grudnia 2026, 19:00 UTC" in email.text
    assert "Bilet TKT-1760000000-ABCDEF — Standard" in email.text
    assert "Moje bilety" in email.html
    assert '<html lang="pl">' in email.html


def test_receipt_formats_money_date_and_status_for_the_reader() -> None:
    en, pl = _receipt("en"), _receipt("pl")
    assert "Amount: 1,234.56 zł" in en.text
    assert "Date: 22 December 2026, 19:00 UTC" in en.text
    assert "Status: Paid" in en.text
    assert "Receipt number: pi_3Q0abc" in en.text
    assert "Kwota: 1\xa0234,56\xa0zł" in pl.text
    assert "Data: 22 grudnia 2026, 19:00 UTC" in pl.text
    assert "Status: Opłacone" in pl.text
    assert "Opis: 2 × Standard — Jazz Night" in pl.text
    assert pl.subject == "Potwierdzenie płatności — zamówienie ORD-1760000000-QWERTY"
    fulfilled = receipt_email("pl", **{**_receipt_kwargs(), "status": "fulfilled"})
    assert "Status: Zrealizowane" in fulfilled.text


def _receipt_kwargs() -> dict:
    return {
        "full_name": "Ada",
        "order_number": "ORD-1",
        "receipt_number": "pi_1",
        "paid_at": CONCERT,
        "amount_minor": 100,
        "currency": "PLN",
        "status": "paid",
        "description": "x",
    }


def test_customer_text_is_escaped_in_html() -> None:
    email = _tickets("en", full_name="<script>alert('x')</script>")
    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in email.html
    assert "Hello <script>alert('x')</script>," in email.text  # plain text stays as typed


def test_scrubbing_removes_the_temporary_password_from_both_bodies() -> None:
    email = _welcome("en", password="p&ss<word>1234")
    scrubbed_text, scrubbed_html = scrub_secrets(email.text, email.html)
    assert "p&ss<word>1234" not in scrubbed_text
    assert "p&amp;ss&lt;word&gt;1234" not in scrubbed_html
    assert "Temporary password: ********" in scrubbed_text
    assert "ada@example.com" in scrubbed_text  # the rest is kept


def _rows(order_id: int, *templates: str) -> list[EmailOutbox]:
    """The order's queued emails of these templates (placing an order for a new
    customer queues a welcome email of its own)."""
    query = select(EmailOutbox).where(
        EmailOutbox.order_id == order_id, col(EmailOutbox.template).in_(templates)
    )
    with read_session() as session:
        return list(session.exec(query.order_by(col(EmailOutbox.id))).all())


def test_queueing_the_same_template_twice_keeps_one_row(seeded: str) -> None:
    order = factories.order()
    with write_transaction() as session:
        assert _queue(session, order, "tickets", "pl")
    with write_transaction() as session:
        again = _queue(session, order, "tickets", "pl")
    assert again is False
    [row] = _rows(pk(order), "tickets")
    assert (row.status, row.language, row.subject) == ("queued", "pl", _tickets("pl").subject)
    assert '"cid": "qr-TKT-1760000000-ABCDEF@payflow"' in row.inline_images
    [view] = [v for v in emails_for_order(pk(order)) if v.template == "tickets"]
    assert (view.template, view.recipient, view.status, view.sent_at) == (
        "tickets",
        "ada@example.com",
        "queued",
        None,
    )


def test_a_rolled_back_transaction_queues_nothing(seeded: str) -> None:
    order = factories.order()
    try:
        with write_transaction() as session:
            _queue(session, order, "receipt", "en")
            raise RuntimeError("the caller's step failed")
    except RuntimeError:
        pass
    assert _rows(pk(order), "receipt") == []


def test_concurrent_queueing_makes_exactly_one_row(any_db: str) -> None:
    seed()
    order = factories.order()
    start = threading.Barrier(6)

    def queue(_: int) -> bool:
        start.wait()
        with write_transaction() as session:
            return _queue(session, order, "tickets", "en")

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(queue, range(6)))
    assert sorted(results) == [False] * 5 + [True]
    assert len(_rows(pk(order), "tickets")) == 1


def test_losing_the_race_leaves_the_callers_transaction_usable(any_db: str) -> None:
    """The second transaction's insert waits for the first's uncommitted row and then
    fails on the unique constraint (PostgreSQL) or finds it (SQLite): either way it is
    told "already queued" and its other work still commits."""
    seed()
    order = factories.order()
    outcome: dict[str, object] = {}

    def second() -> None:
        try:
            with write_transaction() as session:
                outcome["tickets"] = _queue(session, order, "tickets", "en")
                outcome["receipt"] = _queue(session, order, "receipt", "en")
        except Exception as exc:
            outcome["error"] = exc

    with write_transaction() as first:
        assert _queue(first, order, "tickets", "en")
        thread = threading.Thread(target=second)
        thread.start()
        _wait_until_blocked()
    thread.join(timeout=30)
    assert "error" not in outcome, outcome
    assert outcome == {"tickets": False, "receipt": True}
    assert [row.template for row in _rows(pk(order), "tickets", "receipt")] == ["tickets", "receipt"]


def _wait_until_blocked() -> None:
    """Until the other thread waits on a lock held by this test's open transaction."""
    if is_sqlite():
        time.sleep(0.5)  # BEGIN IMMEDIATE waits for our write lock; nothing to observe
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with read_session() as probe:
            waiting = (
                probe.connection()
                .execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
                .scalar_one()
            )
        if waiting:
            return
        time.sleep(0.05)
    raise AssertionError("the second transaction never waited for the first")

"""Email delivery against a real SMTP server (aiosmtpd on a free local port), and into
the built-in mailbox when no SMTP host is configured."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import delete
from sqlmodel import col, select
from starlette.applications import Starlette

from payflow_app.core.db import lock, read_session, write_transaction
from payflow_app.core.qr import qr_png
from payflow_app.emails import sender
from payflow_app.emails.outbox import emails_for_order, queue_email
from payflow_app.emails.sender import build_message, claim_due, deliver_due, run_email_sender
from payflow_app.emails.smtp import SMTP_STEPS
from payflow_app.emails.templates import (
    RenderedEmail,
    TicketLine,
    receipt_email,
    tickets_email,
    welcome_email,
)
from payflow_app.models import EmailOutbox, Order, pk, utcnow
from payflow_app.sandbox import sandbox_routes
from payflow_app.seed import seed
from payflow_app.services.tickets.tokens import sign_ticket_token
from tests import factories
from tests.conftest import use_database
from tests.integration.conftest import free_port, wait_until

PASSWORD = "tmp-Rq7vX2kP9zW4"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps every message it accepts."""

    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@contextlib.contextmanager
def smtp_server(port: int) -> Iterator[Recorder]:
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield recorder
    finally:
        controller.stop()


def use_smtp(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **settings: str) -> int:
    port = free_port()
    use_database(url, tmp_path, monkeypatch, smtp_host="127.0.0.1", smtp_port=str(port), **settings)
    seed()
    return port


def order_without_emails(email_address: str = "ada@example.com") -> Order:
    """An order whose outbox is empty: placing an order for a new customer queues a
    welcome email of its own, and these tests queue exactly what they check."""
    order = factories.order(quantity=2, email=email_address)
    with write_transaction() as session:
        session.execute(delete(EmailOutbox).where(col(EmailOutbox.order_id) == order.id))
    return order


def queue(
    order: Order, template: str, rendered: RenderedEmail, language: str = "en", to: str = "ada@example.com"
) -> None:
    with write_transaction() as session:
        assert queue_email(
            session, order_id=pk(order), template=template, recipient=to, language=language, email=rendered
        )


def rows() -> dict[str, EmailOutbox]:
    with read_session() as session:
        return {row.template: row for row in session.exec(select(EmailOutbox)).all()}


def tickets_of(order: Order) -> list[TicketLine]:
    numbers = [f"TKT-1760000000-ABCDE{i}" for i in range(2)]
    return [
        TicketLine(
            number,
            "Standard",
            sign_ticket_token(ticket_number=number, event_id=order.event_id or 0, event_starts_at=utcnow()),
        )
        for number in numbers
    ]


def render_tickets(
    order: Order, lang: str, tickets: list[TicketLine], full_name: str = "Ada Lovelace"
) -> RenderedEmail:
    return tickets_email(
        lang,
        full_name=full_name,
        order_number=order.number,
        event_title="Jazz Night",
        starts_at=utcnow(),
        venue="Hala Stulecia",
        tickets=tickets,
        tickets_url="https://payflow.test/my-tickets",
    )


def render_welcome(lang: str) -> RenderedEmail:
    return welcome_email(
        lang,
        full_name="Ada Lovelace",
        email="ada@example.com",
        temporary_password=PASSWORD,
        login_url="https://payflow.test/login",
    )


def render_receipt(order: Order) -> RenderedEmail:
    return receipt_email(
        "en",
        full_name="Ada Lovelace",
        order_number=order.number,
        receipt_number="pi_test",
        paid_at=utcnow(),
        amount_minor=order.amount_minor,
        currency=order.currency,
        status="paid",
        description="2 × Standard",
    )


def get(path: str, **params: str) -> httpx.Response:
    """A request to the sandbox routes, served in-process."""

    async def request() -> httpx.Response:
        transport = httpx.ASGITransport(app=Starlette(routes=sandbox_routes()))
        async with httpx.AsyncClient(transport=transport, base_url="http://payflow.test") as client:
            return await client.get(path, params=params)

    return asyncio.run(request())


def set_due_now(template: str) -> None:
    with write_transaction() as session:
        row = session.exec(select(EmailOutbox).where(EmailOutbox.template == template)).one()
        row.next_attempt_at = utcnow()


def test_smtp_delivers_tickets_with_inline_qr_codes_and_scrubs_the_password(
    sqlite_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = use_smtp(sqlite_db, tmp_path, monkeypatch)
    order = order_without_emails()
    tickets = tickets_of(order)
    queue(order, "tickets", render_tickets(order, "pl", tickets), language="pl")
    queue(order, "welcome", render_welcome("en"))

    with smtp_server(port) as smtp:
        assert deliver_due() == 2
    assert deliver_due() == 0  # nothing is sent twice

    by_subject = {r.message["Subject"]: r for r in smtp.received}
    assert set(by_subject) == {
        f"Twoje bilety na Jazz Night — zamówienie {order.number}",
        "Your payflow account",
    }
    for received in smtp.received:
        assert (received.mail_from, received.rcpt_tos) == ("no-reply@payflow.test", ["ada@example.com"])

    sent = by_subject[f"Twoje bilety na Jazz Night — zamówienie {order.number}"].message
    assert sent["Content-Language"] == "pl"
    assert sent.get_content_type() == "multipart/alternative"
    plain = sent.get_body(("plain",))
    html_part = sent.get_body(("html",))
    assert plain is not None and html_part is not None
    assert all(f"Bilet {t.number} — Standard" in plain.get_content() for t in tickets)
    html = html_part.get_content()
    token_by_cid = {f"qr-{t.number}@payflow": t.qr_token for t in tickets}
    images = [part for part in sent.walk() if part.get_content_type() == "image/png"]
    assert len(images) == 2
    for image in images:
        cid = image["Content-ID"].strip("<>")
        assert f'src="cid:{cid}"' in html
        assert image.get_content_disposition() == "inline"
        png = image.get_content()
        assert png.startswith(PNG_SIGNATURE)
        assert png == qr_png(token_by_cid.pop(cid))  # each card shows its own ticket's code
    assert token_by_cid == {}

    welcome = by_subject["Your payflow account"].message
    welcome_text = welcome.get_body(("plain",))
    assert welcome_text is not None and f"Temporary password: {PASSWORD}" in welcome_text.get_content()

    stored = rows()
    for row in stored.values():
        assert (row.status, row.transport, row.attempts) == ("sent", "smtp", 1)
        assert row.sent_at is not None and row.locked_until is None
    assert PASSWORD not in stored["welcome"].body_text + stored["welcome"].body_html
    assert "Temporary password: ********" in stored["welcome"].body_text
    assert sent["Message-ID"] == build_message(stored["tickets"])["Message-ID"]  # stable for a resend
    assert [(v.template, v.status) for v in emails_for_order(pk(order))] == [
        ("tickets", "sent"),
        ("welcome", "sent"),
    ]


def test_a_message_is_retried_after_the_server_was_down_and_sent_once(
    sqlite_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = use_smtp(sqlite_db, tmp_path, monkeypatch)  # nothing listens on the port yet
    order = order_without_emails()
    queue(order, "receipt", render_receipt(order))

    assert deliver_due() == 0
    row = rows()["receipt"]
    assert (row.status, row.attempts, row.locked_until) == ("queued", 1, None)
    assert row.last_error and "Connection" in row.last_error
    assert row.next_attempt_at > utcnow()

    with smtp_server(port) as smtp:
        assert deliver_due() == 0  # not due yet: the backoff is honoured
        assert smtp.received == []
        set_due_now("receipt")
        assert deliver_due() == 1
        assert deliver_due() == 0
    assert [r.rcpt_tos for r in smtp.received] == [["ada@example.com"]]
    row = rows()["receipt"]
    assert (row.status, row.transport, row.attempts, row.last_error) == ("sent", "smtp", 2, None)


def test_a_message_is_given_up_after_the_last_attempt(
    sqlite_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_smtp(sqlite_db, tmp_path, monkeypatch, email_max_attempts="2")
    order = order_without_emails()
    queue(order, "welcome", render_welcome("en"))

    assert deliver_due() == 0
    assert rows()["welcome"].status == "queued"
    set_due_now("welcome")
    assert deliver_due() == 0
    row = rows()["welcome"]
    assert (row.status, row.attempts) == ("failed", 2)
    assert PASSWORD not in row.body_text + row.body_html  # never delivered, not kept either
    set_due_now("welcome")
    assert deliver_due() == 0
    assert rows()["welcome"].attempts == 2


def test_concurrent_senders_deliver_each_message_exactly_once(
    any_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = use_smtp(any_db, tmp_path, monkeypatch)
    for index in range(6):
        order = order_without_emails(f"buyer{index}@example.com")
        queue(order, "receipt", render_receipt(order))
        queue(order, "tickets", render_tickets(order, "en", tickets_of(order)[:1]))
    start = threading.Barrier(2)

    def send(_: int) -> int:
        start.wait()
        return deliver_due()

    with smtp_server(port) as smtp, ThreadPoolExecutor(2) as pool:
        delivered = sum(pool.map(send, range(2)))
    assert delivered == 12
    message_ids = [r.message["Message-ID"] for r in smtp.received]
    assert len(message_ids) == 12 and len(set(message_ids)) == 12
    with read_session() as session:
        statuses = {(r.status, r.attempts) for r in session.exec(select(EmailOutbox)).all()}
    assert statuses == {("sent", 1)}


def test_a_sender_skips_rows_another_sender_is_claiming_on_postgresql(
    postgres_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The moment the lease cannot cover: another sender's claim transaction holds the
    row but has not committed its lease yet. The claim must pass it by, not wait for
    it and not take it too."""
    use_smtp(postgres_db, tmp_path, monkeypatch)
    order = order_without_emails()
    queue(order, "receipt", render_receipt(order))
    queue(order, "tickets", render_tickets(order, "en", tickets_of(order)))
    # The pool outlives the transaction: a claim that waited on the lock is let go first.
    with ThreadPoolExecutor(1) as pool, write_transaction() as other_sender:
        lock(other_sender, EmailOutbox, rows()["receipt"].id)
        claimed = pool.submit(claim_due).result(timeout=5)
    assert [row.template for row in claimed] == ["tickets"]


def test_a_message_claimed_by_a_killed_sender_is_sent_by_another_within_two_minutes(
    any_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sender A claims a message and dies before its SMTP conversation ends (its claim is
    committed, nothing else happens). Sender B leaves it alone while A's lease runs and
    sends it — once — within two minutes of the claim (it used to be ~11 minutes)."""
    port = use_smtp(any_db, tmp_path, monkeypatch)
    order = order_without_emails()
    queue(order, "receipt", render_receipt(order))
    queue(order, "tickets", render_tickets(order, "en", tickets_of(order)[:1]))
    claimed_at = utcnow()
    (crashed,) = claim_due()  # sender A: one message at a time by SMTP, then SIGKILL
    assert crashed.template == "receipt" and crashed.locked_until is not None
    assert crashed.locked_until - claimed_at <= timedelta(minutes=2)

    def sender_b_at(later: timedelta) -> int:
        monkeypatch.setattr(sender, "utcnow", lambda: claimed_at + later)
        return deliver_due()

    with smtp_server(port) as smtp:
        assert sender_b_at(timedelta(seconds=1)) == 1  # the other message is not held up
        assert sender_b_at(timedelta(seconds=100)) == 0  # A's lease still holds the receipt
        assert sender_b_at(timedelta(minutes=2)) == 1
        assert sender_b_at(timedelta(minutes=3)) == 0
    assert sorted(r.message["Subject"] for r in smtp.received).count(render_receipt(order).subject) == 1
    assert len(smtp.received) == 2
    row = rows()["receipt"]
    assert (row.status, row.transport, row.attempts, row.locked_until) == ("sent", "smtp", 2, None)


def test_a_trickling_smtp_server_cannot_outlast_the_lease(
    sqlite_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that keeps every step inside the timeout (a greeting that never ends)
    is cut at the conversation's deadline, which the lease covers."""
    port = use_smtp(sqlite_db, tmp_path, monkeypatch, smtp_timeout_seconds="0.4")
    deadline = SMTP_STEPS * 0.4
    assert sender.lease_seconds(1) == pytest.approx(sender.LEASE_MARGIN_SECONDS + deadline)
    order = order_without_emails()
    queue(order, "receipt", render_receipt(order))
    stop = threading.Event()

    def trickle(listener: socket.socket) -> None:
        listener.settimeout(5)
        connection, _ = listener.accept()
        with connection:
            while not stop.is_set():
                try:
                    connection.sendall(b"220-still saying hello\r\n")
                except OSError:
                    return
                time.sleep(0.2)

    with socket.create_server(("127.0.0.1", port)) as listener:
        server = threading.Thread(target=trickle, args=(listener,), daemon=True)
        server.start()
        started = time.monotonic()
        try:
            assert deliver_due() == 0
        finally:
            stop.set()
        took = time.monotonic() - started
        server.join(timeout=5)
    assert deadline <= took < deadline + 2
    row = rows()["receipt"]
    assert row.status == "queued" and row.last_error is not None
    assert "SMTP conversation was cut after 2.4 s" in row.last_error


def test_without_smtp_messages_go_to_the_sandbox_mailbox(
    sqlite_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_database(sqlite_db, tmp_path, monkeypatch)
    seed()
    order = order_without_emails()
    other = order_without_emails("bob@example.com")
    queue(order, "welcome", render_welcome("pl"), language="pl")
    queue(order, "tickets", render_tickets(order, "en", tickets_of(order), full_name="<script>x()</script>"))
    queue(other, "receipt", render_receipt(other), to="bob@example.com")

    assert deliver_due() == 3
    with read_session() as session:
        stored = session.exec(select(EmailOutbox).order_by(col(EmailOutbox.id))).all()
    assert {(r.status, r.transport) for r in stored} == {("sent", "mailbox")}
    assert PASSWORD in stored[0].body_text  # the mailbox is where a sandbox user reads it

    everything = get("/sandbox/mailbox.json").json()["messages"]
    assert [m["id"] for m in everything] == [r.id for r in reversed(stored)]  # newest first
    ada = get("/sandbox/mailbox.json", to="ADA@example.com").json()["messages"]
    assert [(m["template"], m["language"], m["status"], m["transport"]) for m in ada] == [
        ("tickets", "en", "sent", "mailbox"),
        ("welcome", "pl", "sent", "mailbox"),
    ]
    assert f"Hasło tymczasowe: {PASSWORD}" in ada[1]["text"]
    assert ada[1]["subject"] == "Twoje konto w payflow"

    page = get("/sandbox/mailbox", to="ada@example.com")
    assert page.status_code == 200
    assert "Twoje konto w payflow" in page.text and "Jazz Night" in page.text
    assert other.number not in page.text  # bob's receipt is filtered out
    assert page.text.count("data:image/png;base64,") == 2  # the QR codes, inside the iframe
    assert "cid:" not in page.text
    assert "<script>x()" not in page.text


async def test_a_committed_queue_wakes_the_running_sender(
    sqlite_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_database(sqlite_db, tmp_path, monkeypatch, email_poll_seconds="60")
    await asyncio.to_thread(seed)
    order = await asyncio.to_thread(order_without_emails)
    sender = asyncio.create_task(run_email_sender())
    try:
        await asyncio.sleep(0.3)  # the first pass has found nothing; the next poll is a minute away
        await asyncio.to_thread(queue, order, "receipt", render_receipt(order))

        def sent() -> bool:
            return rows()["receipt"].status == "sent"

        await asyncio.to_thread(wait_until, sent, 5.0, "the woken sender to deliver")
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender

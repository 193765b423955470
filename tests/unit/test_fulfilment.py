import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import select

from payflow_app.core import notify
from payflow_app.core.db import read_session
from payflow_app.models import EmailOutbox, Membership, Order, Payment, Ticket, User, pk
from payflow_app.providers.base import PaymentTruth, ProviderStatus
from payflow_app.seed import seed
from payflow_app.services.accounts import customers, memberships
from payflow_app.services.payments.fulfilment import Outcome, fulfil_payment
from payflow_app.services.tickets.tokens import verify_ticket_token
from tests import factories


def _state(order_id: int) -> tuple[Order, Payment, list[Ticket], list[EmailOutbox]]:
    with read_session() as session:
        order = session.get(Order, order_id)
        payment = session.exec(select(Payment).where(Payment.order_id == order_id)).one()
        tickets = list(session.exec(select(Ticket).where(Ticket.order_id == order_id)).all())
        emails = list(session.exec(select(EmailOutbox).where(EmailOutbox.order_id == order_id)).all())
    assert order is not None
    return order, payment, tickets, emails


def test_fulfil_issues_one_signed_ticket_per_seat(seeded: str) -> None:
    order = factories.order(quantity=2)
    payment = factories.pending_payment(order)
    assert fulfil_payment(payment_id=payment.id, truth=factories.paid_truth(payment)) is Outcome.FULFILLED
    db_order, db_payment, tickets, emails = _state(order.id)
    assert (db_order.status, db_payment.status) == ("fulfilled", "succeeded")
    assert sorted(t.seat_index for t in tickets) == [0, 1]
    for ticket in tickets:
        assert ticket.number.startswith("TKT-")
        claims = verify_ticket_token(ticket.qr_token)
        assert (claims.ticket_number, claims.event_id) == (ticket.number, order.event_id)
    # The new account's welcome email comes with the paid order, beside its two.
    assert sorted(e.template for e in emails) == ["receipt", "tickets", "welcome"]
    assert {e.recipient for e in emails} == {"ada@example.com"}
    tickets_email = next(e for e in emails if e.template == "tickets")
    assert all(t.number in tickets_email.body_text for t in tickets)


def test_fulfil_twice_changes_nothing_the_second_time(seeded: str) -> None:
    order = factories.order(quantity=3)
    payment = factories.pending_payment(order)
    fulfil_payment(payment_id=payment.id, truth=factories.paid_truth(payment))
    first = _state(order.id)
    assert fulfil_payment(payment_id=payment.id, truth=factories.paid_truth(payment)) is Outcome.FULFILLED
    second = _state(order.id)
    assert [t.number for t in second[2]] == [t.number for t in first[2]]
    assert [e.id for e in second[3]] == [e.id for e in first[3]]
    assert second[0].paid_at == first[0].paid_at


def test_concurrent_fulfilments_make_exactly_one_set(any_db: str) -> None:
    seed()
    order = factories.order(quantity=4)
    payment = factories.pending_payment(order)
    truth = factories.paid_truth(payment)
    start = threading.Barrier(8)

    def fulfil(_: int) -> Outcome:
        start.wait()
        return fulfil_payment(payment_id=payment.id, truth=truth)

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(fulfil, range(8)))
    assert outcomes == [Outcome.FULFILLED] * 8
    db_order, db_payment, tickets, emails = _state(order.id)
    assert len(tickets) == 4
    assert len({t.number for t in tickets}) == 4
    assert sorted(e.template for e in emails) == ["receipt", "tickets", "welcome"]
    assert (db_order.status, db_payment.status) == ("fulfilled", "succeeded")


def test_amount_mismatch_flags_the_payment_and_issues_nothing(seeded: str) -> None:
    order = factories.order(quantity=2)
    payment = factories.pending_payment(order)
    outcome = fulfil_payment(payment_id=payment.id, truth=factories.paid_truth(payment, amount=100))
    assert outcome is Outcome.FLAGGED
    db_order, db_payment, tickets, emails = _state(order.id)
    assert db_payment.status == "requires_review"
    assert db_payment.review_reason is not None and "1.00 zł" in db_payment.review_reason
    assert db_order.status == "awaiting_payment"
    # Nothing delivered, nothing emailed: not even the new account's welcome.
    assert tickets == [] and [e.template for e in emails] == []
    # A later, correct truth does not slip past the review.
    assert fulfil_payment(payment_id=payment.id, truth=factories.paid_truth(payment)) is Outcome.FLAGGED
    assert _state(order.id)[2] == []


def test_unpaid_truth_fulfils_nothing(seeded: str) -> None:
    order = factories.order(quantity=1)
    payment = factories.pending_payment(order)
    truth = PaymentTruth(provider_reference="cs_test_factory", status=ProviderStatus.PENDING, amount=None)
    assert fulfil_payment(payment_id=payment.id, truth=truth) is Outcome.NOT_PAID
    assert _state(order.id)[0].status == "awaiting_payment"


def test_the_committed_fulfilment_notifies_watchers(seeded: str) -> None:
    order = factories.order(quantity=1)
    payment = factories.pending_payment(order)
    seen: list[tuple[str, bool, bool]] = []

    def record(topic: str) -> None:
        if topic != f"order:{order.id}":
            return
        db_order = _state(order.id)[0]
        seen.append((db_order.status, db_order.delivered_at is not None, db_order.completed_at is not None))

    unsubscribe = notify.subscribe(record)
    try:
        fulfil_payment(payment_id=payment.id, truth=factories.paid_truth(payment))
    finally:
        unsubscribe()
    # Payment verified, order paid, tickets issued, confirmation queued: one commit,
    # and the watchers hear of it once it is visible.
    assert seen == [("fulfilled", True, True)]


def _writer_gets_in(database_url: str) -> bool:
    """Whether another connection takes SQLite's write lock at once."""
    connection = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=0.05, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:  # database is locked
        return False
    finally:
        connection.close()


def _paid_membership_order() -> tuple[Order, Payment]:
    form = memberships.MembershipForm(
        plan_code="supporter", currency="JPY", full_name="Hanako Yamada", email="hanako@example.jp"
    )
    order = memberships.place_membership_order(form=form)
    return order, factories.pending_payment(order, "charge-hanako", provider="univapay")


def _paid_guest_order() -> tuple[Order, Payment]:
    order = factories.order(quantity=1, email="new.guest@example.com")
    return order, factories.pending_payment(order)


@pytest.mark.parametrize(
    ("place", "template"), [(_paid_membership_order, "membership"), (_paid_guest_order, "welcome")]
)
def test_a_generated_password_is_hashed_while_other_writers_can_write(
    seeded: str, monkeypatch: pytest.MonkeyPatch, place: Callable[[], tuple[Order, Payment]], template: str
) -> None:
    """Fulfilment hashes a membership's credentials or a new guest's temporary
    password before its transactions, not while every other writer (on SQLite) waits
    for the write lock. The emailed password is the one that works."""
    order, payment = place()
    writers_got_in: list[bool] = []
    hash_password = customers.hash_generated_password

    def spy(password: str) -> str:
        writers_got_in.append(_writer_gets_in(seeded))
        return hash_password(password)

    monkeypatch.setattr(customers, "hash_generated_password", spy)
    assert fulfil_payment(payment_id=pk(payment), truth=factories.paid_truth(payment)) is Outcome.FULFILLED
    assert writers_got_in == [True]  # one password, hashed outside the write lock
    with read_session() as session:
        email = session.exec(
            select(EmailOutbox).where(EmailOutbox.order_id == order.id, EmailOutbox.template == template)
        ).one()
        user = session.get(User, order.user_id)
        membership = session.exec(select(Membership).where(Membership.order_id == order.id)).first()
    assert user is not None
    login = membership.username if membership else user.email
    line = next(line for line in email.body_text.splitlines() if "password" in line.lower() and ":" in line)
    password = line.rsplit(":", 1)[1].strip()
    assert customers.authenticate(email=login, password=password).id == order.user_id

"""Money that arrives after payflow closed the payment or its order: accepted when
it can still be delivered, refunded through the provider when not (exactly once,
even under concurrent deliveries), held for a person when the rail cannot refund —
and out-of-order answers never move anything backwards."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlmodel import select

from payflow_app.core.db import read_session, write_transaction
from payflow_app.core.money import Money
from payflow_app.core.states import PaymentStatus
from payflow_app.models import Order, Payment, Refund, StatusChange, Ticket, TicketType
from payflow_app.providers.base import (
    PaymentError,
    PaymentTruth,
    ProviderRefundStatus,
    ProviderStatus,
    RefundResult,
)
from payflow_app.services.operations import console
from payflow_app.services.operations.console import StuckFilter
from payflow_app.services.payments import attempts, late_money
from tests import factories


@dataclass
class FakeProvider:
    """A provider whose answers the test sets; it counts what it was asked."""

    identifier: str = "stripe"
    status: ProviderStatus = ProviderStatus.SUCCEEDED
    amount: int | None = None  # None: the payment's own amount
    refundable: bool = True
    refunds: list[str] = field(default_factory=list)  # idempotency keys, one per refund made
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def fetch_payment(self, provider_reference: str) -> PaymentTruth:
        with read_session() as session:
            payment = session.exec(
                select(Payment).where(Payment.provider_reference == provider_reference)
            ).one()
        amount = payment.amount_minor if self.amount is None else self.amount
        return PaymentTruth(
            provider_reference, self.status, Money(amount, payment.currency), receipt_number="R1"
        )

    async def cancel_payment(self, provider_reference: str) -> PaymentTruth:
        return await self.fetch_payment(provider_reference)

    async def refund_payment(
        self, provider_reference: str, *, amount: Money, idempotency_key: str, reason: str
    ) -> RefundResult:
        if not self.refundable:
            raise PaymentError("refund_unsupported", "This rail cannot refund automatically.")
        with self.lock:  # a real provider answers the same refund for the same key
            if idempotency_key not in self.refunds:
                self.refunds.append(idempotency_key)
        return RefundResult(f"re_{self.refunds.index(idempotency_key)}", ProviderRefundStatus.SUCCEEDED)

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> Any:
        raise NotImplementedError

    def refine_truth(self, truth: PaymentTruth, payload: Mapping[str, Any]) -> PaymentTruth:
        return truth


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    fake = FakeProvider()
    monkeypatch.setattr(attempts, "get_provider", lambda _id: fake)
    monkeypatch.setattr(late_money, "get_provider", lambda _id: fake)
    return fake


def _expired_order(quantity: int = 2) -> tuple[Order, Payment]:
    order = factories.order(quantity=quantity)
    payment = factories.pending_payment(order, f"cs_late_{order.id}")
    attempts.close_payment(payment_id=payment.id, status=PaymentStatus.EXPIRED)  # type: ignore[arg-type]
    return order, payment


def _read(order_id: int) -> tuple[Order, Payment, list[Ticket], Refund | None]:
    with read_session() as session:
        order = session.get(Order, order_id)
        payment = session.exec(select(Payment).where(Payment.order_id == order_id)).one()
        tickets = list(session.exec(select(Ticket).where(Ticket.order_id == order_id)).all())
        refund = session.exec(select(Refund).where(Refund.order_id == order_id)).first()
    assert order is not None
    return order, payment, tickets, refund


def _reserved(name: str = "Standard") -> int:
    return factories.ticket_type(name).reserved


def test_late_money_is_accepted_while_the_seats_are_still_there(seeded: str, provider: FakeProvider) -> None:
    before = _reserved()
    order, payment = _expired_order(quantity=2)
    assert _reserved() == before  # the expiry gave the seats back
    asyncio.run(attempts.verify_payment(payment_id=payment.id))  # type: ignore[arg-type]
    db_order, db_payment, tickets, refund = _read(order.id)  # type: ignore[arg-type]
    assert (db_order.status, db_payment.status) == ("fulfilled", "succeeded")
    assert db_payment.late_at is not None and refund is None
    assert len(tickets) == 2 and {t.status for t in tickets} == {"valid"}
    assert _reserved() == before + 2  # held again
    with read_session() as session:
        moves = session.exec(
            select(StatusChange.from_status, StatusChange.to_status).where(
                StatusChange.order_id == order.id, StatusChange.subject == "order"
            )
        ).all()
    assert ("expired", "paid") in moves and ("paid", "fulfilled") in moves
    listed = console.stuck_payments(StuckFilter.LATE_MONEY)  # the console shows it
    assert [(r.order_id, r.status, r.reason) for r in listed] == [
        (order.id, "succeeded", "late money, accepted")
    ]


def _sell_out(name: str = "Standard") -> None:
    with write_transaction() as session:
        ticket_type = session.exec(select(TicketType).where(TicketType.name == name)).one()
        ticket_type.reserved = ticket_type.capacity


def test_late_money_for_seats_sold_meanwhile_is_refunded_once(seeded: str, provider: FakeProvider) -> None:
    order, payment = _expired_order()
    _sell_out()
    # The provider's webhook, the landing page and the reconciler all arrive at once.
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda _: asyncio.run(attempts.verify_payment(payment_id=payment.id)), range(6)))  # type: ignore[arg-type]
    db_order, db_payment, tickets, refund = _read(order.id)  # type: ignore[arg-type]
    assert db_order.status == "expired"
    assert db_payment.status == "refunded" and db_payment.late_at is not None
    assert refund is not None and (refund.status, refund.amount_minor) == ("succeeded", order.amount_minor)
    assert provider.refunds == [refund.idempotency_key]  # one refund at the provider
    assert tickets == []
    assert "could not be reopened" in (db_payment.review_reason or "")
    # Asking again changes nothing: the money went back already.
    asyncio.run(attempts.verify_payment(payment_id=payment.id))  # type: ignore[arg-type]
    assert len(provider.refunds) == 1 and _read(order.id)[1].status == "refunded"  # type: ignore[arg-type]


def test_a_rail_that_cannot_refund_holds_the_payment_for_a_person(
    seeded: str, provider: FakeProvider
) -> None:
    provider.refundable = False
    order, payment = _expired_order()
    _sell_out()
    asyncio.run(attempts.verify_payment(payment_id=payment.id))  # type: ignore[arg-type]
    db_order, db_payment, tickets, refund = _read(order.id)  # type: ignore[arg-type]
    assert db_order.status == "expired" and tickets == []
    assert (db_payment.status, db_payment.review_code) == ("requires_review", "late_money")
    assert db_payment.flagged_at is not None
    assert "Refund it by hand" in (db_payment.review_reason or "")
    assert refund is not None and refund.status == "failed"
    # Seats freed later do not turn held money into a delivery behind the operator's back.
    with write_transaction() as session:
        session.exec(select(TicketType).where(TicketType.name == "Standard")).one().reserved = 0
    asyncio.run(attempts.verify_payment(payment_id=payment.id))  # type: ignore[arg-type]
    assert _read(order.id)[0].status == "expired"  # type: ignore[arg-type]


def test_a_second_payment_for_a_paid_order_goes_back(seeded: str, provider: FakeProvider) -> None:
    order = factories.order(quantity=1)
    first = factories.pending_payment(order, "cs_first")
    asyncio.run(attempts.verify_payment(payment_id=first.id))  # type: ignore[arg-type]
    with write_transaction() as session:  # a second attempt the customer also paid
        second = Payment(
            order_id=order.id,  # type: ignore[arg-type]
            provider="stripe",
            provider_reference="cs_second",
            idempotency_key="idem-second",
            amount_minor=order.amount_minor,
            currency=order.currency,
            status="pending",
        )
        session.add(second)
        session.flush()
        second_id = second.id
    asyncio.run(attempts.verify_payment(payment_id=second_id))  # type: ignore[arg-type]
    with read_session() as session:
        rows = {
            p.provider_reference: p for p in session.exec(select(Payment).where(Payment.order_id == order.id))
        }
        tickets = session.exec(select(Ticket).where(Ticket.order_id == order.id)).all()
        db_order = session.get(Order, order.id)
    assert rows["cs_first"].status == "succeeded" and rows["cs_second"].status == "refunded"
    assert "already paid by another attempt" in (rows["cs_second"].review_reason or "")
    assert db_order is not None and db_order.status == "fulfilled" and len(tickets) == 1
    assert len(provider.refunds) == 1


def test_answers_out_of_order_never_move_a_payment_backwards(seeded: str, provider: FakeProvider) -> None:
    order = factories.order(quantity=1)
    payment = factories.pending_payment(order, "cs_order")
    asyncio.run(attempts.verify_payment(payment_id=payment.id))  # type: ignore[arg-type]
    for late_status in (ProviderStatus.FAILED, ProviderStatus.EXPIRED, ProviderStatus.PENDING):
        provider.status = late_status  # e.g. an old "failed" event re-fetched after the success
        truth = PaymentTruth("cs_order", late_status, None)
        attempts.settle_payment(payment_id=payment.id, truth=truth)  # type: ignore[arg-type]
    db_order, db_payment, tickets, _refund = _read(order.id)  # type: ignore[arg-type]
    assert (db_order.status, db_payment.status, len(tickets)) == ("fulfilled", "succeeded", 1)


def test_a_wrong_amount_arriving_late_is_held_not_delivered(seeded: str, provider: FakeProvider) -> None:
    order, payment = _expired_order()
    provider.amount = 1
    asyncio.run(attempts.verify_payment(payment_id=payment.id))  # type: ignore[arg-type]
    db_order, db_payment, tickets, refund = _read(order.id)  # type: ignore[arg-type]
    assert (db_payment.status, db_payment.review_code) == ("requires_review", "amount_mismatch")
    assert db_order.status == "expired" and tickets == [] and refund is None
    assert db_payment.late_at is not None


def test_an_unreachable_provider_leaves_the_refund_to_be_sent_again(
    seeded: str, provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    order, payment = _expired_order()
    _sell_out()
    working = provider.refund_payment

    async def unreachable(*_args: Any, **_kwargs: Any) -> RefundResult:
        raise PaymentError("provider_unavailable", "Stripe could not be reached; please try again.")

    monkeypatch.setattr(provider, "refund_payment", unreachable)
    asyncio.run(attempts.verify_payment(payment_id=payment.id))  # type: ignore[arg-type]
    _order, db_payment, _tickets, refund = _read(order.id)  # type: ignore[arg-type]
    assert refund is not None and refund.status == "pending" and db_payment.status == "succeeded"
    assert late_money.due_refunds() == [payment.id]
    monkeypatch.setattr(provider, "refund_payment", working)  # the provider is back
    assert asyncio.run(late_money.send_refund(payment_id=payment.id)) == "succeeded"  # type: ignore[arg-type]
    assert _read(order.id)[1].status == "refunded" and late_money.due_refunds() == []  # type: ignore[arg-type]

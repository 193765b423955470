"""M-PESA direct checkout and the pending-payment sync, against a fake PayHero (the
real adapter is tested against the sandbox in tests/integration)."""

import asyncio
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from payflow_app.core.db import read_session, write_transaction
from payflow_app.core.errors import InvalidInput
from payflow_app.models import Order, Payment, Ticket, TicketType, utcnow
from payflow_app.providers.base import (
    NextAction,
    PaymentError,
    PaymentRequest,
    PaymentTruth,
    ProviderStatus,
    StartedPayment,
)
from payflow_app.seed import seed
from payflow_app.services.checkout.orders import CheckoutForm, place_order
from payflow_app.services.payments import attempts, mpesa, reconciler
from payflow_app.services.tickets.tokens import verify_ticket_token


@dataclass
class FakePayHero:
    identifier: str = "payhero"
    status: ProviderStatus = ProviderStatus.PENDING
    refuse: bool = False
    pushes: list[PaymentRequest] = field(default_factory=list)
    queries: int = 0

    async def start_payment(self, request: PaymentRequest) -> StartedPayment:
        if self.refuse:
            raise PaymentError("invalid_phone", "PayHero refused the phone number.")
        self.pushes.append(request)
        return StartedPayment(f"ref-{len(self.pushes)}", NextAction.AWAIT_CUSTOMER)

    async def fetch_payment(self, provider_reference: str) -> PaymentTruth:
        self.queries += 1
        return PaymentTruth(
            provider_reference, self.status, None, amount_as_requested=True, receipt_number="SAB12CD34E"
        )

    async def cancel_payment(self, provider_reference: str) -> PaymentTruth:
        return await self.fetch_payment(provider_reference)

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> Any:
        raise NotImplementedError

    def refine_truth(self, truth: PaymentTruth, payload: Mapping[str, Any]) -> PaymentTruth:
        return truth


@pytest.fixture
def payhero(monkeypatch: pytest.MonkeyPatch) -> FakePayHero:
    fake = FakePayHero()
    monkeypatch.setattr(mpesa, "get_provider", lambda _id: fake)
    monkeypatch.setattr(attempts, "get_provider", lambda _id: fake)
    return fake


def _type_id(name: str) -> int:
    with read_session() as session:
        found = session.exec(select(TicketType).where(TicketType.name == name)).one()
        assert found.id is not None
        return found.id


def _form(
    phone: str = "0712 345 678", type_name: str = "Regular", quantity: int = 2, **changes: Any
) -> CheckoutForm:
    values = {
        "full_name": "Wanjiru Kamau",
        "email": "wanjiru@example.co.ke",
        "phone": phone,
        "ticket_type_id": _type_id(type_name),
        "quantity": quantity,
    } | changes
    return CheckoutForm(**values)


def _checkout(form: CheckoutForm) -> Order:
    return asyncio.run(mpesa.direct_checkout(form=form))


def test_direct_checkout_normalises_the_phone_and_pushes_the_order_amount(
    seeded: str, payhero: FakePayHero
) -> None:
    order = _checkout(_form(phone="+254 712-345-678"))
    (push,) = payhero.pushes
    assert push.phone == "254712345678"
    assert (push.amount.amount, push.amount.currency) == (order.amount_minor, "KES") == (600000, "KES")
    with read_session() as session:
        payment = session.exec(select(Payment).where(Payment.order_id == order.id)).one()
        tickets = session.exec(select(Ticket).where(Ticket.order_id == order.id)).all()
        stored = session.get(Order, order.id)
    assert stored is not None and stored.status == "awaiting_payment"
    assert (payment.status, payment.provider_reference, payment.payer_phone) == (
        "pending",
        "ref-1",
        "254712345678",
    )
    assert payment.next_sync_at is not None  # the status query is scheduled
    assert [(t.status, t.qr_token) for t in tickets] == [("pending", ""), ("pending", "")]


@pytest.mark.parametrize(
    ("form_changes", "field"),
    [
        ({"phone": "0812 345 678"}, "phone"),
        ({"phone": "+48 600 100 200"}, "phone"),
        ({"type_name": "Standard"}, "payment_method"),  # a PLN event: M-PESA cannot pay it
        ({"email": "nope"}, "email"),
        ({"quantity": 0}, "quantity"),
    ],
)
def test_bad_direct_checkout_input_creates_nothing(
    seeded: str, payhero: FakePayHero, form_changes: dict, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        _checkout(_form(**form_changes))
    assert field in refused.value.errors
    assert payhero.pushes == []
    with read_session() as session:
        assert session.exec(select(Order)).all() == []


def test_a_refused_push_cancels_the_order_and_releases_its_seats(seeded: str, payhero: FakePayHero) -> None:
    payhero.refuse = True
    with pytest.raises(PaymentError):
        _checkout(_form(quantity=3))
    with read_session() as session:
        order = session.exec(select(Order)).one()
        ticket_type = session.get(TicketType, _type_id("Regular"))
        tickets = session.exec(select(Ticket)).all()
    assert order.status == "cancelled"
    assert ticket_type is not None and ticket_type.reserved == 0
    assert {t.status for t in tickets} == {"void"}


def test_a_second_prompt_for_an_order_or_a_phone_is_refused(seeded: str, payhero: FakePayHero) -> None:
    order = _checkout(_form())
    with pytest.raises(mpesa.PromptPending):
        asyncio.run(mpesa.push_prompt(order_id=order.id, phone="254712345678"))  # type: ignore[arg-type]
    with pytest.raises(mpesa.PromptPending):
        _checkout(_form(email="someone-else@example.com"))  # same phone, new order
    assert len(payhero.pushes) == 1


def test_concurrent_pushes_for_one_order_make_one_payment(any_db: str) -> None:
    seed()
    order = place_order(form=_form(phone="254712345678"), with_pending_tickets=True)

    def attempt(_: int) -> str:
        try:
            mpesa._create_attempt(order.id, "254712345678", "en")  # type: ignore[arg-type]
            return "created"
        except mpesa.PromptPending:
            return "refused"

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(attempt, range(6)))
    assert sorted(results) == ["created"] + ["refused"] * 5
    with read_session() as session:
        assert len(session.exec(select(Payment).where(Payment.order_id == order.id)).all()) == 1


def test_the_sync_settles_a_payment_whose_callback_never_came(seeded: str, payhero: FakePayHero) -> None:
    order = _checkout(_form())
    with write_transaction() as session:
        payment = session.exec(select(Payment).where(Payment.order_id == order.id)).one()
        payment.next_sync_at = utcnow() - timedelta(seconds=1)
    assert asyncio.run(reconciler.sync_due_payments()).synced == 1  # still queued at PayHero
    with read_session() as session:
        payment = session.exec(select(Payment).where(Payment.order_id == order.id)).one()
    assert payment.status == "pending" and payment.sync_attempts == 1
    assert payment.next_sync_at is not None and payment.next_sync_at > utcnow() + timedelta(
        seconds=30
    )  # backed off
    assert asyncio.run(reconciler.sync_due_payments()).synced == 0  # not due again yet

    payhero.status = ProviderStatus.SUCCEEDED
    with write_transaction() as session:
        row = session.exec(select(Payment).where(Payment.order_id == order.id)).one()
        row.next_sync_at = utcnow() - timedelta(seconds=1)
    assert asyncio.run(reconciler.sync_due_payments()).synced == 1
    with read_session() as session:
        paid = session.get(Order, order.id)
        payment = session.exec(select(Payment).where(Payment.order_id == order.id)).one()
        tickets = session.exec(select(Ticket).where(Ticket.order_id == order.id)).all()
    assert paid is not None and paid.status == "fulfilled"
    assert (payment.status, payment.receipt_number) == ("succeeded", "SAB12CD34E")
    assert {t.status for t in tickets} == {"valid"}
    assert all(verify_ticket_token(t.qr_token).ticket_number == t.number for t in tickets)


def test_a_late_callback_names_the_reason_a_status_query_could_not(seeded: str) -> None:
    """PayHero's status query says only "failed"; the callback that follows says the
    customer cancelled: the closed attempt keeps its status and gets the reason. A
    later bare "failed" never overwrites a reason."""
    from tests import factories

    payment = factories.pending_payment(factories.order(quantity=1), reference="ph_late", provider="payhero")
    bare = PaymentTruth(
        provider_reference="ph_late",
        status=ProviderStatus.FAILED,
        amount=None,
        failure_code="mpesa_failed",
        failure_message="M-PESA did not complete the payment.",
    )
    named = PaymentTruth(
        provider_reference="ph_late",
        status=ProviderStatus.CANCELLED,
        amount=None,
        failure_code="mpesa_1032",
        failure_message="You cancelled the M-PESA prompt.",
    )

    def stored() -> tuple[str, str | None, str]:
        with read_session() as session:
            row = session.get(Payment, payment.id)
            order = session.get(Order, payment.order_id)
            assert row is not None and order is not None
            return row.status, row.failure_code, order.status

    attempts.settle_payment(payment_id=payment.id, truth=bare)  # type: ignore[arg-type]
    assert stored() == ("failed", "mpesa_failed", "cancelled")
    attempts.settle_payment(payment_id=payment.id, truth=named)  # type: ignore[arg-type]
    assert stored() == ("failed", "mpesa_1032", "cancelled")
    attempts.settle_payment(payment_id=payment.id, truth=bare)  # type: ignore[arg-type]
    assert stored() == ("failed", "mpesa_1032", "cancelled")

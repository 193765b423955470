"""Plain functions that build domain objects through the services."""

from __future__ import annotations

from sqlmodel import select

from payflow_app.models import Order, Payment, TicketType
from payflow_app.providers.base import PaymentTruth, ProviderStatus
from payflow_app.services.checkout import CheckoutForm, place_order
from payflow_app.services.db import read_session, write_transaction
from payflow_app.services.money import Money


def ticket_type(name: str = "Standard") -> TicketType:
    with read_session() as session:
        return session.exec(select(TicketType).where(TicketType.name == name)).one()


def order(quantity: int = 2, type_name: str = "Standard", email: str = "ada@example.com") -> Order:
    form = CheckoutForm(
        full_name="Ada Lovelace",
        email=email,
        phone="+48 600 100 200",
        ticket_type_id=ticket_type(type_name).id,  # type: ignore[arg-type]
        quantity=quantity,
    )
    return place_order(form=form)


def pending_payment(
    order: Order,
    reference: str = "cs_test_factory",
    *,
    provider: str = "stripe",
    idempotency_key: str | None = None,
) -> Payment:
    """A payment as the provider has accepted it (session open, customer not yet paid)."""
    with write_transaction() as session:
        payment = Payment(
            order_id=order.id,  # type: ignore[arg-type]
            provider=provider,
            provider_reference=reference,
            idempotency_key=idempotency_key or f"idem-{reference}",
            amount_minor=order.amount_minor,
            currency=order.currency,
            status="pending",
        )
        session.add(payment)
        db_order = session.get(Order, order.id)
        assert db_order is not None
        db_order.status = "awaiting_payment"
        session.flush()
        return payment


def paid_truth(payment: Payment, amount: int | None = None) -> PaymentTruth:
    return PaymentTruth(
        provider_reference=payment.provider_reference or "",
        status=ProviderStatus.SUCCEEDED,
        amount=Money(payment.amount_minor if amount is None else amount, payment.currency),
        receipt_number="pi_test",
    )

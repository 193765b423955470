"""Plain functions that build domain objects through the services."""

from __future__ import annotations

from sqlmodel import col, select

from payflow_app.core.db import read_session, write_transaction
from payflow_app.core.money import Money
from payflow_app.models import Order, Payment, Ticket, TicketType
from payflow_app.providers.base import PaymentTruth, ProviderStatus
from payflow_app.services.checkout.orders import CheckoutForm, place_order
from payflow_app.services.payments.fulfilment import fulfil_payment


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


def paid_order(
    quantity: int = 1,
    type_name: str = "Standard",
    email: str = "ada@example.com",
    reference: str | None = None,
) -> Order:
    """An order paid through the Stripe rail and fulfilled: its tickets are valid."""
    placed = order(quantity=quantity, type_name=type_name, email=email)
    payment = pending_payment(placed, reference or f"cs_test_{placed.number}")
    fulfil_payment(payment_id=payment.id, truth=paid_truth(payment))  # type: ignore[arg-type]
    with read_session() as session:
        found = session.get(Order, placed.id)
        assert found is not None and found.status == "fulfilled"
        return found


def tickets_of(order: Order) -> list[Ticket]:
    with read_session() as session:
        return list(
            session.exec(
                select(Ticket).where(Ticket.order_id == order.id).order_by(col(Ticket.seat_index))
            ).all()
        )

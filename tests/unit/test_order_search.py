"""The operator's search: every identifier a customer or a provider gives finds the
order — order number, ticket number, email, and each provider's reference — and a
row id, which anyone can count through, finds nothing."""

from __future__ import annotations

from sqlmodel import select

from payflow_app.core.db import read_session, write_transaction
from payflow_app.models import Payment, Ticket, pk
from payflow_app.services.operations.console import MatchedBy, find_orders
from tests import factories


def _found(text: str) -> list[tuple[str, MatchedBy]]:
    return [(hit.order_number, hit.matched_by) for hit in find_orders(text)]


def test_order_and_ticket_numbers_find_their_order_typed_in_any_case(seeded: str) -> None:
    paid = factories.paid_order(quantity=2, email="grace@example.com")
    with read_session() as session:
        ticket = session.exec(select(Ticket).where(Ticket.order_id == pk(paid))).first()
    assert ticket is not None
    assert _found(paid.number) == [(paid.number, MatchedBy.ORDER_NUMBER)]
    assert _found(f"  {paid.number.lower()} ") == [(paid.number, MatchedBy.ORDER_NUMBER)]
    assert _found(paid.public_id) == [(paid.number, MatchedBy.ORDER_NUMBER)]
    assert _found(ticket.number.lower()) == [(paid.number, MatchedBy.TICKET_NUMBER)]
    [hit] = find_orders(ticket.number)
    assert (hit.email, hit.status, hit.order_id) == ("grace@example.com", "fulfilled", pk(paid))


def test_an_email_finds_every_order_of_that_customer_newest_first(seeded: str) -> None:
    first = factories.order(quantity=1, email="Linus@Example.com")
    second = factories.order(quantity=1, email="linus@example.com")
    factories.order(quantity=1, email="someone.else@example.com")
    assert _found("LINUS@example.COM") == [
        (second.number, MatchedBy.EMAIL),
        (first.number, MatchedBy.EMAIL),
    ]


def test_each_providers_reference_finds_the_order(seeded: str) -> None:
    stripe = factories.paid_order(reference="cs_test_a1B2c3")
    univapay = factories.order(quantity=1, email="u@example.com")
    factories.pending_payment(univapay, "11efa3b2-charge-0001", provider="univapay")
    payhero = factories.order(quantity=1, email="p@example.com")
    mpesa = factories.pending_payment(payhero, "PH-REF-778899", provider="payhero")
    with write_transaction() as session:
        row = session.get(Payment, pk(mpesa))
        assert row is not None
        row.receipt_number = "SGH7K2LMN4"
    assert _found("cs_test_a1B2c3") == [(stripe.number, MatchedBy.PROVIDER_REFERENCE)]
    assert _found("cs_test_A1B2C3") == []  # Stripe's ids are case sensitive
    assert _found("pi_test") == [(stripe.number, MatchedBy.PROVIDER_REFERENCE)]  # its receipt
    assert _found("11efa3b2-charge-0001") == [(univapay.number, MatchedBy.PROVIDER_REFERENCE)]
    assert _found("PH-REF-778899") == [(payhero.number, MatchedBy.PROVIDER_REFERENCE)]
    assert _found("SGH7K2LMN4") == [(payhero.number, MatchedBy.PROVIDER_REFERENCE)]


def test_a_row_id_or_a_fragment_finds_nothing(seeded: str) -> None:
    placed = factories.order(quantity=1, email="h@example.com")
    assert _found(str(pk(placed))) == []
    assert _found(placed.number[:-2]) == []  # no prefix search: a number is exact
    assert _found("example.com") == []
    assert _found("") == [] and _found("   ") == []
    assert _found("x" * 400) == []

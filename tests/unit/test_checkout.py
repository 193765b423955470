from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import func, select

from payflow_app.core.db import read_session, write_transaction
from payflow_app.core.errors import InvalidInput
from payflow_app.models import Order, TicketType, User
from payflow_app.services.checkout.orders import CheckoutForm, place_order, validate_form
from tests import factories


def _form(**changes: object) -> CheckoutForm:
    base = {
        "full_name": "Ada Lovelace",
        "email": "ada@example.com",
        "phone": "",
        "ticket_type_id": 1,
        "quantity": 1,
    }
    return CheckoutForm(**(base | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"full_name": "  "}, "full_name", "Please enter your full name."),
        ({"email": "ada@"}, "email", "valid email"),
        ({"email": "ada example.com"}, "email", "valid email"),
        ({"quantity": 0}, "quantity", "between 1 and 10"),
        ({"quantity": 11}, "quantity", "between 1 and 10"),
        ({"phone": "call me"}, "phone", "valid phone"),
    ],
)
def test_validation_names_the_field_and_what_to_do(changes: dict, field: str, message: str) -> None:
    errors = validate_form(_form(**changes))
    assert set(errors) == {field}
    assert message in errors[field]


def _counts() -> tuple[int, int]:
    with read_session() as session:
        orders = session.exec(select(func.count()).select_from(Order)).one()
        users = session.exec(select(func.count()).select_from(User)).one()
    return orders, users


def test_invalid_form_creates_nothing(seeded: str) -> None:
    before = _counts()
    with pytest.raises(InvalidInput):
        place_order(form=_form(email="nope", ticket_type_id=factories.ticket_type().id))
    assert _counts() == before


def test_order_holds_seats_and_prices_in_minor_units(seeded: str) -> None:
    vip = factories.ticket_type("VIP")
    order = factories.order(quantity=3, type_name="VIP")
    assert (order.amount_minor, order.currency, order.status) == (3 * vip.price_minor, "PLN", "pending")
    assert order.number.startswith("ORD-")
    assert factories.ticket_type("VIP").reserved == vip.reserved + 3


def test_oversell_is_refused_with_what_is_left(seeded: str) -> None:
    vip = factories.ticket_type("VIP")
    with write_transaction() as session:
        row = session.get(TicketType, vip.id)
        assert row is not None
        row.reserved = row.capacity - 2
    with pytest.raises(InvalidInput) as refused:
        factories.order(quantity=3, type_name="VIP")
    assert refused.value.errors == {"quantity": "Not enough VIP tickets: 2 left."}
    factories.order(quantity=2, type_name="VIP")
    with pytest.raises(InvalidInput) as sold_out:
        factories.order(quantity=1, type_name="VIP")
    assert sold_out.value.errors == {"quantity": "VIP is sold out."}


def test_concurrent_buyers_never_oversell(any_db: str) -> None:
    from payflow_app.seed import seed

    seed()
    vip = factories.ticket_type("VIP")
    with write_transaction() as session:
        row = session.get(TicketType, vip.id)
        assert row is not None
        row.reserved = row.capacity - 5

    def buy(i: int) -> bool:
        try:
            factories.order(quantity=1, type_name="VIP", email=f"buyer{i}@example.com")
            return True
        except InvalidInput:
            return False

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(buy, range(20)))
    assert results.count(True) == 5
    final = factories.ticket_type("VIP")
    assert final.reserved == final.capacity

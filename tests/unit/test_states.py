import pytest

from payflow_app.core.states import (
    IllegalTransition,
    OrderStatus,
    PaymentStatus,
    check_order_transition,
    check_payment_transition,
)


def test_happy_paths_are_allowed() -> None:
    assert check_order_transition("pending", OrderStatus.AWAITING_PAYMENT) is OrderStatus.AWAITING_PAYMENT
    assert check_order_transition("awaiting_payment", OrderStatus.PAID) is OrderStatus.PAID
    assert check_order_transition("paid", OrderStatus.FULFILLED) is OrderStatus.FULFILLED
    assert check_payment_transition("created", PaymentStatus.PENDING) is PaymentStatus.PENDING
    assert check_payment_transition("pending", PaymentStatus.SUCCEEDED) is PaymentStatus.SUCCEEDED


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("fulfilled", OrderStatus.PAID),  # nothing regresses
        ("cancelled", OrderStatus.AWAITING_PAYMENT),  # a closed order only reopens when paid
        ("cancelled", OrderStatus.FULFILLED),
        ("pending", OrderStatus.FULFILLED),  # no skipping payment
        ("expired", OrderStatus.AWAITING_PAYMENT),
    ],
)
def test_illegal_order_transitions_raise(current: str, target: OrderStatus) -> None:
    with pytest.raises(IllegalTransition, match=f"order cannot move from {current}"):
        check_order_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("succeeded", PaymentStatus.FAILED),
        ("refunded", PaymentStatus.SUCCEEDED),
        ("succeeded", PaymentStatus.PENDING),
        ("cancelled", PaymentStatus.PENDING),
        ("created", PaymentStatus.SUCCEEDED),
        ("expired", PaymentStatus.PENDING),
    ],
)
def test_illegal_payment_transitions_raise(current: str, target: PaymentStatus) -> None:
    with pytest.raises(IllegalTransition):
        check_payment_transition(current, target)


def test_late_money_is_the_one_way_back_from_a_closed_payment() -> None:
    # The provider charged an attempt payflow had closed: the record follows the money.
    for closed in ("failed", "cancelled", "expired"):
        assert check_payment_transition(closed, PaymentStatus.SUCCEEDED) is PaymentStatus.SUCCEEDED
    assert check_order_transition("expired", OrderStatus.PAID) is OrderStatus.PAID
    assert check_payment_transition("succeeded", PaymentStatus.REFUNDED) is PaymentStatus.REFUNDED

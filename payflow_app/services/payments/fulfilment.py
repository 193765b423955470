"""The one idempotent fulfilment, called by the webhook worker, the landing page and
(later) the reconciler — whichever comes first does the work, the others find it done.

Fulfilment is four steps for every kind of order (see ``services.payments.order_kinds``): verify the
payment, mark the order paid, deliver, complete — all in one short transaction that
locks the payment, then the order, then the customer, and lets each step first
check whether it is already done; unique constraints (one ticket per order seat, one
ledger row per payment, one email per order and template) are the backstop. One
commit instead of one per step: a burst of paid orders waits for a quarter of the
write-lock turns and fsyncs. A crash leaves the order as it was (or a state an
earlier version left half-way, which the steps finish). The committed change
notifies watchers. A password the steps may give (a membership's credentials, a
guest's welcome) is hashed before the transaction. A wallet payment runs the same
steps inside its own transaction (``settle_instantly``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum

from sqlmodel import Session

from payflow_app.core import notify
from payflow_app.core.db import lock, write_transaction
from payflow_app.core.money import Money, format_money
from payflow_app.core.states import (
    PAID_ORDER_STATUSES,
    OrderStatus,
    PaymentStatus,
    check_order_transition,
    check_payment_transition,
)
from payflow_app.models import Order, Payment, User, utcnow
from payflow_app.providers.base import PaymentTruth, ProviderStatus
from payflow_app.services.accounts import customers
from payflow_app.services.accounts.customers import NewPassword
from payflow_app.services.payments import eligibility, late_money, order_kinds

log = logging.getLogger(__name__)
# A step's last argument: a password hashed before its transaction, or None.
Step = Callable[[Session, Order, Payment, NewPassword | None], None]
CLOSED = (PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.EXPIRED)
# Held until a person decides; other reviews (no final answer yet) settle by themselves.
HELD_FOR_REVIEW = ("amount_mismatch", "late_money")


class Outcome(StrEnum):
    FULFILLED = "fulfilled"
    NOT_PAID = "not_paid"
    FLAGGED = "flagged"  # needs an operator, e.g. the amount paid differs from the order
    REFUND_DUE = "refund_due"  # late money nobody can deliver: ``late_money.send_refund``


def fulfil_payment(*, payment_id: int, truth: PaymentTruth) -> Outcome:
    # Made before the transaction, in case a step gives someone a password: no other
    # writer waits for the hash (cheap: ``accounts.hash_generated_password``). Unused
    # otherwise, or when a concurrent fulfilment has already given one.
    password = customers.new_password()
    with write_transaction() as session:
        payment = lock(session, Payment, payment_id)
        order = lock(session, Order, payment.order_id)
        # The customer next, as completing would: before any step inserts a row that
        # refers to it (PostgreSQL's foreign-key check share-locks it), so two
        # fulfilments for one customer queue here instead of deadlocking later.
        lock(session, User, order.user_id)
        order_id, user_id = payment.order_id, order.user_id
        outcome = _decide(session, order, payment, truth)
        if outcome is Outcome.FULFILLED:
            for step in STEPS:
                step(session, order, payment, password)
    if outcome is not Outcome.NOT_PAID:
        notify.order_changed(order_id, user_id=user_id)
    # The emails queued here wake the sender when the transaction commits (``queue_email``);
    # a repeat that queued none (an event for a payment already fulfilled) wakes nobody.
    return outcome


def settle_instantly(session: Session, *, order: Order, payment: Payment) -> None:
    """Run the remaining steps inside the caller's transaction (the wallet rail)."""
    for step in STEPS:
        step(session, order, payment, None)


def _decide(session: Session, order: Order, payment: Payment, truth: PaymentTruth) -> Outcome:
    """What the provider's success means for this payment and its order. The order of
    the checks is the point: a settled payment stays settled, a wrong amount is never
    delivered, and money for a closed order is delivered only if it still can be."""
    if (earlier := _earlier_answer(session, payment, truth)) is not None:
        return earlier
    if _flag_wrong_amount(payment, truth):
        return Outcome.FLAGGED
    _record_success(payment, truth)
    return _order_outcome(session, order, payment)


def _earlier_answer(session: Session, payment: Payment, truth: PaymentTruth) -> Outcome | None:
    """The outcome already decided (settled, refunded, held for a person) or not yet due
    (the provider does not say it succeeded); None when this success is news."""
    if payment.status == PaymentStatus.SUCCEEDED:
        return Outcome.REFUND_DUE if late_money.refund_pending(session, payment) else Outcome.FULFILLED
    if payment.status == PaymentStatus.REFUNDED:
        return Outcome.NOT_PAID
    if payment.status == PaymentStatus.REQUIRES_REVIEW and payment.review_code in HELD_FOR_REVIEW:
        return Outcome.FLAGGED
    if truth.status is not ProviderStatus.SUCCEEDED:
        return Outcome.NOT_PAID
    return None


def _flag_wrong_amount(payment: Payment, truth: PaymentTruth) -> bool:
    """Hold the payment for a person when the provider reports another amount."""
    expected = Money(payment.amount_minor, payment.currency)
    if truth.amount != expected and not (truth.amount is None and truth.amount_as_requested):
        paid = format_money(truth.amount.amount, truth.amount.currency) if truth.amount else "unknown"
        if payment.status in CLOSED:
            payment.status = check_payment_transition(payment.status, PaymentStatus.SUCCEEDED)
            payment.late_at = utcnow()
        flag(
            payment,
            code="amount_mismatch",
            reason=f"Amount mismatch: the provider reports {paid}, "
            f"the order expects {format_money(expected.amount, expected.currency)}.",
        )
        return True
    return False


def _record_success(payment: Payment, truth: PaymentTruth) -> None:
    late = payment.status in CLOSED
    payment.status = check_payment_transition(payment.status, PaymentStatus.SUCCEEDED)
    payment.succeeded_at = payment.updated_at = utcnow()
    payment.receipt_number = truth.receipt_number
    if payment.review_code == "no_final_answer":  # the provider's final word came after all
        payment.flagged_at = None
    if late:
        payment.late_at = utcnow()


def _order_outcome(session: Session, order: Order, payment: Payment) -> Outcome:
    """What a succeeded payment does for its order: fulfil it, or send the money back."""
    if order.status in PAID_ORDER_STATUSES or eligibility.paid_by_another(session, order, payment):
        late_money.refund_later(session, order, payment, why="the order was already paid by another attempt")
        return Outcome.REFUND_DUE
    # Judged with the customer or gallery locked: the benefit is never granted twice.
    refused = eligibility.refusal(session, order)
    if refused is not None:
        late_money.refuse(session, order, payment, refused)
        return Outcome.REFUND_DUE
    if order.status in (OrderStatus.PENDING, OrderStatus.AWAITING_PAYMENT):
        return Outcome.FULFILLED
    if order.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED) and order_kinds.reopen(
        session, order, payment
    ):
        log.warning("late money for %s accepted: payment %s", order.number, payment.id)
        payment.late_at = payment.late_at or utcnow()
        return Outcome.FULFILLED
    # Closed for good: the money goes back.
    late_money.refund_later(session, order, payment)
    return Outcome.REFUND_DUE


def flag(payment: Payment, *, code: str, reason: str) -> None:
    """Hold a payment for a person, saying why (the operator console lists it)."""
    if payment.status != PaymentStatus.REQUIRES_REVIEW:
        payment.status = check_payment_transition(payment.status, PaymentStatus.REQUIRES_REVIEW)
    payment.review_code, payment.review_reason = code, reason[:500]
    payment.flagged_at = payment.updated_at = utcnow()
    log.warning("payment %s flagged (%s): %s", payment.id, code, reason)


def _mark_order_paid(
    session: Session, order: Order, _payment: Payment, _password: NewPassword | None
) -> None:
    if order.status in (OrderStatus.PAID, OrderStatus.FULFILLED):
        return
    order.status = check_order_transition(order.status, OrderStatus.PAID)
    order.paid_at = order.updated_at = utcnow()
    order.is_provisional = False  # promoted: the provider confirmed it


def _deliver(session: Session, order: Order, payment: Payment, password: NewPassword | None) -> None:
    if order.delivered_at is not None:
        return
    order_kinds.deliver(session, order, payment, password=password)
    order.delivered_at = order.updated_at = utcnow()


def _complete(session: Session, order: Order, payment: Payment, password: NewPassword | None) -> None:
    if order.completed_at is not None:
        return
    order_kinds.complete(session, order, payment, password=password)
    order.completed_at = order.updated_at = utcnow()
    order.status = check_order_transition(order.status, OrderStatus.FULFILLED)


STEPS: tuple[Step, ...] = (_mark_order_paid, _deliver, _complete)

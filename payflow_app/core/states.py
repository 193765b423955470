"""Order and payment state machines. Only the services move a status, and only along
an allowed transition: anything else raises :class:`IllegalTransition`. Beside them,
the statuses of the rows that follow a payment: tickets, the webhook inbox, the email
outbox and refunds (their values are what the database holds)."""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING = "pending"  # placed, no payment started yet
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    FULFILLED = "fulfilled"  # tickets issued and confirmation sent
    CANCELLED = "cancelled"
    EXPIRED = "expired"


# Orders whose money is in: paid, and fulfilled after that.
PAID_ORDER_STATUSES = (OrderStatus.PAID, OrderStatus.FULFILLED)


class PaymentStatus(StrEnum):
    CREATED = "created"  # our row exists; the provider has not answered yet
    PENDING = "pending"  # the provider holds it, waiting for the customer
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REQUIRES_REVIEW = "requires_review"  # e.g. amount mismatch: never fulfilled blindly
    REFUNDED = "refunded"  # money that could not be delivered went back to the payer


ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    # PENDING → PAID: a rail that settles at once (the wallet) has nothing to await.
    OrderStatus.PENDING: frozenset(
        {OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID, OrderStatus.CANCELLED, OrderStatus.EXPIRED}
    ),
    OrderStatus.AWAITING_PAYMENT: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED, OrderStatus.EXPIRED}),
    OrderStatus.PAID: frozenset({OrderStatus.FULFILLED}),
    OrderStatus.FULFILLED: frozenset(),
    # Late money (``services.payments.late_money``): paid after it was closed, and its seats
    # could be held again — the one way back from a closed order.
    OrderStatus.CANCELLED: frozenset({OrderStatus.PAID}),
    OrderStatus.EXPIRED: frozenset({OrderStatus.PAID}),
}

PAYMENT_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.CREATED: frozenset({PaymentStatus.PENDING, PaymentStatus.FAILED}),
    PaymentStatus.PENDING: frozenset(
        {
            PaymentStatus.SUCCEEDED,
            PaymentStatus.FAILED,
            PaymentStatus.CANCELLED,
            PaymentStatus.EXPIRED,
            PaymentStatus.REQUIRES_REVIEW,
        }
    ),
    # Held for a person; the provider's final word may still settle it either way.
    PaymentStatus.REQUIRES_REVIEW: frozenset(
        {PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.EXPIRED}
    ),
    PaymentStatus.SUCCEEDED: frozenset({PaymentStatus.REFUNDED, PaymentStatus.REQUIRES_REVIEW}),
    # A closed attempt the provider nevertheless charged (late money) is a success:
    # payflow's record follows the money, then delivers or refunds it.
    PaymentStatus.FAILED: frozenset({PaymentStatus.SUCCEEDED}),
    PaymentStatus.CANCELLED: frozenset({PaymentStatus.SUCCEEDED}),
    PaymentStatus.EXPIRED: frozenset({PaymentStatus.SUCCEEDED}),
    PaymentStatus.REFUNDED: frozenset(),
}


class TicketStatus(StrEnum):
    PENDING = "pending"  # an M-PESA order's seat, no QR token until the payment succeeds
    VALID = "valid"
    VOID = "void"  # its order closed unpaid
    REVOKED = "revoked"  # by an organizer; its QR token is on the revocation list


# Tickets never issued: the customer and the counts do not see them.
UNISSUED_TICKET_STATUSES = (TicketStatus.PENDING, TicketStatus.VOID)


class InboxStatus(StrEnum):
    """A webhook event's (``webhook_event``) place in the inbox."""

    PENDING = "pending"  # stored, waiting for (or between attempts of) the worker
    PROCESSED = "processed"
    DEAD = "dead"  # its retry window passed: waits for an operator's replay
    REJECTED = "rejected"  # never verified, so never processed


class OutboxStatus(StrEnum):
    """An email's (``email_outbox``) delivery."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"  # given up after its retries


class RefundStatus(StrEnum):
    """A refund row's status (the provider's answer is ``providers.base.ProviderRefundStatus``)."""

    PENDING = "pending"  # asked for, or to be asked again; the provider has not settled it
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class IllegalTransition(Exception):
    def __init__(self, kind: str, current: str, target: str) -> None:
        super().__init__(f"{kind} cannot move from {current} to {target}")
        self.kind, self.current, self.target = kind, current, target


def check_order_transition(current: str, target: OrderStatus) -> OrderStatus:
    if target not in ORDER_TRANSITIONS[OrderStatus(current)]:
        raise IllegalTransition("order", current, target)
    return target


def check_payment_transition(current: str, target: PaymentStatus) -> PaymentStatus:
    if target not in PAYMENT_TRANSITIONS[PaymentStatus(current)]:
        raise IllegalTransition("payment", current, target)
    return target


class Kind(StrEnum):
    TICKETS = "ticket_order"
    TOP_UP = "wallet_topup"
    GALLERY = "gallery"
    PLAN = "plan_upgrade"
    MEMBERSHIP = "membership"


# The processing steps shown to the customer, per kind; the UI owns their wording.
STEPS: dict[str, tuple[str, str, str, str]] = {
    Kind.TICKETS: ("verify_payment", "process_transaction", "issue_tickets", "send_confirmation"),
    Kind.TOP_UP: ("verify_payment", "process_transaction", "credit_wallet", "update_balance"),
    Kind.GALLERY: ("verify_payment", "process_transaction", "activate_gallery", "update_status"),
    Kind.PLAN: ("verify_payment", "process_transaction", "update_plan", "update_limits"),
    Kind.MEMBERSHIP: ("verify_payment", "process_transaction", "create_membership", "send_credentials"),
}

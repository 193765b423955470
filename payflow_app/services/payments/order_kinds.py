"""What each kind of order does when it is paid, and when its payment ends unpaid.

Fulfilment (``services.payments.fulfilment``) is the same four steps for every kind: the
payment is verified, the order is marked paid, then the kind *delivers* (tickets
issued, wallet credited, gallery activated, plan changed) and *completes* (emails
queued, balance updated, gallery status updated, limits updated). Each hook runs
inside the caller's transaction with the order row locked, and is called once per
order (the caller checks ``delivered_at`` / ``completed_at``)."""

from __future__ import annotations

from sqlmodel import Session

from payflow_app.core.db import lock
from payflow_app.core.states import Kind
from payflow_app.emails.outbox import queue_email
from payflow_app.emails.templates import receipt_email
from payflow_app.i18n import t
from payflow_app.models import Event, Gallery, Order, Payment, TicketType, User, pk, utcnow
from payflow_app.services.accounts import customers, memberships, plans, wallet
from payflow_app.services.tickets import issue
from payflow_app.services.tickets.seats import hold_seats, release_seats, void_pending_tickets


def description(session: Session, order: Order, lang: str | None = None) -> str:
    """One line for the provider's payment page, the receipt and the dashboard, in
    ``lang`` (by default the customer's language); names (events, galleries, plans)
    stay as their owners wrote them."""
    if lang is None:
        customer = session.get(User, order.user_id)
        lang = customer.language if customer else "en"
    if order.kind == Kind.TICKETS:
        event = session.get(Event, order.event_id)
        ticket_type = session.get(TicketType, order.ticket_type_id)
        return t(
            lang,
            "order.describe.tickets",
            quantity=order.quantity,
            type=ticket_type.name if ticket_type else "",
            event=event.title if event else "",
        )
    if order.kind == Kind.TOP_UP:
        return t(lang, "order.describe.top_up")
    if order.kind == Kind.GALLERY:
        gallery = session.get(Gallery, order.gallery_id)
        return t(lang, "order.describe.gallery", title=gallery.title if gallery else "")
    if order.kind == Kind.MEMBERSHIP:
        member_plan = memberships.plan(order.plan_code or "")
        return t(lang, "order.describe.membership", name=member_plan.name if member_plan else order.plan_code)
    chosen = plans.plan(order.plan_code or "")
    return t(lang, "order.describe.plan", name=chosen.name if chosen else order.plan_code)


def on_attempt(session: Session, order: Order, payment: Payment) -> None:
    """A payment attempt opens: a gallery is locked to it."""
    if order.kind == Kind.GALLERY:
        lock(session, Gallery, order.gallery_id).locked_by_payment_id = payment.id


def on_closed(session: Session, order: Order) -> None:
    """The order ended unpaid (cancelled, expired, failed): give back what it held."""
    if order.kind == Kind.TICKETS:
        release_seats(session, order)
        void_pending_tickets(session, order)
    elif order.kind == Kind.GALLERY:
        gallery = lock(session, Gallery, order.gallery_id)
        holder = session.get(Payment, gallery.locked_by_payment_id) if gallery.locked_by_payment_id else None
        if holder is None or holder.order_id == order.id:  # another order's lock is not ours to free
            gallery.locked_by_payment_id = None


def reopen(session: Session, order: Order, payment: Payment) -> bool:
    """Late money for a closed order: hold again what ``on_closed`` gave back, if it
    is still there. False when it is gone (seats sold, gallery published meanwhile)."""
    if order.kind == Kind.TICKETS:
        assert order.ticket_type_id is not None
        return hold_seats(session, ticket_type_id=order.ticket_type_id, quantity=order.quantity)
    if order.kind == Kind.GALLERY:
        gallery = lock(session, Gallery, order.gallery_id)
        if gallery.status == "active" or gallery.locked_by_payment_id not in (None, payment.id):
            return False
        gallery.locked_by_payment_id = payment.id
    return True


def deliver(
    session: Session, order: Order, payment: Payment, *, password: customers.NewPassword | None = None
) -> None:
    """``password``: made by the caller before its transaction, for a membership's
    credentials; hashed here when not given."""
    if order.kind == Kind.TICKETS:
        issue.issue_tickets(session, order)
    elif order.kind == Kind.TOP_UP:
        wallet.credit_top_up(session, order=order, payment=payment)
    elif order.kind == Kind.GALLERY:
        gallery = lock(session, Gallery, order.gallery_id)
        if gallery.status != "active":
            gallery.status, gallery.published_at = "active", utcnow()
    elif order.kind == Kind.PLAN:
        user = lock(session, User, order.user_id)
        # Never a downgrade: a higher plan paid for later may have been delivered first.
        if plans.rank(order.plan_code or "") > plans.rank(user.plan_code):
            user.plan_code = order.plan_code or "free"
    elif order.kind == Kind.MEMBERSHIP:
        memberships.create_membership(session, order, password=password)


def complete(
    session: Session, order: Order, payment: Payment, *, password: customers.NewPassword | None = None
) -> None:
    """``password``: made by the caller before its transaction, for a guest's first
    paid order (its welcome); hashed here when not given."""
    user = lock(session, User, order.user_id)
    if order.kind == Kind.GALLERY:
        lock(session, Gallery, order.gallery_id).locked_by_payment_id = None
    elif order.kind == Kind.PLAN:
        chosen = plans.plan(user.plan_code)
        if chosen is not None:
            user.storage_limit_mb, user.gallery_limit = chosen.storage_limit_mb, chosen.gallery_limit
    elif order.kind == Kind.TICKETS:
        issue.queue_order_tickets_email(session, order, user)
        # A guest account gets its password now that it paid (once: the user row is locked).
        customers.welcome_new_customer(session, order=order, user=user, password=password)
    # Wallet top-ups: the credit already set the balance in step 3; completing the
    # order publishes it (the caller notifies the customer's open pages). A
    # membership's credentials email was queued with the membership in step 3.
    queue_email(
        session,
        order_id=pk(order),
        template="receipt",
        recipient=user.email,
        language=user.language,
        email=receipt_email(
            user.language,
            full_name=user.full_name,
            order_number=order.number,
            receipt_number=payment.receipt_number or payment.provider_reference or "",
            paid_at=payment.succeeded_at or utcnow(),
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            status="paid",
            description=description(session, order),
        ),
    )

"""Tables. Money columns are integer minor units with a currency column beside them."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from payflow_app.core.states import (
    InboxStatus,
    OrderStatus,
    OutboxStatus,
    PaymentStatus,
    RefundStatus,
    TicketStatus,
)


def utcnow() -> datetime:
    """Aware UTC; SQLModel stores it as UTC and returns it aware, on SQLite too."""
    return datetime.now(UTC)


def public_payment_id() -> str:
    """The id a payment shows in URLs and APIs: unguessable, unlike the row id."""
    return "pay_" + secrets.token_urlsafe(16)


def public_order_reference() -> str:
    """The reference a customer-facing order URL carries (``/payment/<reference>``):
    128 random bits, so orders cannot be listed by counting, unlike the row id."""
    return "ord_" + secrets.token_urlsafe(16)


def pk(row: SQLModel) -> int:
    """The primary key of a stored row (``id`` is only None before the first flush)."""
    value = getattr(row, "id", None)
    if not isinstance(value, int):
        raise ValueError(f"{type(row).__name__} has not been stored yet")
    return value


class User(SQLModel, table=True):
    __tablename__ = "user"
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, index=True, max_length=320)
    full_name: str = Field(max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    role: str = Field(default="customer", max_length=20)  # customer | organizer | admin
    created_at: datetime = Field(default_factory=utcnow)
    # argon2id; None for a guest account until one of its orders is paid (then a
    # temporary password is set and emailed: ``accounts.welcome_new_customer``).
    password_hash: str | None = Field(default=None, max_length=255)
    # Set for accounts created at checkout: the first login must choose a password.
    must_change_password: bool = Field(default=False)
    # Counts password changes (each also ends the account's other sessions).
    password_version: int = Field(default=0)
    language: str = Field(default="en", max_length=5)
    plan_code: str = Field(default="free", max_length=20)
    storage_limit_mb: int = Field(default=500)
    gallery_limit: int = Field(default=1)


class Event(SQLModel, table=True):
    __tablename__ = "event"
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, index=True, max_length=120)
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    venue: str = Field(max_length=200)
    starts_at: datetime
    currency: str = Field(max_length=3)
    organizer_id: int = Field(foreign_key="user.id", index=True)
    # An uploaded picture, stored in the data directory (``services.organizer.images``).
    image_name: str | None = Field(default=None, max_length=80)
    updated_at: datetime = Field(default_factory=utcnow)


class TicketType(SQLModel, table=True):
    __tablename__ = "ticket_type"
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    name: str = Field(max_length=120)
    price_minor: int
    capacity: int
    # Seats held by orders that are awaiting payment or paid; released on cancel/expiry.
    reserved: int = Field(default=0)
    # The sale window; None is open-ended on that side.
    sales_start_at: datetime | None = None
    sales_end_at: datetime | None = None


class Order(SQLModel, table=True):
    """What a customer buys: tickets, a wallet top-up, a gallery publication or a plan
    upgrade or a membership (``kind``); the columns of the other kinds stay empty."""

    __tablename__ = "order"
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, index=True, max_length=40)
    # ``orderId`` in customer-facing URLs and APIs: whoever holds it may follow the order.
    public_id: str = Field(default_factory=public_order_reference, unique=True, max_length=40)
    kind: str = Field(default="ticket_order", max_length=30)
    user_id: int = Field(foreign_key="user.id", index=True)
    event_id: int | None = Field(default=None, foreign_key="event.id", index=True)
    ticket_type_id: int | None = Field(default=None, foreign_key="ticket_type.id")
    gallery_id: int | None = Field(default=None, foreign_key="gallery.id", index=True)
    plan_code: str | None = Field(default=None, max_length=20)
    quantity: int = Field(default=1)
    unit_price_minor: int
    amount_minor: int
    currency: str = Field(max_length=3)
    status: str = Field(default=OrderStatus.PENDING, max_length=30, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    paid_at: datetime | None = None
    # Step 3 of fulfilment: tickets issued, wallet credited, gallery activated, plan changed.
    delivered_at: datetime | None = None
    # Step 4: confirmation queued, balance updated, gallery status updated, limits updated.
    completed_at: datetime | None = None
    # The customer is back from the provider but no provider has confirmed the payment
    # yet: the order is shown as processing until a webhook, a landing verification or
    # the reconciler promotes it (design 3, "dual-track orders").
    is_provisional: bool = Field(default=False)
    provisional_created_at: datetime | None = None


class Payment(SQLModel, table=True):
    """One row per payment attempt."""

    __tablename__ = "payment"
    __table_args__ = (UniqueConstraint("provider", "provider_reference"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="order.id", index=True)
    provider: str = Field(max_length=30)
    provider_reference: str | None = Field(default=None, max_length=255)
    idempotency_key: str = Field(unique=True, max_length=80)
    # ``paymentId`` in URLs and APIs (e.g. /payment/success?paymentId=…).
    public_id: str | None = Field(default_factory=public_payment_id, unique=True, max_length=40)
    amount_minor: int
    currency: str = Field(max_length=3)
    status: str = Field(default=PaymentStatus.CREATED, max_length=30, index=True)
    payer_phone: str | None = Field(default=None, max_length=20, index=True)  # M-PESA: 2547XXXXXXXX
    redirect_url: str | None = Field(default=None, sa_column=Column(Text))
    failure_code: str | None = Field(default=None, max_length=80)
    failure_message: str | None = Field(default=None, max_length=500)
    review_reason: str | None = Field(default=None, max_length=500)
    # Why a person is needed: amount_mismatch | no_final_answer | late_money | manual.
    review_code: str | None = Field(default=None, max_length=40)
    flagged_at: datetime | None = Field(default=None, index=True)  # a person is needed since
    receipt_number: str | None = Field(default=None, max_length=255)  # the provider's
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    succeeded_at: datetime | None = None
    expires_at: datetime | None = None  # the provider closes it then (a Checkout Session's lifetime)
    # Money that arrived after payflow had closed the payment or its order (late money).
    late_at: datetime | None = None
    # Asking the provider about a payment still pending (no or late webhook).
    sync_attempts: int = Field(default=0)
    last_sync_attempt_at: datetime | None = None
    next_sync_at: datetime | None = Field(default=None, index=True)
    sync_locked_until: datetime | None = None


class Ticket(SQLModel, table=True):
    __tablename__ = "ticket"
    # One ticket per seat of an order: a second fulfilment cannot add a second set.
    __table_args__ = (UniqueConstraint("order_id", "seat_index"),)
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, index=True, max_length=40)
    order_id: int = Field(foreign_key="order.id", index=True)
    ticket_type_id: int = Field(foreign_key="ticket_type.id")
    seat_index: int
    # Empty while the ticket is ``pending`` (an M-PESA order awaiting its payment).
    qr_token: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default=TicketStatus.VALID, max_length=20)
    issued_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    revoke_reason: str | None = Field(default=None, max_length=300)


class RevokedToken(SQLModel, table=True):
    """The revocation list: QR tokens that no longer admit anyone — a revoked ticket's
    and a reissued ticket's old one. Scanners working offline download it."""

    __tablename__ = "revoked_token"
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    nonce: str = Field(unique=True, max_length=40)  # the token's ``nonce`` claim
    # The ticket's number when the token was revoked: a reissued ticket gets a new one,
    # and the old number typed at a gate is refused as revoked too.
    ticket_number: str = Field(max_length=40, index=True)
    reason: str = Field(max_length=20)  # revoked | reissued
    revoked_at: datetime = Field(default_factory=utcnow)


class CheckInDevice(SQLModel, table=True):
    """A scanning device an organizer let in for one event. Only the token's SHA-256
    is stored; the token itself is shown once, when it is issued."""

    __tablename__ = "check_in_device"
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    name: str = Field(max_length=80)  # the gate it stands at
    token_hash: str = Field(unique=True, max_length=64)
    issued_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime | None = None
    revoked_at: datetime | None = None


class CheckIn(SQLModel, table=True):
    """A ticket let in. ``ticket_id`` is unique: a ticket is redeemed at most once,
    whichever gate, device or race gets there first."""

    __tablename__ = "check_in"
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", unique=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    gate: str = Field(max_length=80)
    operator: str = Field(max_length=200)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    device_id: int | None = Field(default=None, foreign_key="check_in_device.id")
    scanned_at: datetime = Field(default_factory=utcnow, index=True)  # when the gate scanned it
    recorded_at: datetime = Field(default_factory=utcnow)  # when the server learnt it


class CheckInScan(SQLModel, table=True):
    """Every scan and its answer, granted or not. A device's offline upload names each
    scan by a nonce: (device, nonce) is unique, so an upload sent twice counts once."""

    __tablename__ = "check_in_scan"
    __table_args__ = (UniqueConstraint("device_id", "nonce"),)
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    device_id: int | None = Field(default=None, foreign_key="check_in_device.id")
    nonce: str | None = Field(default=None, max_length=80)
    ticket_number: str | None = Field(default=None, max_length=40)
    reason: str = Field(max_length=30)  # valid | already_redeemed | revoked | unpaid | …
    gate: str = Field(max_length=80)
    operator: str = Field(max_length=200)
    scanned_at: datetime = Field(default_factory=utcnow)
    recorded_at: datetime = Field(default_factory=utcnow)


class WebhookEvent(SQLModel, table=True):
    """The inbox: every webhook request, stored before it is trusted or processed."""

    __tablename__ = "webhook_event"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)
    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=30)
    event_id: str | None = Field(default=None, max_length=255)  # None for rejected requests
    event_type: str | None = Field(default=None, max_length=100)
    provider_reference: str | None = Field(default=None, max_length=255, index=True)
    status: str = Field(default=InboxStatus.PENDING, max_length=20, index=True)
    rejection_reason: str | None = Field(default=None, max_length=500)
    headers: str = Field(sa_column=Column(Text, nullable=False))  # JSON
    raw_body: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(default_factory=utcnow)
    processed_at: datetime | None = None
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    locked_until: datetime | None = None  # a worker's lease while it processes the row
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    # An operator sent it back to the worker: its retry window starts again from here.
    replayed_at: datetime | None = None
    # A refused request keeps only the start of its body: these say what it was whole
    # (no hash when it was too large to read), and the client address it came from.
    body_size: int | None = None
    body_sha256: str | None = Field(default=None, max_length=64)
    source: str | None = Field(default=None, max_length=100)


class RejectionTally(SQLModel, table=True):
    """Refused webhook requests per client address and time window: how many were
    stored, and how many beyond the cap (``rejections_per_source``) were only counted."""

    __tablename__ = "rejection_tally"
    __table_args__ = (UniqueConstraint("source", "window_start"),)
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=100)
    window_start: datetime
    stored: int = Field(default=0)
    dropped: int = Field(default=0)


class ProcessingAttempt(SQLModel, table=True):
    """One attempt to process a stored webhook (``kind`` webhook) or to ask a provider
    about a payment (``kind`` sync), with its error and traceback when it failed."""

    __tablename__ = "processing_attempt"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20, index=True)  # webhook | sync
    trigger: str = Field(max_length=20)  # worker | replay | reconciler | operator
    webhook_event_id: int | None = Field(default=None, foreign_key="webhook_event.id", index=True)
    payment_id: int | None = Field(default=None, foreign_key="payment.id", index=True)
    provider: str = Field(max_length=30)
    started_at: datetime = Field(default_factory=utcnow, index=True)
    duration_ms: int = Field(default=0)
    outcome: str = Field(max_length=20)  # ok | error
    detail: str | None = Field(default=None, max_length=300)  # e.g. the provider's status
    error: str | None = Field(default=None, sa_column=Column(Text))  # the traceback


class StatusChange(SQLModel, table=True):
    """Every status an order or a payment took, written in the transaction that moved
    it (``core.audit``): the operator's timeline and the metrics read it."""

    __tablename__ = "status_change"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="order.id", index=True)
    payment_id: int | None = Field(default=None, foreign_key="payment.id")
    subject: str = Field(max_length=10)  # order | payment
    from_status: str | None = Field(default=None, max_length=30)
    to_status: str = Field(max_length=30)
    at: datetime = Field(default_factory=utcnow, index=True)


class Refund(SQLModel, table=True):
    """Money sent back through the provider (late money nobody can deliver). One per
    payment; its idempotency key makes a retried call find the same refund."""

    __tablename__ = "refund"
    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = Field(foreign_key="payment.id", unique=True)
    order_id: int = Field(foreign_key="order.id", index=True)
    provider: str = Field(max_length=30)
    provider_reference: str | None = Field(default=None, max_length=255)
    idempotency_key: str = Field(unique=True, max_length=80)
    amount_minor: int
    currency: str = Field(max_length=3)
    reason: str = Field(max_length=300)
    status: str = Field(default=RefundStatus.PENDING, max_length=20)
    failure_message: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class JobLease(SQLModel, table=True):
    """A singleton job's lease (the reconciler): one holder at a time across workers."""

    __tablename__ = "job_lease"
    name: str = Field(primary_key=True, max_length=50)
    holder: str = Field(max_length=80)
    locked_until: datetime


class UserSession(SQLModel, table=True):
    """A signed-in browser (``services.accounts.sessions``): only the SHA-256 of the cookie's
    random token is stored. Ends when revoked, idle too long, or at ``expires_at``."""

    __tablename__ = "user_session"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None


class LoginGrant(SQLModel, table=True):
    """A one-time, short-lived permission to start a session, given by the login page
    after the password was checked; redeemed by ``/session/grant`` (stored hashed)."""

    __tablename__ = "login_grant"
    id: int | None = Field(default=None, primary_key=True)
    grant_hash: str = Field(unique=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True)
    next_path: str = Field(max_length=2000)
    expires_at: datetime
    used_at: datetime | None = None


class ThrottleCounter(SQLModel, table=True):
    """Failed logins or guest checkouts of one key (an account, an address, or both;
    ``services.accounts.throttle``). The key is stored as a SHA-256, not as an email or address."""

    __tablename__ = "throttle_counter"
    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(unique=True, max_length=64)
    scope: str = Field(max_length=30)
    count: int = Field(default=0)
    window_started_at: datetime = Field(default_factory=utcnow)
    last_at: datetime | None = None
    locked_until: datetime | None = None
    last_success_at: datetime | None = None


class EmailOutbox(SQLModel, table=True):
    """One row per (order, template): a retry or a race can never queue one twice.
    The message is rendered when queued (in the customer's language); the sender
    delivers it later, by SMTP or into the built-in mailbox."""

    __tablename__ = "email_outbox"
    __table_args__ = (UniqueConstraint("order_id", "template"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="order.id", index=True)
    template: str = Field(max_length=50)  # welcome | tickets | receipt
    language: str = Field(default="en", max_length=5)
    recipient: str = Field(max_length=320)
    subject: str = Field(max_length=300)
    body_text: str = Field(sa_column=Column(Text, nullable=False))
    body_html: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # JSON list of {"cid": ..., "qr_token": ...}: QR images sent as inline parts.
    inline_images: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    status: str = Field(default=OutboxStatus.QUEUED, max_length=20, index=True)
    transport: str | None = Field(default=None, max_length=20)  # smtp | mailbox
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    locked_until: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class Wallet(SQLModel, table=True):
    """A customer's balance in one currency. The ledger is the truth; ``balance_minor``
    is its running sum, updated in the same transaction as every movement, and the
    wallet row is the lock that serialises movements."""

    __tablename__ = "wallet"
    __table_args__ = (UniqueConstraint("user_id", "currency"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    currency: str = Field(max_length=3)
    balance_minor: int = Field(default=0)
    updated_at: datetime = Field(default_factory=utcnow)


class LedgerEntry(SQLModel, table=True):
    """Append-only: one row per wallet movement, pointing at the payment that caused
    it. ``payment_id`` is unique, so a payment can move money at most once."""

    __tablename__ = "ledger_entry"
    id: int | None = Field(default=None, primary_key=True)
    wallet_id: int = Field(foreign_key="wallet.id", index=True)
    entry_type: str = Field(max_length=20)  # top_up | purchase
    amount_minor: int  # signed: credits > 0, debits < 0
    currency: str = Field(max_length=3)
    balance_after_minor: int
    payment_id: int = Field(foreign_key="payment.id", unique=True)
    order_id: int = Field(foreign_key="order.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)


class Gallery(SQLModel, table=True):
    """A customer's photo gallery; publishing it is a paid order. While a payment for
    it is open, ``locked_by_payment_id`` holds that payment: no second one starts."""

    __tablename__ = "gallery"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    title: str = Field(max_length=120)
    status: str = Field(default="draft", max_length=20)  # draft | active
    # No foreign key: payment → order → gallery already points the other way.
    locked_by_payment_id: int | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = None


class Membership(SQLModel, table=True):
    """A paid membership and its credentials: a username and a generated password,
    stored hashed. ``password_reveal`` keeps the password encrypted for a short while
    so the success page can show it once the (possibly asynchronous) payment is done;
    it is erased when ``reveal_until`` passes."""

    __tablename__ = "membership"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    order_id: int = Field(foreign_key="order.id", unique=True)
    plan_code: str = Field(max_length=20)
    username: str = Field(unique=True, index=True, max_length=60)
    password_hash: str = Field(max_length=255)
    password_reveal: str | None = Field(default=None, sa_column=Column(Text))
    reveal_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    valid_until: datetime


class SandboxObject(SQLModel, table=True):
    """Objects the offline provider imitations keep (e.g. Stripe Checkout Sessions)."""

    __tablename__ = "sandbox_object"
    id: str = Field(primary_key=True, max_length=255)
    provider: str = Field(max_length=30)
    kind: str = Field(max_length=50)
    data: str = Field(sa_column=Column(Text, nullable=False))  # JSON, the provider's wire shape
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = Field(default=None, index=True)

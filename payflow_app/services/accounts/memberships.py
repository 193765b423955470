"""Memberships, paid by card through UnivaPay (3-D Secure when the issuer asks).

A membership order is placed by a guest or a signed-in customer; when its payment
succeeds, fulfilment creates the membership with its credentials: a username and a
generated password, stored hashed (argon2id). The password is shown on the success
page and emailed. Because the payment may succeed in a webhook long after the
customer's request, the success page cannot get the password from that request: it
is kept encrypted (Fernet, key derived from the session secret) until
``reveal_until`` and erased afterwards by :func:`erase_expired_reveals`."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import update
from sqlmodel import Session, col, select

from payflow_app.core import numbers
from payflow_app.core.db import read_session, write_transaction
from payflow_app.core.errors import InvalidInput
from payflow_app.core.money import Money
from payflow_app.core.states import OrderStatus
from payflow_app.emails.outbox import queue_email
from payflow_app.emails.templates import membership_email
from payflow_app.i18n import t
from payflow_app.models import Membership, Order, Payment, User, pk, utcnow
from payflow_app.services.accounts import customers, throttle
from payflow_app.services.accounts.customers import customer_errors
from payflow_app.settings import get_settings

REVEAL_FOR = timedelta(minutes=30)
KIND = "membership"


@dataclass(frozen=True)
class MembershipPlan:
    code: str
    name: str
    months: int
    prices: dict[str, int]  # currency → minor units (JPY has none: 3000 is ¥3,000)


PLANS: tuple[MembershipPlan, ...] = (
    MembershipPlan("supporter", "Supporter", 12, {"JPY": 3000, "USD": 2000}),
    MembershipPlan("patron", "Patron", 12, {"JPY": 12000, "USD": 8000}),
)
CURRENCIES = ("JPY", "USD")


def plan(code: str) -> MembershipPlan | None:
    return next((p for p in PLANS if p.code == code), None)


@dataclass(frozen=True)
class MembershipForm:
    plan_code: str
    currency: str
    full_name: str
    email: str
    language: str = "en"
    user_id: int | None = None  # the signed-in customer, if any
    client_address: str | None = None  # a guest's, counted by ``services.accounts.throttle``


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str | None  # None once the reveal window is over
    plan_name: str
    valid_until: datetime


def validate(form: MembershipForm) -> dict[str, str]:
    lang = form.language
    errors = customer_errors(full_name=form.full_name, email=form.email, lang=lang)
    chosen = plan(form.plan_code)
    if chosen is None:
        errors["plan_code"] = t(lang, "membership.error.plan")
    elif form.currency not in chosen.prices:
        errors["currency"] = t(lang, "membership.error.currency")
    return errors


def place_membership_order(*, form: MembershipForm) -> Order:
    """A pending membership order for the customer (a new email gets an account;
    its credentials come with the membership, so no separate welcome email)."""
    errors = validate(form)
    if errors:
        raise InvalidInput(errors)
    chosen = plan(form.plan_code)
    assert chosen is not None
    price = Money(chosen.prices[form.currency], form.currency)
    with write_transaction() as session:
        if form.user_id is None and form.client_address is not None:
            throttle.count_guest_checkout(session, email=form.email, address=form.client_address)
        if form.user_id is not None:
            user = session.get(User, form.user_id)
            if user is None:
                raise InvalidInput({"email": t(form.language, "checkout.error.email")})
        else:
            user = customers.customer_for_checkout(
                session, email=form.email, full_name=form.full_name, phone=None, language=form.language
            )
        order = Order(
            number=numbers.order_number(),
            kind=KIND,
            user_id=pk(user),
            plan_code=chosen.code,
            quantity=1,
            unit_price_minor=price.amount,
            amount_minor=price.amount,
            currency=price.currency,
            status=OrderStatus.PENDING,
        )
        session.add(order)
        session.flush()
        return order


def create_membership(
    session: Session, order: Order, *, password: customers.NewPassword | None = None
) -> None:
    """Fulfilment's delivery step: the membership, its credentials, their email.
    The caller hashes ``password`` before its transaction (``accounts.new_password``);
    without one it is hashed here, inside the transaction."""
    chosen = plan(order.plan_code or "")
    assert chosen is not None, f"order {order.id} names no membership plan"
    user = session.get(User, order.user_id)
    assert user is not None
    password = password or customers.new_password()
    now = utcnow()
    membership = Membership(
        user_id=order.user_id,
        order_id=pk(order),
        plan_code=chosen.code,
        username=_free_username(session, user.full_name),
        password_hash=password.hashed,
        password_reveal=_fernet().encrypt(password.plain.encode()).decode(),
        reveal_until=now + REVEAL_FOR,
        valid_until=now + timedelta(days=round(chosen.months * 30.44)),
    )
    session.add(membership)
    session.flush()
    queue_email(
        session,
        order_id=pk(order),
        template="membership",
        recipient=user.email,
        language=user.language,
        email=membership_email(
            user.language,
            full_name=user.full_name,
            plan_name=chosen.name,
            username=membership.username,
            password=password.plain,
            valid_until=membership.valid_until,
            login_url=f"{get_settings().public_url}/login",
        ),
    )


def credentials_for_payment(public_id: str) -> Credentials | None:
    """The credentials of the membership a payment bought (the password only while
    the reveal window is open); None when there is no such membership (yet)."""
    with read_session() as session:
        payment = session.exec(select(Payment).where(Payment.public_id == public_id)).first()
        if payment is None:
            return None
        membership = session.exec(select(Membership).where(Membership.order_id == payment.order_id)).first()
    if membership is None:
        return None
    password = None
    if membership.password_reveal and membership.reveal_until and membership.reveal_until > utcnow():
        try:
            password = _fernet().decrypt(membership.password_reveal.encode()).decode()
        except InvalidToken:  # the session secret changed since: only the email has it now
            password = None
    chosen = plan(membership.plan_code)
    return Credentials(
        username=membership.username,
        password=password,
        plan_name=chosen.name if chosen else membership.plan_code,
        valid_until=membership.valid_until,
    )


def erase_expired_reveals() -> int:
    """Forget the encrypted passwords whose reveal window is over."""
    with write_transaction() as session:
        result = session.execute(
            update(Membership)
            .where(col(Membership.password_reveal).is_not(None), col(Membership.reveal_until) <= utcnow())
            .values(password_reveal=None)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _free_username(session: Session, full_name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", full_name).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", ".", ascii_name.lower()).strip(".")[:30] or "member"
    while True:
        candidate = f"{base}.{secrets.randbelow(9000) + 1000}"
        if session.exec(select(Membership).where(Membership.username == candidate)).first() is None:
            return candidate


def _fernet() -> Fernet:
    digest = hashlib.sha256(f"membership-reveal:{customers.session_secret()}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))

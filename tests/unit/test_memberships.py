"""Memberships: the order, the credentials created once by fulfilment, the reveal
window, and logging in with the membership's username."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlmodel import select

from payflow_app.core.db import read_session, write_transaction
from payflow_app.core.errors import InvalidInput
from payflow_app.core.money import Money
from payflow_app.models import EmailOutbox, Membership, Order, Payment, User, utcnow
from payflow_app.providers.base import PaymentTruth, ProviderStatus
from payflow_app.seed import seed
from payflow_app.services.accounts import customers, memberships
from payflow_app.services.payments import attempts, card
from payflow_app.services.payments.fulfilment import Outcome, fulfil_payment


def _form(**changes: object) -> memberships.MembershipForm:
    values: dict = {
        "plan_code": "supporter",
        "currency": "JPY",
        "full_name": "Hanako Yamada",
        "email": "hanako@example.jp",
    }
    values.update(changes)
    return memberships.MembershipForm(**values)


def _paid_membership(form: memberships.MembershipForm | None = None) -> tuple[Order, Payment]:
    order = memberships.place_membership_order(form=form or _form())
    payment = card.open_card_payment(order_id=order.id)  # type: ignore[arg-type]
    with write_transaction() as session:
        row = session.get(Payment, payment.id)
        assert row is not None
        row.provider_reference = f"charge-{payment.id}"
    return order, payment


def _truth(payment: Payment) -> PaymentTruth:
    return PaymentTruth(
        provider_reference=f"charge-{payment.id}",
        status=ProviderStatus.SUCCEEDED,
        amount=Money(payment.amount_minor, payment.currency),
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"plan_code": "gold"}, "plan_code"),
        ({"currency": "EUR"}, "currency"),
        ({"full_name": "  "}, "full_name"),
        ({"email": "not-an-email"}, "email"),
    ],
)
def test_bad_membership_input_is_refused_and_creates_nothing(seeded: str, changes: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        memberships.place_membership_order(form=_form(**changes))
    assert field in refused.value.errors
    with read_session() as session:
        assert session.exec(select(Order)).all() == []
        assert session.exec(select(User).where(User.email == "hanako@example.jp")).first() is None


def test_a_membership_is_priced_in_the_chosen_currency(seeded: str) -> None:
    yen = memberships.place_membership_order(form=_form())
    dollars = memberships.place_membership_order(form=_form(currency="USD", email="b@example.com"))
    assert (yen.amount_minor, yen.currency) == (3000, "JPY")
    assert (dollars.amount_minor, dollars.currency) == (2000, "USD")
    assert yen.status == "pending" and yen.kind == "membership"


def test_payment_creates_the_membership_with_hashed_credentials_emailed_and_shown(seeded: str) -> None:
    order, payment = _paid_membership()
    assert fulfil_payment(payment_id=payment.id, truth=_truth(payment)) is Outcome.FULFILLED
    with read_session() as session:
        membership = session.exec(select(Membership).where(Membership.order_id == order.id)).one()
        emails = session.exec(select(EmailOutbox).where(EmailOutbox.order_id == order.id)).all()
        done = session.get(Order, order.id)
    assert done is not None and done.status == "fulfilled"
    shown = memberships.credentials_for_payment(payment.public_id or "")
    assert shown is not None and shown.password is not None
    assert shown.username == membership.username and membership.username.startswith("hanako.yamada.")
    assert shown.password not in membership.password_hash  # stored hashed, never plain
    assert customers.verify_password(membership.password_hash, shown.password)
    assert sorted(e.template for e in emails) == ["membership", "receipt"]  # no separate welcome
    credentials_email = next(e for e in emails if e.template == "membership")
    assert (
        membership.username in credentials_email.body_text and shown.password in credentials_email.body_text
    )
    # The membership's credentials are a login.
    assert customers.authenticate(email=membership.username, password=shown.password).id == order.user_id


def test_the_password_is_shown_only_during_the_reveal_window(seeded: str) -> None:
    _, payment = _paid_membership()
    fulfil_payment(payment_id=payment.id, truth=_truth(payment))
    with write_transaction() as session:
        membership = session.exec(select(Membership)).one()
        membership.reveal_until = utcnow() - timedelta(seconds=1)
    shown = memberships.credentials_for_payment(payment.public_id or "")
    assert shown is not None and shown.password is None and shown.username
    assert memberships.erase_expired_reveals() == 1
    with read_session() as session:
        assert session.exec(select(Membership)).one().password_reveal is None


def test_a_failed_charge_closes_the_order_and_creates_no_membership(seeded: str) -> None:
    order, payment = _paid_membership()
    failed = PaymentTruth(
        provider_reference="x",
        status=ProviderStatus.FAILED,
        amount=None,
        failure_code="univapay_306",
        failure_message="Your card was rejected.",
    )
    attempts.settle_payment(payment_id=payment.id, truth=failed)  # type: ignore[arg-type]
    assert memberships.credentials_for_payment(payment.public_id or "") is None
    with read_session() as session:
        assert session.exec(select(Membership)).all() == []
        closed = session.get(Order, order.id)
        stored = session.get(Payment, payment.id)
    assert closed is not None and closed.status == "cancelled"
    assert stored is not None and (stored.status, stored.failure_message) == (
        "failed",
        "Your card was rejected.",
    )


def test_concurrent_fulfilments_create_one_membership(any_db: str) -> None:
    seed()
    order, payment = _paid_membership()
    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(
            pool.map(lambda _: fulfil_payment(payment_id=payment.id, truth=_truth(payment)), range(6))
        )
    assert set(outcomes) == {Outcome.FULFILLED}
    with read_session() as session:
        assert len(session.exec(select(Membership).where(Membership.order_id == order.id)).all()) == 1
        templates = [
            e.template for e in session.exec(select(EmailOutbox).where(EmailOutbox.order_id == order.id))
        ]
    assert sorted(templates) == ["membership", "receipt"]

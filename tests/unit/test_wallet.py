"""The wallet ledger, the dry run, the wallet rail and the gallery lock."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func
from sqlmodel import select

from payflow_app.core.db import read_session
from payflow_app.core.errors import DomainError
from payflow_app.core.money import Money
from payflow_app.models import Gallery, LedgerEntry, Order, Payment, User, Wallet
from payflow_app.seed import seed
from payflow_app.services.accounts import wallet
from payflow_app.services.accounts.wallet import InsufficientFunds
from payflow_app.services.payments import account_overview, purchases
from payflow_app.services.payments.fulfilment import fulfil_payment
from payflow_app.services.payments.purchases import Method
from tests import factories


def _customer_id() -> int:
    with read_session() as session:
        return session.exec(select(User.id).where(User.email == "customer@payflow.test")).one()  # type: ignore[return-value]


def _top_up(user_id: int, minor: int, reference: str) -> Payment:
    """A top-up paid by card, fulfilled as the webhook would."""
    order = purchases.place_top_up(user_id=user_id, amount=Money(minor, "PLN"))
    payment = factories.pending_payment(order, reference=reference)
    fulfil_payment(payment_id=payment.id, truth=factories.paid_truth(payment))
    return payment


def _ledger_total(user_id: int) -> tuple[int, int, int]:
    """(sum of the ledger, the wallet's running balance, number of rows)."""
    with read_session() as session:
        wallet_row = session.exec(select(Wallet).where(Wallet.user_id == user_id)).one()
        total = session.exec(
            select(func.sum(LedgerEntry.amount_minor)).where(LedgerEntry.wallet_id == wallet_row.id)
        ).one()
        rows = session.exec(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.wallet_id == wallet_row.id)
        ).one()
    return int(total or 0), wallet_row.balance_minor, int(rows)


def test_a_top_up_is_credited_once_however_often_it_is_fulfilled(any_db: str) -> None:
    seed()
    user_id = _customer_id()
    order = purchases.place_top_up(user_id=user_id, amount=Money(5000, "PLN"))
    payment = factories.pending_payment(order, reference="cs_test_topup")
    truth = factories.paid_truth(payment)
    start = threading.Barrier(6)

    def deliver(_: int) -> None:  # webhook retries and the landing page, all at once
        start.wait()
        fulfil_payment(payment_id=payment.id, truth=truth)

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(deliver, range(6)))
    fulfil_payment(payment_id=payment.id, truth=truth)
    assert _ledger_total(user_id) == (5000, 5000, 1)
    assert wallet.balance(user_id=user_id, currency="PLN") == Money(5000, "PLN")
    with read_session() as session:
        entry = session.exec(select(LedgerEntry)).one()
        db_order = session.get(Order, order.id)
    assert (entry.payment_id, entry.order_id, entry.entry_type) == (payment.id, order.id, "top_up")
    assert db_order is not None and db_order.status == "fulfilled"


def test_concurrent_spends_never_take_the_balance_below_zero(any_db: str) -> None:
    seed()
    user_id = _customer_id()
    _top_up(user_id, 50000, "cs_test_funds")  # 500.00 zł; Standard tickets cost 120.00 zł
    orders = [factories.order(quantity=1, email="customer@payflow.test") for _ in range(8)]
    start = threading.Barrier(len(orders))

    def spend(order: Order) -> str:
        start.wait()
        try:
            purchases.pay_from_wallet(order_id=order.id)  # type: ignore[arg-type]
            return "paid"
        except InsufficientFunds:
            return "refused"

    with ThreadPoolExecutor(max_workers=len(orders)) as pool:
        results = list(pool.map(spend, orders))
    assert results.count("paid") == 4 and results.count("refused") == 4
    total, running, rows = _ledger_total(user_id)
    assert (total, running, rows) == (50000 - 4 * 12000, 50000 - 4 * 12000, 5)
    with read_session() as session:
        balances = session.exec(select(LedgerEntry.balance_after_minor).order_by(LedgerEntry.id)).all()
    assert all(b >= 0 for b in balances)


def test_dry_run_picks_the_wallet_only_when_the_balance_covers_the_amount(seeded: str) -> None:
    user_id = _customer_id()
    price = Money(12000, "PLN")
    assert purchases.quote(user_id=user_id, amount=price, kind="ticket_order").method is Method.CARD
    _top_up(user_id, 12000, "cs_test_exact")
    exact = purchases.quote(user_id=user_id, amount=price, kind="ticket_order")
    assert (exact.method, exact.wallet_balance, exact.balance_after) == (
        Method.WALLET,
        price,
        Money(0, "PLN"),
    )
    # Another currency's wallet is empty; and a top-up never pays itself.
    assert (
        purchases.quote(user_id=user_id, amount=Money(100, "KES"), kind="ticket_order").method is Method.CARD
    )
    assert (
        purchases.quote(user_id=user_id, amount=Money(100, "PLN"), kind="wallet_topup").method is Method.CARD
    )
    assert purchases.quote(user_id=None, amount=price, kind="ticket_order").method is Method.CARD


def test_a_wallet_purchase_settles_everything_in_one_go_or_changes_nothing(
    seeded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id = _customer_id()
    order = factories.order(quantity=2, email="customer@payflow.test")
    with pytest.raises(InsufficientFunds):
        purchases.pay_from_wallet(order_id=order.id)  # type: ignore[arg-type]
    with read_session() as session:
        assert session.exec(select(Payment).where(Payment.order_id == order.id)).all() == []
        assert session.get(Order, order.id).status == "pending"  # type: ignore[union-attr]
    _top_up(user_id, 30000, "cs_test_more")
    # A failure in the middle (issuing tickets) undoes the debit and the payment too.
    from payflow_app.services.tickets import issue

    def broken(*_: object) -> None:
        raise RuntimeError("ticket printer on fire")

    with monkeypatch.context() as patch:
        patch.setattr(issue, "issue_tickets", broken)
        with pytest.raises(RuntimeError):
            purchases.pay_from_wallet(order_id=order.id)  # type: ignore[arg-type]
    assert wallet.balance(user_id=user_id, currency="PLN") == Money(30000, "PLN")
    with read_session() as session:
        assert session.exec(select(Payment).where(Payment.provider == "wallet")).all() == []
    payment = purchases.pay_from_wallet(order_id=order.id)  # type: ignore[arg-type]
    with read_session() as session:
        db_order = session.get(Order, order.id)
        assert db_order is not None
        assert (db_order.status, payment.status, payment.provider) == ("fulfilled", "succeeded", "wallet")
        assert payment.receipt_number is not None and payment.receipt_number.startswith("WLT-")
    assert wallet.balance(user_id=user_id, currency="PLN") == Money(30000 - 24000, "PLN")
    with pytest.raises(DomainError):  # the same order cannot be paid twice
        purchases.pay_from_wallet(order_id=order.id)  # type: ignore[arg-type]


def test_plan_upgrade_from_the_wallet_changes_plan_and_limits(seeded: str) -> None:
    user_id = _customer_id()
    _top_up(user_id, 20000, "cs_test_plan")
    order = purchases.place_plan_upgrade(user_id=user_id, plan_code="pro")
    purchases.pay_from_wallet(order_id=order.id)  # type: ignore[arg-type]
    with read_session() as session:
        user = session.get(User, user_id)
    assert user is not None and (user.plan_code, user.gallery_limit, user.storage_limit_mb) == (
        "pro",
        10,
        10_000,
    )
    with pytest.raises(DomainError) as refused:
        purchases.place_plan_upgrade(user_id=user_id, plan_code="free")
    assert refused.value.code == "plan_not_upgrade"


def test_a_gallery_is_locked_while_its_payment_is_open_and_freed_by_cancel(seeded: str) -> None:
    from payflow_app.core.states import PaymentStatus
    from payflow_app.services.payments.attempts import close_payment

    user_id = _customer_id()
    gallery = purchases.create_gallery(user_id=user_id, title="Wedding")
    order = purchases.place_gallery_publication(user_id=user_id, gallery_id=gallery.id)  # type: ignore[arg-type]
    with pytest.raises(DomainError) as locked:  # a second payment while the first is open
        purchases.place_gallery_publication(user_id=user_id, gallery_id=gallery.id)  # type: ignore[arg-type]
    assert locked.value.code == "gallery_locked"
    payment = factories.pending_payment(order, reference="cs_test_gallery")
    from payflow_app.core.db import lock, write_transaction
    from payflow_app.services.payments import order_kinds

    with write_transaction() as session:
        order_kinds.on_attempt(session, lock(session, Order, order.id), lock(session, Payment, payment.id))
    close_payment(payment_id=payment.id, status=PaymentStatus.CANCELLED)
    with read_session() as session:
        row = session.get(Gallery, gallery.id)
    assert row is not None and (row.status, row.locked_by_payment_id) == ("draft", None)
    retry = purchases.place_gallery_publication(user_id=user_id, gallery_id=gallery.id)  # type: ignore[arg-type]
    paid = factories.pending_payment(retry, reference="cs_test_gallery_2")
    fulfil_payment(payment_id=paid.id, truth=factories.paid_truth(paid))
    with read_session() as session:
        row = session.get(Gallery, gallery.id)
    assert row is not None and (row.status, row.locked_by_payment_id) == ("active", None)
    with pytest.raises(DomainError) as active:
        purchases.place_gallery_publication(user_id=user_id, gallery_id=gallery.id)  # type: ignore[arg-type]
    assert active.value.code == "gallery_active"


def test_two_first_checkouts_with_one_new_email_share_one_account(any_db: str) -> None:
    seed()
    start = threading.Barrier(6)

    def checkout(_: int) -> int:
        start.wait()
        return factories.order(quantity=1, email="new@example.com").user_id

    with ThreadPoolExecutor(max_workers=6) as pool:
        owners = set(pool.map(checkout, range(6)))
    with read_session() as session:
        users = session.exec(select(User).where(User.email == "new@example.com")).all()
    assert len(users) == 1 and owners == {users[0].id}


def test_top_up_amounts_are_parsed_to_minor_units_within_limits() -> None:
    assert purchases.top_up_amount("50", "PLN") == Money(5000, "PLN")
    assert purchases.top_up_amount("50,5", "PLN") == Money(5050, "PLN")
    assert purchases.top_up_amount(" 1234.56 ", "PLN") == Money(123456, "PLN")
    for bad in ("", "abc", "1.234", "-5", "5", "10000.01", "1e3"):
        with pytest.raises(DomainError):
            purchases.top_up_amount(bad, "PLN")
    with pytest.raises(DomainError):
        purchases.top_up_amount("50", "XYZ")
    assert purchases.top_up_amount("1 500,50", "PLN", "pl") == Money(150050, "PLN")
    assert purchases.top_up_amount("1,500.50", "PLN", "en") == Money(150050, "PLN")
    with pytest.raises(DomainError):
        purchases.top_up_amount("1,500", "PLN", "pl")  # one and a half: under the minimum


def test_the_dashboard_describes_orders_in_the_readers_language(seeded: str) -> None:
    user_id = _customer_id()
    _top_up(user_id, 5000, "cs_test_described")
    purchases.place_plan_upgrade(user_id=user_id, plan_code="pro")
    described = {line.kind: line.description for line in account_overview.orders(user_id=user_id, lang="pl")}
    assert described["wallet_topup"] == "Doładowanie portfela"
    assert described["plan_upgrade"].startswith("Zmiana planu — ")
    english = {line.kind: line.description for line in account_overview.orders(user_id=user_id, lang="en")}
    assert english["wallet_topup"] == "Wallet top-up"

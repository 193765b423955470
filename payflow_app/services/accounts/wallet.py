"""The wallet: an append-only ledger per customer and currency.

Balance is the sum of the ledger. Every movement locks the wallet row first (``FOR
UPDATE`` on PostgreSQL, the write lock on SQLite), so movements of one wallet happen
one at a time: two concurrent spends cannot both see the same balance. Each movement
points at the payment that caused it and ``ledger_entry.payment_id`` is unique, so a
top-up is credited once however many times its webhook or landing arrives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from payflow_app.core.db import read_session
from payflow_app.core.errors import DomainError
from payflow_app.core.money import Money
from payflow_app.models import LedgerEntry, Order, Payment, Wallet, pk, utcnow


class InsufficientFunds(DomainError):
    code = "insufficient_funds"


@dataclass(frozen=True)
class LedgerLine:
    created_at: datetime
    entry_type: str
    amount: Money
    balance_after: Money
    order_number: str


def locked_wallet(session: Session, *, user_id: int, currency: str) -> Wallet:
    """The customer's wallet in ``currency``, created empty if missing, locked."""
    wallet = session.exec(
        select(Wallet).where(Wallet.user_id == user_id, Wallet.currency == currency).with_for_update()
    ).first()
    if wallet is not None:
        return wallet
    try:
        with session.begin_nested():
            session.add(Wallet(user_id=user_id, currency=currency))
    except IntegrityError:  # created by a concurrent movement: fine, lock that one
        pass
    return session.exec(
        select(Wallet).where(Wallet.user_id == user_id, Wallet.currency == currency).with_for_update()
    ).one()


def _ledger_sum(session: Session, wallet_id: int) -> int:
    total = session.exec(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(LedgerEntry.wallet_id == wallet_id)
    ).one()
    return int(total)


def _append(
    session: Session, wallet: Wallet, *, entry_type: str, amount: int, payment: Payment
) -> LedgerEntry:
    balance = _ledger_sum(session, pk(wallet)) + amount
    if balance < 0:
        raise InsufficientFunds("The wallet balance does not cover this payment.")
    entry = LedgerEntry(
        wallet_id=pk(wallet),
        entry_type=entry_type,
        amount_minor=amount,
        currency=wallet.currency,
        balance_after_minor=balance,
        payment_id=pk(payment),
        order_id=payment.order_id,
    )
    session.add(entry)
    wallet.balance_minor, wallet.updated_at = balance, utcnow()
    session.flush()
    return entry


def entry_for_payment(session: Session, payment_id: int) -> LedgerEntry | None:
    return session.exec(select(LedgerEntry).where(LedgerEntry.payment_id == payment_id)).first()


def credit_top_up(session: Session, *, order: Order, payment: Payment) -> bool:
    """Credit a paid top-up once; False when this payment was credited already."""
    wallet = locked_wallet(session, user_id=order.user_id, currency=order.currency)
    if entry_for_payment(session, pk(payment)) is not None:
        return False
    _append(session, wallet, entry_type="top_up", amount=payment.amount_minor, payment=payment)
    return True


def debit_purchase(session: Session, *, user_id: int, payment: Payment) -> LedgerEntry:
    """Take a wallet payment's amount, or raise InsufficientFunds and take nothing."""
    wallet = locked_wallet(session, user_id=user_id, currency=payment.currency)
    return _append(session, wallet, entry_type="purchase", amount=-payment.amount_minor, payment=payment)


def balance(*, user_id: int, currency: str) -> Money:
    with read_session() as session:
        wallet = session.exec(
            select(Wallet).where(Wallet.user_id == user_id, Wallet.currency == currency)
        ).first()
        return Money(_ledger_sum(session, pk(wallet)) if wallet else 0, currency)


def balances(*, user_id: int) -> list[Money]:
    """Every wallet of the customer, sorted by currency."""
    with read_session() as session:
        wallets = session.exec(
            select(Wallet).where(Wallet.user_id == user_id).order_by(col(Wallet.currency))
        ).all()
        return [Money(_ledger_sum(session, pk(w)), w.currency) for w in wallets]


def ledger(*, user_id: int, limit: int = 50) -> list[LedgerLine]:
    with read_session() as session:
        rows = session.exec(
            select(LedgerEntry, Order.number)
            .join(Wallet, col(Wallet.id) == LedgerEntry.wallet_id)
            .join(Order, col(Order.id) == LedgerEntry.order_id)
            .where(Wallet.user_id == user_id)
            .order_by(col(LedgerEntry.id).desc())
            .limit(limit)
        ).all()
    return [
        LedgerLine(
            created_at=entry.created_at,
            entry_type=entry.entry_type,
            amount=Money(entry.amount_minor, entry.currency),
            balance_after=Money(entry.balance_after_minor, entry.currency),
            order_number=number,
        )
        for entry, number in rows
    ]

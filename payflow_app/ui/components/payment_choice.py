"""The dry run's answer, shown before the customer confirms a purchase: which method
pays (wallet or card) and the amounts."""

from __future__ import annotations

import reflex as rx

from payflow_app.core.errors import DomainError
from payflow_app.core.money import Money
from payflow_app.i18n import CATALOGUES, format_money, t
from payflow_app.services.accounts.throttle import TooManyAttempts
from payflow_app.services.payments.purchases import Method, Quote
from payflow_app.ui.session import tr


def quote_text(choice: Quote, lang: str) -> str:
    def money(value: Money | None) -> str:
        assert value is not None
        return format_money(value.amount, value.currency, lang)

    if choice.method is Method.WALLET:
        return t(
            lang,
            "pay.quote_wallet",
            amount=money(choice.amount),
            balance=money(choice.wallet_balance),
            after=money(choice.balance_after),
        )
    return t(lang, "pay.quote_card", amount=money(choice.amount), balance=money(choice.wallet_balance))


def wait_text(lang: str, seconds: int) -> str:
    """A throttled person is told how long to wait."""
    if seconds < 60:
        return t(lang, "throttle.one_second" if seconds == 1 else "throttle.seconds", count=seconds)
    minutes = -(-seconds // 60)
    return t(lang, "throttle.one_minute" if minutes == 1 else "throttle.minutes", count=minutes)


def error_text(lang: str, error: Exception) -> str:
    """A domain or provider error for people: the catalogue's text for its code when
    there is one, else the error's own message."""
    if isinstance(error, TooManyAttempts):
        return wait_text(lang, error.wait_seconds)
    code = getattr(error, "code", "")
    if f"error.{code}" in CATALOGUES["en"]:
        return t(lang, f"error.{code}")
    return error.message if isinstance(error, DomainError) else str(getattr(error, "message", error))


def payment_choice(
    method: rx.Var, text: rx.Var, *, confirm: rx.EventHandler, change: rx.EventHandler
) -> rx.Component:
    return rx.cond(
        method != "",
        rx.el.section(
            rx.el.h2(tr("pay.title")),
            rx.el.p(
                rx.el.strong(rx.cond(method == "wallet", tr("pay.method_wallet"), tr("pay.method_card"))),
                class_name="pay-method",
                data_method=method,
            ),
            rx.el.p(text),
            rx.el.div(
                rx.el.button(tr("pay.confirm"), type="button", on_click=confirm, class_name="button"),
                rx.el.button(tr("pay.change"), type="button", on_click=change, class_name="button secondary"),
                class_name="actions",
            ),
            class_name="card pay-choice",
            aria_live="polite",
        ),
    )

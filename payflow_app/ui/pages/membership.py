"""``/membership``: choose a membership and a currency, then pay by card (UnivaPay).

The order and its ``pending`` payment are created here; the card widget collects the
card and posts its token to ``/api/payment/checkout/charge``. ``?plan=…&currency=…``
preselects a choice (the cancel page's "Try again" link)."""

from __future__ import annotations

import asyncio
import json
import logging

import reflex as rx

from payflow_app.core.errors import DomainError, InvalidInput
from payflow_app.i18n import format_money
from payflow_app.i18n import t as t_
from payflow_app.models import pk
from payflow_app.services.accounts import memberships
from payflow_app.services.payments import card
from payflow_app.ui.components.layout import buyer_fields, form_field, notice, page, redirect_overlay
from payflow_app.ui.session import SessionState, tr

log = logging.getLogger(__name__)


class MembershipState(rx.State):
    plans: list[dict[str, str]] = []
    plan_code: str = memberships.PLANS[0].code
    currency: str = memberships.CURRENCIES[0]
    buyer: str = ""
    errors: dict[str, str] = {}
    form_error: str = ""
    redirecting: bool = False

    @rx.event
    async def load(self) -> None:
        session = await self.get_state(SessionState)
        lang, user = session.language(), await session.user()
        self.buyer = f"{user.full_name} ({user.email})" if user else ""
        self.errors, self.form_error, self.redirecting = {}, "", False
        query = self.router.url.query_parameters
        if memberships.plan(query.get("plan", "")) is not None:
            self.plan_code = query["plan"]
        if query.get("currency") in memberships.CURRENCIES:
            self.currency = query["currency"]
        self.plans = [
            {
                "code": p.code,
                "name": p.name,
                "prices": " · ".join(format_money(amount, cur, lang) for cur, amount in p.prices.items()),
            }
            for p in memberships.PLANS
        ]

    @rx.event
    def choose_plan(self, code: str) -> None:
        self.plan_code = code

    @rx.event
    def choose_currency(self, currency: str) -> None:
        self.currency = currency

    @rx.event
    async def submit(self, data: dict[str, str]):
        session = await self.get_state(SessionState)
        lang, user = session.language(), await session.user()
        form = memberships.MembershipForm(
            plan_code=self.plan_code,
            currency=self.currency,
            full_name=user.full_name if user else data.get("full_name", ""),
            email=user.email if user else data.get("email", ""),
            language=lang,
            user_id=user.id if user else None,
            client_address=self.router.session.client_ip or "unknown",
        )
        self.form_error = ""
        self.errors = memberships.validate(form)
        if self.errors:
            return
        self.redirecting = True
        yield
        try:
            order = await asyncio.to_thread(memberships.place_membership_order, form=form)
            payment = await asyncio.to_thread(card.open_card_payment, order_id=pk(order))
        except InvalidInput as exc:
            self.redirecting, self.errors = False, exc.errors
            return
        except DomainError as exc:
            self.redirecting = False
            self.form_error = t_(lang, "checkout.could_not_start", reason=exc.message)
            return
        # A full page load: the card widget is not a page of this app.
        url = f"/payment/card?paymentId={payment.public_id}"
        yield rx.call_script(f"window.location.assign({json.dumps(url)})")


def _plan_option(item: rx.Var) -> rx.Component:
    S = MembershipState
    return rx.el.label(
        rx.el.input(
            type="radio",
            name="plan_code",
            value=item["code"],
            checked=S.plan_code == item["code"],
            on_change=S.choose_plan(item["code"]),
        ),
        " ",
        rx.el.strong(item["name"]),
        " — ",
        item["prices"],
        " ",
        tr("membership.per_year"),
        class_name="radio",
    )


def membership_page() -> rx.Component:
    S = MembershipState
    return page(
        rx.el.h1(tr("membership.title")),
        rx.el.p(tr("membership.intro")),
        rx.el.form(
            rx.el.fieldset(
                rx.el.legend(tr("membership.plan")),
                rx.foreach(S.plans, _plan_option),
                class_name="field",
            ),
            form_field(
                tr("membership.currency"),
                "currency",
                rx.el.select(
                    *[rx.el.option(code, value=code) for code in memberships.CURRENCIES],
                    id="currency",
                    name="currency",
                    value=S.currency,
                    on_change=S.choose_currency,
                ),
                S.errors,
            ),
            buyer_fields(S.buyer, S.errors),
            rx.cond(S.form_error != "", notice(S.form_error, tone="error")),
            rx.el.button(tr("membership.continue"), type="submit", class_name="button"),
            on_submit=S.submit,
            reset_on_submit=False,
            no_validate=True,
            class_name="checkout-form",
        ),
        rx.cond(S.redirecting, redirect_overlay()),
    )

"""``/dashboard``: the customer's wallet (balance, top-up, ledger), orders, plan and
galleries. Every purchase here shows the dry run's choice (wallet or card) before
the customer confirms. The page listens on the status bus for the customer's own
changes, so a balance credited by a webhook appears without a reload."""

from __future__ import annotations

import asyncio
import json
import logging

import reflex as rx

from payflow_app.core import notify, urls
from payflow_app.core.errors import DomainError, InvalidInput
from payflow_app.core.money import Money
from payflow_app.core.states import Kind
from payflow_app.i18n import t
from payflow_app.live.bus import bus
from payflow_app.models import pk
from payflow_app.providers.base import PaymentError
from payflow_app.services.accounts import plans, sessions
from payflow_app.services.accounts.customers import SessionUser
from payflow_app.services.payments import purchases
from payflow_app.ui.components.layout import notice, page, redirect_overlay
from payflow_app.ui.components.payment_choice import error_text, payment_choice, quote_text
from payflow_app.ui.components.table import data_table
from payflow_app.ui.session import SessionState, require_user, tr
from payflow_app.ui.views.account import account_view

log = logging.getLogger(__name__)
TOAST_KEYS = {
    "wallet": "dashboard.toast_wallet",
    "galleries": "dashboard.toast_gallery",
    "plan": "dashboard.toast_plan",
}


class DashboardState(rx.State):
    balances: list[dict[str, str]] = []
    ledger: list[dict[str, str]] = []
    orders: list[dict[str, str]] = []
    galleries: list[dict[str, str]] = []
    plan_name: str = ""
    plan_limits: str = ""
    upgrades: list[dict[str, str]] = []
    errors: dict[str, str] = {}
    form_error: str = ""
    quote_method: str = ""
    quote_text: str = ""
    redirecting: bool = False
    _pending: dict[str, str] = {}
    _user_id: int = 0

    def _show(self, view: dict[str, object]) -> None:
        for name, value in view.items():
            setattr(self, name, value)

    async def _reload(self, user_id: int, lang: str) -> None:
        self._show(await asyncio.to_thread(account_view, user_id, lang))

    @rx.event
    async def load(self):
        self.errors, self.form_error, self.redirecting = {}, "", False
        self.quote_method, self.quote_text, self._pending = "", "", {}
        user = await require_user(self)
        if not isinstance(user, SessionUser):
            return user
        self._user_id = user.id
        lang = (await self.get_state(SessionState)).language()
        await self._reload(user.id, lang)
        outcome = self.router.url.query_parameters.get("payment", "")
        if outcome == "success":
            section = self.router.url.query_parameters.get("section", "")
            return rx.toast.success(t(lang, TOAST_KEYS.get(section, "dashboard.toast_paid")))
        if outcome == "cancelled":
            return rx.toast.info(t(lang, "dashboard.toast_cancelled"))
        return None

    @rx.event(background=True)
    async def watch(self):
        """Re-read whenever the customer's balance, orders or galleries change."""
        # The on_load chain may start this task before ``load`` has run, so it
        # identifies the customer itself, from the session cookie.
        async with self:
            session = await self.get_state(SessionState)
            token, lang = session.session_token(), session.language()
        user = await asyncio.to_thread(sessions.session_user, token)
        if user is None:
            return
        user_id = user.id
        async with bus.watch(notify.user_topic(user_id)) as changes:
            while True:
                await changes.wait()
                view = await asyncio.to_thread(account_view, user_id, lang)
                async with self:
                    self._show(view)

    async def _quote(self, kind: Kind, amount: Money, pending: dict[str, str]) -> None:
        lang = (await self.get_state(SessionState)).language()
        choice = await asyncio.to_thread(purchases.quote, user_id=self._user_id, amount=amount, kind=kind)
        self.quote_method, self.quote_text = choice.method, quote_text(choice, lang)
        self._pending = {"kind": kind, **pending}

    @rx.event
    async def top_up(self, data: dict[str, str]) -> None:
        lang = (await self.get_state(SessionState)).language()
        self.errors, self.form_error = {}, ""
        try:
            amount = purchases.top_up_amount(data.get("amount", ""), data.get("currency", "PLN"), lang)
        except InvalidInput as exc:
            self.errors = {field: t(lang, key) for field, key in exc.errors.items()}
            return
        await self._quote(Kind.TOP_UP, amount, {"amount": str(amount.amount), "currency": amount.currency})

    @rx.event
    async def upgrade(self, plan_code: str) -> None:
        chosen = plans.plan(plan_code)
        if chosen is not None:
            await self._quote(Kind.PLAN, chosen.price, {"plan_code": plan_code})

    @rx.event
    async def publish(self, gallery_id: str) -> None:
        await self._quote(Kind.GALLERY, plans.GALLERY_PUBLICATION_PRICE, {"gallery_id": gallery_id})

    @rx.event
    async def create_gallery(self, data: dict[str, str]) -> None:
        lang = (await self.get_state(SessionState)).language()
        self.errors, self.form_error = {}, ""
        try:
            await asyncio.to_thread(
                purchases.create_gallery, user_id=self._user_id, title=data.get("title", "")
            )
        except InvalidInput as exc:
            self.errors = {field: t(lang, key) for field, key in exc.errors.items()}
            return
        except DomainError as exc:
            self.form_error = error_text(lang, exc)
            return
        await self._reload(self._user_id, lang)

    @rx.event
    def change(self) -> None:
        self.quote_method, self.quote_text, self._pending = "", "", {}

    @rx.event
    async def confirm(self):
        lang = (await self.get_state(SessionState)).language()
        pending, method = self._pending, purchases.Method(self.quote_method or "card")
        if not pending:
            return
        self.redirecting = True
        yield
        try:
            order = await asyncio.to_thread(_place, self._user_id, pending)
            started = await purchases.pay(order_id=pk(order), method=method)
        except (DomainError, PaymentError) as exc:
            self.redirecting, self.quote_method, self._pending = False, "", {}
            self.form_error = error_text(lang, exc)
            await self._reload(self._user_id, lang)
            return
        except Exception:
            log.exception("dashboard purchase failed")
            self.redirecting, self.quote_method, self._pending = False, "", {}
            self.form_error = t(lang, "checkout.failed")
            return
        self.quote_method, self._pending = "", {}
        if started.redirect_url is None:  # settled from the wallet
            self.redirecting = False
            await self._reload(self._user_id, lang)
            yield rx.toast.success(t(lang, TOAST_KEYS.get(_section(pending["kind"]), "dashboard.toast_paid")))
            return
        yield rx.call_script(f"window.location.assign({json.dumps(started.redirect_url)})")


def _section(kind: str) -> str:
    return {Kind.TOP_UP: "wallet", Kind.GALLERY: "galleries", Kind.PLAN: "plan"}.get(Kind(kind), "")


def _place(user_id: int, pending: dict[str, str]):
    kind = Kind(pending["kind"])
    if kind is Kind.TOP_UP:
        return purchases.place_top_up(
            user_id=user_id, amount=Money(int(pending["amount"]), pending["currency"])
        )
    if kind is Kind.PLAN:
        return purchases.place_plan_upgrade(user_id=user_id, plan_code=pending["plan_code"])
    return purchases.place_gallery_publication(user_id=user_id, gallery_id=int(pending["gallery_id"]))


def _wallet_section() -> rx.Component:
    S = DashboardState
    return rx.el.section(
        rx.el.h2(tr("dashboard.wallet")),
        rx.el.div(
            rx.foreach(
                S.balances,
                lambda b: rx.el.p(
                    rx.el.span(tr("dashboard.balance"), " "),
                    rx.el.strong(b["amount"], class_name="balance", data_currency=b["currency"]),
                ),
            ),
            id="wallet-balance",
            aria_live="polite",
        ),
        rx.el.form(
            rx.el.div(
                rx.el.label(tr("dashboard.topup_amount"), html_for="amount"),
                rx.el.input(
                    id="amount",
                    name="amount",
                    input_mode="decimal",
                    placeholder=tr("dashboard.topup_example"),
                ),
                rx.cond(S.errors.contains("amount"), rx.el.p(S.errors["amount"], class_name="field-error")),
                class_name="field",
            ),
            rx.el.div(
                rx.el.label(tr("dashboard.topup_currency"), html_for="currency"),
                rx.el.select(
                    *[rx.el.option(code, value=code) for code in plans.TOP_UP_LIMITS],
                    id="currency",
                    name="currency",
                ),
                class_name="field",
            ),
            rx.el.button(tr("dashboard.topup"), type="submit", class_name="button"),
            on_submit=S.top_up,
            reset_on_submit=False,
            class_name="inline-form",
            no_validate=True,
        ),
        rx.el.h3(tr("dashboard.ledger")),
        data_table(
            S.ledger,
            [
                ("dashboard.date", "date"),
                ("dashboard.type", "type"),
                ("dashboard.amount", "amount"),
                ("dashboard.balance_after", "balance"),
                ("dashboard.order", "order"),
            ],
            label_key="dashboard.ledger",
            empty_key="dashboard.ledger_empty",
        ),
        id="wallet",
        class_name="card",
    )


def _plan_section() -> rx.Component:
    S = DashboardState
    return rx.el.section(
        rx.el.h2(tr("dashboard.plan")),
        rx.el.p(tr("dashboard.current_plan"), " ", rx.el.strong(S.plan_name, id="plan-name")),
        rx.el.p(S.plan_limits, class_name="muted", id="plan-limits"),
        rx.el.div(
            rx.foreach(
                S.upgrades,
                lambda u: rx.el.button(
                    u["label"], type="button", on_click=S.upgrade(u["code"]), class_name="button secondary"
                ),
            ),
            class_name="actions",
        ),
        id="plan",
        class_name="card",
    )


def _gallery(g: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.el.strong(g["title"]),
        " — ",
        rx.el.span(g["status_label"], class_name="gallery-status", data_status=g["status"]),
        rx.cond(
            (g["status"] == "draft") & (g["locked"] != "yes"),
            rx.el.button(
                tr("gallery.publish"),
                type="button",
                on_click=DashboardState.publish(g["id"]),
                class_name="button secondary small",
                aria_label=tr("gallery.publish") + " " + g["title"],
            ),
        ),
        class_name="gallery",
    )


def _galleries_section() -> rx.Component:
    S = DashboardState
    return rx.el.section(
        rx.el.h2(tr("dashboard.galleries")),
        rx.el.p(tr("gallery.price_hint"), class_name="muted"),
        rx.cond(
            S.galleries.length() > 0,
            rx.el.ul(rx.foreach(S.galleries, _gallery), class_name="galleries"),
            rx.el.p(tr("gallery.none"), class_name="muted"),
        ),
        rx.el.form(
            rx.el.div(
                rx.el.label(tr("gallery.title"), html_for="title"),
                rx.el.input(id="title", name="title", max_length=120),
                rx.cond(S.errors.contains("title"), rx.el.p(S.errors["title"], class_name="field-error")),
                class_name="field",
            ),
            rx.el.button(tr("gallery.create"), type="submit", class_name="button secondary"),
            on_submit=S.create_gallery,
            reset_on_submit=True,
            class_name="inline-form",
            no_validate=True,
        ),
        id="galleries",
        class_name="card",
    )


def _orders_section() -> rx.Component:
    S = DashboardState
    return rx.el.section(
        rx.el.h2(tr("dashboard.orders")),
        data_table(
            S.orders,
            [
                ("dashboard.order", "number"),
                ("dashboard.what", "description"),
                ("dashboard.amount", "amount"),
                ("success.status", "status"),
            ],
            label_key="dashboard.orders",
            empty_key="dashboard.orders_empty",
        ),
        class_name="card",
    )


def dashboard_page() -> rx.Component:
    S = DashboardState
    return page(
        rx.cond(S.form_error != "", notice(S.form_error, tone="error")),
        payment_choice(S.quote_method, S.quote_text, confirm=S.confirm, change=S.change),
        rx.cond(S.redirecting, redirect_overlay()),
        rx.el.div(
            _wallet_section(),
            _plan_section(),
            _galleries_section(),
            _orders_section(),
            rx.el.p(rx.el.a(tr("nav.my_tickets"), href=urls.MY_TICKETS)),
            class_name="cards",
        ),
        title=tr("dashboard.title"),
    )

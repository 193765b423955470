"""``/events/<slug>``: the event and its checkout form."""

from __future__ import annotations

import asyncio
import json
import logging

import reflex as rx

from payflow_app.core import urls
from payflow_app.core.errors import DomainError, InvalidInput
from payflow_app.core.inputs import whole_number
from payflow_app.core.states import Kind
from payflow_app.i18n import t as t_
from payflow_app.models import pk
from payflow_app.providers.base import PaymentError
from payflow_app.services.accounts.customers import SessionUser
from payflow_app.services.checkout import orders
from payflow_app.services.payments import mpesa, purchases
from payflow_app.services.tickets.catalogue import TicketTypeView, event_by_slug
from payflow_app.ui.components.layout import (
    buyer_fields,
    form_field,
    message_panel,
    notice,
    page,
    redirect_overlay,
)
from payflow_app.ui.components.payment_choice import error_text, payment_choice, quote_text
from payflow_app.ui.session import SessionState, tr

log = logging.getLogger(__name__)


def _form_from(
    data: dict[str, str], *, lang: str, user: SessionUser | None, address: str
) -> orders.CheckoutForm:
    def as_int(value: str) -> int:
        return whole_number(str(value)) or 0  # the checkout refuses 0 with its own message

    return orders.CheckoutForm(
        full_name=user.full_name if user else data.get("full_name", ""),
        email=user.email if user else data.get("email", ""),
        phone=data.get("phone", ""),
        ticket_type_id=as_int(data.get("ticket_type_id", "")),
        quantity=as_int(data.get("quantity", "")),
        language=lang,
        user_id=user.id if user else None,
        client_address=address or "unknown",
    )


def _availability(ticket_type: TicketTypeView, lang: str) -> str:
    """What stops a ticket type from being bought now, as a suffix of its label."""
    if ticket_type.sale == "not_yet":
        return f" ({t_(lang, 'orders.not_yet', when=ticket_type.sales_start)})"
    if ticket_type.sale == "ended":
        return f" ({t_(lang, 'orders.sales_ended')})"
    return f" ({t_(lang, 'orders.sold_out')})" if ticket_type.remaining == 0 else ""


class CheckoutState(rx.State):
    found: bool = True
    slug: str = ""
    title: str = ""
    image_url: str = ""
    venue: str = ""
    starts_at: str = ""
    description: str = ""
    ticket_types: list[dict[str, str]] = []
    errors: dict[str, str] = {}
    form_error: str = ""
    redirecting: bool = False
    buyer: str = ""  # "Name (email)" when signed in: the order goes to that account
    mpesa_available: bool = False  # the event is priced in KES: M-PESA can pay it
    method: str = "card"  # card | mpesa (the wallet is offered by the dry run)
    # The dry run's answer, shown before the customer confirms (signed in only).
    quote_method: str = ""  # "" | wallet | card
    quote_text: str = ""
    _pending: dict[str, str] = {}

    @rx.event
    async def load(self) -> None:
        self.slug = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        self.errors, self.form_error, self.redirecting = {}, "", False
        self.quote_method, self.quote_text, self._pending = "", "", {}
        self.method = "card"
        session = await self.get_state(SessionState)
        lang, user = session.language(), await session.user()
        self.buyer = f"{user.full_name} ({user.email})" if user else ""
        view = await asyncio.to_thread(event_by_slug, self.slug, lang)
        self.found = view is not None
        if view is None:
            return
        self.mpesa_available = view.currency == mpesa.CURRENCY
        self.title, self.venue, self.starts_at, self.description = (
            view.title,
            view.venue,
            view.starts_at,
            view.description,
        )
        self.image_url = view.image_url
        self.ticket_types = [
            {
                "id": str(t.id),
                "label": f"{t.name} — {t.price}" + _availability(t, lang),
                "sold_out": "yes" if t.remaining == 0 or t.sale != "on_sale" else "",
            }
            for t in view.ticket_types
        ]

    @rx.event
    async def submit(self, data: dict[str, str]):
        session = await self.get_state(SessionState)
        lang, user = session.language(), await session.user()
        form = _form_from(data, lang=lang, user=user, address=self.router.session.client_ip)
        self.form_error, self.quote_method = "", ""
        if self.mpesa_available and data.get("payment_method") == "mpesa":
            form, self.errors = await asyncio.to_thread(mpesa.validate, form)
            if not self.errors:
                async for step in self._push_mpesa(form, lang):
                    yield step
            return
        self.errors = orders.validate_form(form)
        if self.errors:
            return
        if user is None:  # a guest pays by card: nothing to choose
            async for step in self._buy(form, purchases.Method.CARD, lang):
                yield step
            return
        amount = await asyncio.to_thread(
            purchases.ticket_amount, ticket_type_id=form.ticket_type_id, quantity=form.quantity
        )
        choice = await asyncio.to_thread(purchases.quote, user_id=user.id, amount=amount, kind=Kind.TICKETS)
        self.quote_method, self.quote_text = choice.method, quote_text(choice, lang)
        self._pending = dict(data)

    @rx.event
    def change(self) -> None:
        self.quote_method, self.quote_text, self._pending = "", "", {}

    @rx.event
    async def confirm(self):
        session = await self.get_state(SessionState)
        lang, user = session.language(), await session.user()
        if user is None or not self._pending:
            self.quote_method = ""
            return
        form = _form_from(self._pending, lang=lang, user=user, address=self.router.session.client_ip)
        async for step in self._buy(form, purchases.Method(self.quote_method), lang):
            yield step

    @rx.event
    def choose_method(self, method: str) -> None:
        self.method = "mpesa" if method == "mpesa" else "card"

    async def _push_mpesa(self, form: orders.CheckoutForm, lang: str):
        self.redirecting = True
        yield  # the overlay shows at once, before PayHero is called
        try:
            order = await mpesa.direct_checkout(form=form)
        except InvalidInput as exc:
            self.redirecting, self.errors = False, exc.errors
            return
        except (DomainError, PaymentError) as exc:
            self.redirecting = False
            self.form_error = t_(lang, "checkout.could_not_start", reason=error_text(lang, exc))
            return
        yield rx.redirect(urls.mpesa_path(order.public_id))

    async def _buy(self, form: orders.CheckoutForm, method: purchases.Method, lang: str):
        self.redirecting = True
        yield  # the overlay shows at once, before the provider is called
        try:
            order = await asyncio.to_thread(orders.place_order, form=form)
            started = await purchases.pay(order_id=pk(order), method=method)
        except InvalidInput as exc:
            self.redirecting, self.errors, self.quote_method = False, exc.errors, ""
            await self.load()
            return
        except (DomainError, PaymentError) as exc:
            self.redirecting, self.quote_method = False, ""
            self.form_error = t_(lang, "checkout.could_not_start", reason=error_text(lang, exc))
            return
        except Exception:
            log.exception("checkout failed")
            self.redirecting, self.quote_method = False, ""
            self.form_error = t_(lang, "checkout.failed")
            return
        if started.redirect_url is None:  # paid from the wallet already
            yield rx.redirect(urls.success_path(started.reference))
            return
        # A full page load: the pay page is not a page of this app.
        yield rx.call_script(f"window.location.assign({json.dumps(started.redirect_url)})")


def _field(label: rx.Var | str, name: str, control: rx.Component) -> rx.Component:
    return form_field(label, name, control, CheckoutState.errors)


def _method_choice() -> rx.Component:
    S = CheckoutState

    def option(value: str, label: rx.Var | str) -> rx.Component:
        return rx.el.label(
            rx.el.input(
                type="radio",
                name="payment_method",
                value=value,
                default_checked=value == "card",
                on_change=S.choose_method(value),
            ),
            " ",
            label,
            class_name="radio",
        )

    return rx.el.fieldset(
        rx.el.legend(tr("checkout.payment_method")),
        option("card", tr("checkout.method_card")),
        option("mpesa", tr("checkout.method_mpesa")),
        rx.cond(S.method == "mpesa", rx.el.p(tr("mpesa.hint"), class_name="muted small")),
        rx.cond(
            S.errors.contains("payment_method"),
            rx.el.p(S.errors["payment_method"], class_name="field-error"),
        ),
        class_name="field",
    )


def _checkout_form() -> rx.Component:
    S = CheckoutState
    return rx.el.form(
        buyer_fields(S.buyer, S.errors),
        rx.cond(S.buyer == "", rx.el.p(tr("checkout.account_hint"), class_name="muted small")),
        rx.cond(S.mpesa_available, _method_choice()),
        _field(
            rx.cond(S.method == "mpesa", tr("mpesa.phone"), tr("checkout.phone")),
            "phone",
            rx.el.input(id="phone", name="phone", type="tel", auto_complete="tel"),
        ),
        _field(
            tr("checkout.ticket_type"),
            "ticket_type_id",
            rx.el.select(
                rx.foreach(
                    S.ticket_types,
                    lambda t: rx.el.option(t["label"], value=t["id"], disabled=t["sold_out"] == "yes"),
                ),
                id="ticket_type_id",
                name="ticket_type_id",
            ),
        ),
        _field(
            tr("checkout.quantity"),
            "quantity",
            rx.el.input(id="quantity", name="quantity", type="number", default_value="1", min=1),
        ),
        rx.cond(S.form_error != "", notice(S.form_error, tone="error")),
        rx.cond(
            S.quote_method == "",
            rx.el.button(tr("checkout.continue"), type="submit", class_name="button"),
        ),
        on_submit=S.submit,
        reset_on_submit=False,
        class_name="checkout-form",
        no_validate=True,
    )


def event_page() -> rx.Component:
    S = CheckoutState
    return page(
        rx.cond(
            S.found,
            rx.el.div(
                rx.cond(S.image_url != "", rx.el.img(src=S.image_url, alt=S.title, class_name="event-image")),
                rx.el.h1(S.title),
                rx.el.p(S.starts_at, " · ", S.venue, class_name="muted"),
                rx.el.p(S.description),
                rx.el.h2(tr("checkout.buy_tickets")),
                _checkout_form(),
                payment_choice(S.quote_method, S.quote_text, confirm=S.confirm, change=S.change),
                rx.cond(S.redirecting, redirect_overlay()),
            ),
            message_panel(
                tr("checkout.not_found"),
                tr("checkout.not_found_text"),
                action=tr("checkout.see_all_events"),
                href=urls.EVENTS,
            ),
        ),
    )

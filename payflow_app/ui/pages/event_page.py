"""``/events/<slug>``: the event and its checkout form."""

from __future__ import annotations

import asyncio
import json
import logging

import reflex as rx

from payflow_app.models import pk
from payflow_app.providers.base import PaymentError
from payflow_app.services import checkout, payments
from payflow_app.services.catalogue import event_by_slug
from payflow_app.services.errors import DomainError, InvalidInput
from payflow_app.ui import routes
from payflow_app.ui.components.layout import message_panel, notice, page

log = logging.getLogger(__name__)


def _form_from(data: dict[str, str]) -> checkout.CheckoutForm:
    def as_int(value: str) -> int:
        try:
            return int(str(value).strip())
        except ValueError:
            return 0

    return checkout.CheckoutForm(
        full_name=data.get("full_name", ""),
        email=data.get("email", ""),
        phone=data.get("phone", ""),
        ticket_type_id=as_int(data.get("ticket_type_id", "")),
        quantity=as_int(data.get("quantity", "")),
    )


class CheckoutState(rx.State):
    found: bool = True
    slug: str = ""
    title: str = ""
    venue: str = ""
    starts_at: str = ""
    description: str = ""
    ticket_types: list[dict[str, str]] = []
    errors: dict[str, str] = {}
    form_error: str = ""
    redirecting: bool = False

    @rx.event
    async def load(self) -> None:
        self.slug = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        self.errors, self.form_error, self.redirecting = {}, "", False
        view = await asyncio.to_thread(event_by_slug, self.slug)
        self.found = view is not None
        if view is None:
            return
        self.title, self.venue, self.starts_at, self.description = (
            view.title,
            view.venue,
            view.starts_at,
            view.description,
        )
        self.ticket_types = [
            {
                "id": str(t.id),
                "label": f"{t.name} — {t.price}" + (" (sold out)" if t.remaining == 0 else ""),
                "sold_out": "yes" if t.remaining == 0 else "",
            }
            for t in view.ticket_types
        ]

    @rx.event
    async def submit(self, data: dict[str, str]):
        form = _form_from(data)
        self.form_error = ""
        self.errors = checkout.validate_form(form)
        if self.errors:
            return
        self.redirecting = True
        yield  # the overlay shows at once, before the provider is called
        try:
            order = await asyncio.to_thread(checkout.place_order, form=form)
            redirect = await payments.start_order_payment(order_id=pk(order))
        except InvalidInput as exc:
            self.redirecting, self.errors = False, exc.errors
            await self.load()
            return
        except (DomainError, PaymentError) as exc:
            self.redirecting, self.form_error = False, f"We could not start the payment: {exc.message}"
            return
        except Exception:
            log.exception("checkout failed")
            self.redirecting = False
            self.form_error = "Something went wrong on our side and nothing was charged. Please try again."
            return
        # A full page load: the pay page is not a page of this app.
        yield rx.call_script(f"window.location.assign({json.dumps(redirect.redirect_url)})")


def _field(label: str, name: str, control: rx.Component) -> rx.Component:
    return rx.el.div(
        rx.el.label(label, html_for=name),
        control,
        rx.cond(
            CheckoutState.errors.contains(name),
            rx.el.p(CheckoutState.errors[name], class_name="field-error", id=f"{name}-error"),
        ),
        class_name="field",
    )


def _checkout_form() -> rx.Component:
    return rx.el.form(
        _field("Full name", "full_name", rx.el.input(id="full_name", name="full_name", auto_complete="name")),
        _field("Email", "email", rx.el.input(id="email", name="email", type="email", auto_complete="email")),
        _field("Phone", "phone", rx.el.input(id="phone", name="phone", type="tel", auto_complete="tel")),
        _field(
            "Ticket type",
            "ticket_type_id",
            rx.el.select(
                rx.foreach(
                    CheckoutState.ticket_types,
                    lambda t: rx.el.option(t["label"], value=t["id"], disabled=t["sold_out"] == "yes"),
                ),
                id="ticket_type_id",
                name="ticket_type_id",
            ),
        ),
        _field(
            "Quantity",
            "quantity",
            rx.el.input(id="quantity", name="quantity", type="number", default_value="1", min=1),
        ),
        rx.cond(CheckoutState.form_error != "", notice(CheckoutState.form_error, tone="error")),
        rx.el.button("Continue to payment", type="submit", class_name="button"),
        on_submit=CheckoutState.submit,
        reset_on_submit=False,
        class_name="checkout-form",
        no_validate=True,
    )


def _overlay() -> rx.Component:
    return rx.el.div(
        rx.el.div(
            rx.el.div(class_name="spinner"),
            rx.el.p("Redirecting you to the secure payment page…"),
            class_name="overlay-box",
        ),
        class_name="overlay",
        role="status",
    )


def event_page() -> rx.Component:
    return page(
        rx.cond(
            CheckoutState.found,
            rx.el.div(
                rx.el.h1(CheckoutState.title),
                rx.el.p(CheckoutState.starts_at, " · ", CheckoutState.venue, class_name="muted"),
                rx.el.p(CheckoutState.description),
                rx.el.h2("Buy tickets"),
                _checkout_form(),
                rx.cond(CheckoutState.redirecting, _overlay()),
            ),
            message_panel(
                "Event not found",
                "This event does not exist or is no longer on sale.",
                action="See all events",
                href=routes.EVENTS,
            ),
        ),
    )

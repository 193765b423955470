"""``/payment/<orderId>``: the M-PESA waiting page (``orderId`` is the order's public
reference, ``ord_…``; a row id finds nothing). "Check your phone and enter your
M-PESA PIN", then — pushed live from the server, no polling — paid (summary, emails,
next steps), cancelled or failed (the reason; Try again / Browse events). With no
answer after ``PAYFLOW_MPESA_DELAYED_AFTER_SECONDS`` it says the confirmation is
delayed and what to do, while the pending-payment sync keeps asking PayHero. While it
waits it shows for how long, to the nearest 5 seconds (the server pushes the figure
every 5 seconds). After a
cancelled or failed prompt the customer can send the prompt again, to the same phone
or another number: a new order for the same tickets (the first released its seats).

Whoever holds the link can open the page (a guest has no session), so it shows no QR
codes and masks the phone and the email address: the tickets are in the customer's
email and My tickets."""

from __future__ import annotations

import asyncio

import reflex as rx

from payflow_app.core import urls
from payflow_app.core.errors import DomainError, InvalidInput, NotFound
from payflow_app.core.phones import mask_phone
from payflow_app.core.states import PaymentStatus
from payflow_app.emails.outbox import OutboxView
from payflow_app.i18n import decline_reason, format_money, t
from payflow_app.live.follow import follow_order
from payflow_app.models import utcnow
from payflow_app.providers.base import PaymentError
from payflow_app.providers.payhero import CANCELLED_BY_CUSTOMER
from payflow_app.services.checkout import lookup
from payflow_app.services.payments import mpesa
from payflow_app.services.payments.snapshot import OrderSnapshot
from payflow_app.settings import get_settings
from payflow_app.ui.components.layout import (
    email_items,
    emails_section,
    message_panel,
    notice,
    page,
    step_items,
    steps_list,
    ticket_next_steps,
)
from payflow_app.ui.components.live import address_last_segment, mark_delayed, only_for_address
from payflow_app.ui.components.payment_choice import error_text
from payflow_app.ui.session import SessionState, tr

# PayHero's status query says only "failed"; its callback, which may come after it,
# says why (cancelled on the phone, a wrong PIN): the page waits this long for it.
LATE_REASON_SECONDS = 30.0
# The elapsed time on the waiting page moves in steps of this many seconds.
TICK_SECONDS = 5


def _elapsed(seconds: float) -> str:
    """``seconds`` to the nearest multiple of ``TICK_SECONDS``, as m:ss ("" under one)."""
    rounded = int((max(seconds, 0.0) + TICK_SECONDS / 2) // TICK_SECONDS) * TICK_SECONDS
    minutes, rest = divmod(rounded, 60)
    return f"{minutes}:{rest:02d}" if rounded else ""


def _until_next_tick(seconds: float) -> float:
    """How long until :func:`_elapsed` of the time waited changes (half-way between
    two multiples of ``TICK_SECONDS``), a little past it."""
    return TICK_SECONDS - (seconds + TICK_SECONDS / 2) % TICK_SECONDS + 0.05


def _phase(snap: OrderSnapshot) -> str:
    """What the page shows for the order: paid, cancelled, failed or still waiting."""
    if snap.is_processed:
        return "paid"
    if snap.is_closed:
        cancelled = snap.payment_status == PaymentStatus.CANCELLED or (
            snap.failure_code == f"mpesa_{CANCELLED_BY_CUSTOMER}"  # said by a late callback
        )
        return "cancelled" if cancelled else "failed"
    return "waiting"


def _mask_email(address: str) -> str:
    name, _, domain = address.partition("@")
    return f"{name[:1]}•••@{domain}" if domain else "•••"


class MpesaState(rx.State):
    # The reference whose order the vars below describe (see components/live.py).
    shown_for: str = ""
    phase: str = "loading"  # loading | not_found | waiting | paid | cancelled | failed
    delayed: bool = False
    order_number: str = ""
    event_title: str = ""
    event_href: str = urls.EVENTS
    tickets: str = ""
    amount: str = ""
    phone: str = ""
    receipt: str = ""
    reason: str = ""
    steps: list[dict[str, str]] = []
    emails: list[dict[str, str]] = []
    # Sentences with values in them, worded in the tab's language by the server.
    waiting_text: str = ""
    support_text: str = ""
    outcome_text: str = ""
    elapsed: str = ""  # "Waiting for about 0:45", in the tab's language
    again_text: str = ""
    again_error: str = ""  # why a new prompt could not be sent
    phone_error: str = ""  # the other number, refused
    sending: bool = False

    @rx.event(background=True)
    async def watch(self):
        async with self:
            reference = str(self.router.page.params.get("order_ref", ""))
            lang = (await self.get_state(SessionState)).language()
            self.reset()
            self.shown_for = reference
        try:
            order, payment = await asyncio.to_thread(lookup.order_by_reference, reference)
        except NotFound:
            order, payment = None, None
        if order is None or order.id is None or payment is None:
            async with self:
                self.phase = "not_found"
            return
        order_id, phone = order.id, mask_phone(payment.payer_phone or "")
        started_at = payment.created_at

        async def show(snap: OrderSnapshot) -> None:
            async with self:
                self._show(snap, lang, phone)

        async def show_emails(emails: list[OutboxView]) -> None:
            async with self:
                self.emails = email_items(emails, lang, mask=_mask_email)

        async def tick() -> None:
            """The elapsed time while the page waits, to the nearest 5 seconds: pushed
            once every 5 seconds (each push costs the server a state write), each time
            the rounded figure changes, so the text is never more than 2.5 s off."""
            while True:
                waited = (utcnow() - started_at).total_seconds()
                async with self:
                    if self.phase not in ("loading", "waiting"):
                        return
                    rounded = _elapsed(waited)
                    self.elapsed = t(lang, "mpesa.elapsed", elapsed=rounded) if rounded else ""
                await asyncio.sleep(_until_next_tick(waited))

        ticker = asyncio.create_task(tick())
        try:
            # Paid: followed until its emails are out (the page lists them).
            await follow_order(
                order_id,
                show=show,
                show_emails=show_emails,
                delayed_after=get_settings().mpesa_delayed_after_seconds,
                on_delayed=mark_delayed(self),
                linger_after_close=LATE_REASON_SECONDS,
            )
        finally:
            ticker.cancel()

    def _show(self, snap: OrderSnapshot, lang: str, phone: str) -> None:
        """The page's vars for one snapshot of its order (under the state's lock)."""
        self.order_number, self.event_title, self.phone = snap.order_number, snap.event_title, phone
        self.event_href = urls.event_path(snap.event_slug) if snap.event_slug else urls.EVENTS
        self.tickets = f"{snap.quantity} × {snap.ticket_type}"
        self.amount = format_money(snap.amount_minor, snap.currency, lang)
        self.steps = step_items(snap.steps, lang)
        self.receipt = snap.receipt_number or ""
        self.reason = decline_reason(lang, snap.failure_code, snap.failure_message)
        self.waiting_text = t(lang, "mpesa.waiting_text", amount=self.amount, phone=phone)
        self.again_text = t(lang, "mpesa.prompt_again_to", phone=phone)
        self.support_text = t(lang, "mpesa.delayed_support", order=snap.order_number)
        self.outcome_text = (
            t(lang, "mpesa.paid_text", receipt=self.receipt)
            if snap.is_processed
            else t(lang, "mpesa.failed_text", reason=self.reason)
        )
        self.phase = _phase(snap)

    @rx.event
    async def prompt_again(self):
        async for step in self._again(None):
            yield step

    @rx.event
    async def prompt_other(self, data: dict[str, str]):
        async for step in self._again(data.get("phone", "")):
            yield step

    async def _again(self, phone: str | None):
        """A new order for the same tickets, its prompt sent; the page moves to it."""
        lang = (await self.get_state(SessionState)).language()
        self.again_error, self.phone_error, self.sending = "", "", True
        yield
        try:
            order = await mpesa.prompt_again(
                reference=self.shown_for,
                phone=phone,
                language=lang,
                client_address=self.router.session.client_ip or "unknown",
            )
        except InvalidInput as exc:
            errors = dict(exc.errors)
            if phone is not None:  # a number typed here: said beside its field
                self.phone_error = errors.pop("phone", "")
            self.again_error = " ".join(errors.values())
            return
        except (DomainError, PaymentError) as exc:
            self.again_error = error_text(lang, exc)
            return
        finally:
            self.sending = False
        yield rx.redirect(urls.mpesa_path(order.public_id))


def _summary() -> rx.Component:
    S = MpesaState
    return rx.el.dl(
        rx.el.dt(tr("success.order_number")),
        rx.el.dd(S.order_number),
        rx.el.dt(tr("success.event")),
        rx.el.dd(S.event_title),
        rx.el.dt(tr("success.tickets")),
        rx.el.dd(S.tickets),
        rx.el.dt(tr("success.amount")),
        rx.el.dd(S.amount),
        class_name="summary",
    )


def _again() -> rx.Component:
    """After a cancelled or failed prompt: the prompt again, another number, or browse."""
    S = MpesaState
    return rx.el.section(
        rx.el.h2(tr("mpesa.again_title"), id="again-title"),
        rx.el.p(S.again_text),
        rx.cond(S.again_error != "", rx.el.p(S.again_error, role="alert", class_name="field-error")),
        rx.el.div(
            rx.el.button(
                tr("mpesa.prompt_again"),
                type="button",
                on_click=S.prompt_again,
                disabled=S.sending,
                class_name="button",
            ),
            rx.el.a(tr("mpesa.browse"), href=urls.EVENTS, class_name="button secondary"),
            class_name="actions",
        ),
        rx.el.details(
            rx.el.summary(tr("mpesa.other_number")),
            rx.el.form(
                rx.el.div(
                    rx.el.label(tr("mpesa.phone"), html_for="other-phone"),
                    rx.el.input(
                        id="other-phone",
                        name="phone",
                        type="tel",
                        input_mode="tel",
                        auto_complete="tel",
                        aria_describedby="other-phone-hint",
                    ),
                    rx.el.p(tr("mpesa.hint"), id="other-phone-hint", class_name="muted"),
                    rx.cond(S.phone_error != "", rx.el.p(S.phone_error, class_name="field-error")),
                    class_name="field",
                ),
                rx.el.button(
                    tr("mpesa.other_number_send"), type="submit", disabled=S.sending, class_name="button"
                ),
                on_submit=S.prompt_other,
                reset_on_submit=False,
            ),
            class_name="other-number",
        ),
        aria_labelledby="again-title",
    )


def _waiting() -> rx.Component:
    S = MpesaState
    return rx.el.div(
        rx.cond(S.delayed, rx.el.h1(tr("mpesa.delayed_title")), rx.el.h1(tr("mpesa.waiting_title"))),
        rx.el.p(S.waiting_text, role="status"),
        rx.el.div(
            rx.el.progress(aria_label=tr("mpesa.progress")),
            rx.el.span(S.elapsed, class_name="muted"),
            class_name="waiting-progress",
        ),
        rx.cond(
            S.delayed,
            rx.el.section(
                notice(tr("mpesa.delayed_text")),
                rx.el.ul(
                    rx.el.li(tr("mpesa.delayed_sms")),
                    rx.el.li(tr("mpesa.delayed_email")),
                    rx.el.li(tr("mpesa.delayed_tickets")),
                    rx.el.li(S.support_text),
                ),
            ),
            rx.el.p(tr("mpesa.waiting_live"), class_name="muted"),
        ),
        _summary(),
    )


def _paid() -> rx.Component:
    S = MpesaState
    return rx.el.div(
        rx.el.h1(tr("mpesa.paid_title")),
        rx.el.p(S.outcome_text, role="status"),
        steps_list(S.steps, label=tr("success.steps")),
        _summary(),
        emails_section(S.emails),
        ticket_next_steps(),
    )


def mpesa_payment_page() -> rx.Component:
    S = MpesaState
    return page(
        only_for_address(
            S.shown_for,
            address_last_segment(),
            rx.match(
                S.phase,
                ("loading", rx.el.p(tr("success.loading"), class_name="muted")),
                ("not_found", message_panel(tr("mpesa.order_not_found"), tr("mpesa.order_not_found_text"))),
                ("paid", _paid()),
                (
                    "cancelled",
                    rx.el.div(
                        rx.el.h1(tr("mpesa.cancelled_title")),
                        notice(tr("mpesa.cancelled_text")),
                        _summary(),
                        _again(),
                    ),
                ),
                (
                    "failed",
                    rx.el.div(
                        rx.el.h1(tr("mpesa.failed_title")),
                        notice(S.outcome_text, tone="error"),
                        _summary(),
                        _again(),
                    ),
                ),
                _waiting(),
            ),
        ),
    )

"""``/organizer/events/<id>/checkin``: the gate, on a phone. The camera reads a ticket's
QR code (``components.qr_scanner``) or the ticket number is typed; each one is checked
in once (``services.tickets.checkin``) and the answer fills the screen: green "Valid — holder,
type", or red with the reason — already checked in (when, at which gate, by whom),
revoked, unpaid, wrong event, forged, unknown, expired (the event is over). The gate's
name is remembered on the device; the operator is the signed-in organizer."""

from __future__ import annotations

import asyncio
import time

import reflex as rx
from reflex.event import EventSpec

from payflow_app.core.errors import InvalidInput
from payflow_app.models import pk
from payflow_app.services.tickets import checkin
from payflow_app.ui.components.layout import page
from payflow_app.ui.components.organizer import (
    acting_on_event,
    event_gone,
    event_tabs,
    guarded,
    open_event,
)
from payflow_app.ui.components.qr_scanner import qr_scanner

# The camera sees the same QR again as soon as it is resumed: ignore it for a while.
SAME_CODE_QUIET_SECONDS = 30.0


class GateState(rx.State):
    allowed: bool = False
    refused: bool = False
    missing: bool = False
    event_id: str = ""
    title: str = ""
    gate: str = rx.LocalStorage("Main gate", name="payflow_gate")
    camera_on: bool = False
    camera_error: str = ""
    busy: bool = False
    # The last answer: reason code, headline, details.
    reason: str = ""
    headline: str = ""
    detail: str = ""
    input_error: str = ""
    history: list[dict[str, str]] = []
    number_key: int = 0
    _last_code: str = ""
    _last_at: float = 0.0

    @rx.event
    async def load(self):
        self.reason = self.headline = self.detail = self.input_error = self.camera_error = ""
        self.history, self.camera_on, self.busy = [], False, False
        opened = await open_event(self)
        return None if isinstance(opened, tuple) else opened

    @rx.event
    def set_gate(self, value: str) -> None:
        self.gate = value.strip()[:80]

    @rx.event
    def toggle_camera(self) -> None:
        self.camera_on, self.camera_error = not self.camera_on, ""

    @rx.event
    def camera_failed(self, message: str) -> None:
        self.camera_error = message or "The camera did not start."

    @rx.event
    async def scanned(self, code: str):
        now = time.monotonic()
        if self.busy or (code == self._last_code and now - self._last_at < SAME_CODE_QUIET_SECONDS):
            return
        self._last_code, self._last_at = code, now
        self.busy = True
        yield  # the scanner pauses while the ticket is checked
        yield await self._check(code)

    @rx.event
    async def typed(self, data: dict[str, str]):
        self.busy = True
        yield
        yield await self._check(data.get("number", ""))
        if not self.input_error:
            self.number_key += 1  # an empty field for the next ticket

    async def _check(self, code: str) -> EventSpec | None:
        try:
            acting = await acting_on_event(self)
            if acting is None:
                return await event_gone(self)
            user, event = acting
            self.input_error = ""
            gate = checkin.Gate(event_id=pk(event), name=self.gate, operator=user.full_name, user_id=user.id)
            try:
                result = await asyncio.to_thread(checkin.check_in, gate, code)
            except InvalidInput as exc:
                self.input_error = exc.message
                return None
        finally:
            self.busy = False
        self._show(result)
        return None

    def _show(self, result: checkin.ScanResult) -> None:
        self.reason = result.reason.value
        if result.ok:
            self.headline, self.detail = result.message, result.ticket_number
        else:
            self.headline = checkin.MESSAGES[result.reason].split(" — ")[0]
            # Said once: the message's own start repeats the headline.
            said = result.message.removeprefix(self.headline).removeprefix(" — ").strip()
            said = said[:1].upper() + said[1:]
            self.detail = " · ".join(x for x in (said, result.ticket_number, result.holder) if x)
        self.history = [
            {
                "at": time.strftime("%H:%M:%S", time.gmtime()),
                "reason": self.reason,
                "text": self.headline,
                "ticket": result.ticket_number,
            },
            *self.history[:19],
        ]


def _answer() -> rx.Component:
    S = GateState
    return rx.cond(
        S.reason != "",
        rx.el.div(
            rx.el.div(rx.cond(S.reason == "valid", "✓", "✕"), class_name="gate-mark", aria_hidden="true"),
            rx.el.div(S.headline, class_name="gate-headline"),
            rx.el.div(S.detail, class_name="gate-detail"),
            class_name=rx.cond(S.reason == "valid", "gate-answer gate-ok", "gate-answer gate-refused"),
            role="alert",
            data_reason=S.reason,
            id="gate-answer",
        ),
        rx.el.div("Scan a ticket or type its number.", class_name="gate-answer gate-idle", id="gate-answer"),
    )


def organizer_checkin_page() -> rx.Component:
    S = GateState
    body = rx.el.div(
        event_tabs(S.event_id),
        rx.el.h1("Check-in · ", S.title),
        rx.el.div(
            rx.el.label("Gate", html_for="gate"),
            rx.el.input(id="gate", default_value=S.gate, on_blur=S.set_gate, max_length=80),
            class_name="field gate-name",
        ),
        _answer(),
        rx.el.form(
            rx.el.label("Ticket number", html_for="ticket-number"),
            rx.el.input(
                id="ticket-number",
                name="number",
                placeholder="TKT-1760000000-ABCDEF",
                auto_complete="off",
                auto_capitalize="characters",
                spell_check=False,
            ),
            rx.el.button("Check in", type="submit", class_name="button", disabled=S.busy),
            key=S.number_key,
            on_submit=S.typed,
            class_name="gate-form",
            no_validate=True,
            aria_label="Check in by number",
        ),
        rx.cond(S.input_error != "", rx.el.p(S.input_error, class_name="field-error")),
        rx.el.button(
            rx.cond(S.camera_on, "Stop the camera", "Scan with the camera"),
            type="button",
            on_click=S.toggle_camera,
            class_name="button secondary",
            id="camera-toggle",
        ),
        rx.cond(
            S.camera_on,
            rx.el.div(
                qr_scanner(on_scan=S.scanned, on_error=S.camera_failed, paused=S.busy, sound=False),
                class_name="gate-camera",
            ),
        ),
        rx.cond(S.camera_error != "", rx.el.p("Camera: ", S.camera_error, class_name="field-error")),
        rx.el.h2("This gate's last scans"),
        rx.el.ol(
            rx.foreach(
                S.history,
                lambda h: rx.el.li(h["at"], " · ", h["text"], " · ", h["ticket"], data_reason=h["reason"]),
            ),
            class_name="gate-history",
        ),
    )
    return page(guarded(S.allowed, S.refused, S.missing, body))

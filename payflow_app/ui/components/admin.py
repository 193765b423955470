"""What every operator page shares: the admin-only guard and the console's tabs.
The console speaks English (operators' working language); customers' pages are
translated."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import reflex as rx
from reflex.event import EventSpec

from payflow_app.core import urls
from payflow_app.core.errors import DomainError
from payflow_app.services.accounts.customers import SessionUser
from payflow_app.settings import get_settings
from payflow_app.ui.components.layout import message_panel
from payflow_app.ui.session import SessionState, login_redirect


async def require_admin(state: rx.State) -> SessionUser | EventSpec | None:
    """The signed-in operator; a login redirect when nobody is signed in; None when
    the account is not an operator's (the page then shows its refusal)."""
    found = await (await state.get_state(SessionState)).user()
    if found is None:
        return login_redirect(state)
    return found if found.role == "admin" else None


async def is_operator(state: rx.State) -> bool:
    """Checked again by every action: a session can end or lose its role meanwhile."""
    return isinstance(await require_admin(state), SessionUser)


async def operator_action(state: rx.State, work: Callable[[], object], *, done: str) -> None:
    """Run one repair (a blocking service call) off the event loop and say on the page
    what happened: ``done``, or the service's refusal. The state has ``message`` and
    ``error``."""
    try:
        await asyncio.to_thread(work)
        state.message, state.error = done, ""
    except DomainError as exc:
        state.error = exc.message


def refusal() -> rx.Component:
    return message_panel(
        "Operators only",
        "This page is for payflow's operators. Sign in with an operator (admin) account to see it.",
        action="Back to events",
        href=urls.EVENTS,
    )


def console_tabs() -> rx.Component:
    return rx.el.nav(
        rx.el.a("Stuck payments", href=urls.ADMIN),
        rx.el.a("Metrics", href=urls.ADMIN_METRICS),
        rx.el.a("Sandbox faults", href="/sandbox/faults")
        if get_settings().sandbox_enabled
        else rx.fragment(),
        class_name="tabs",
        aria_label="Operator console",
    )

"""What every organizer page shares: the guard (an organizer, and their own event),
the event's tabs and the refusals. Organizer pages speak English, like the console."""

from __future__ import annotations

import asyncio

import reflex as rx
from reflex.event import EventSpec

from payflow_app.core import urls
from payflow_app.core.errors import DomainError
from payflow_app.models import Event, pk
from payflow_app.services.accounts.customers import SessionUser
from payflow_app.services.organizer import events
from payflow_app.ui.components.layout import message_panel
from payflow_app.ui.session import SessionState, login_redirect


async def require_organizer(state: rx.State) -> SessionUser | EventSpec | None:
    """The signed-in organizer; a login redirect when nobody is signed in; None when
    the account is not an organizer's (the page shows its refusal)."""
    found = await (await state.get_state(SessionState)).user()
    if found is None:
        return login_redirect(state)
    return found if found.role in events.ORGANIZER_ROLES else None


async def route_event(state: rx.State, user: SessionUser) -> Event | None:
    """The event named by the route's ``event_id`` if it is the user's, else None."""
    try:
        event_id = events.event_id_of(state.router.page.params.get("event_id", ""))
        return await asyncio.to_thread(events.event_of, user, event_id)
    except DomainError:
        return None


async def open_event(state: rx.State) -> tuple[SessionUser, Event] | EventSpec | None:
    """The start of an event page's ``load``: checks the organizer and the route's
    event and sets the state's ``allowed``, ``refused``, ``missing``, ``event_id`` and
    ``title``. Answers (organizer, event) when the page can show, the login redirect
    to return, or None (the page shows its refusal or "not found")."""
    user = await require_organizer(state)
    event = await route_event(state, user) if isinstance(user, SessionUser) else None
    if not isinstance(user, SessionUser) or event is None:
        # Nothing another organizer's (or an earlier) visit left in this tab's state
        # may reach this page: every var goes back to its default.
        state.reset()
        state.allowed = isinstance(user, SessionUser)
        state.refused, state.missing = user is None, state.allowed
        return None if isinstance(user, SessionUser) else user
    state.allowed, state.refused, state.missing = True, False, False
    state.event_id, state.title = str(pk(event)), event.title
    return user, event


async def acting_on_event(state: rx.State) -> tuple[SessionUser, Event] | None:
    """For an event page's actions: the organizer and the route's event, checked again
    (a session can end, a tab can be reused); None when either is gone."""
    user = await current_organizer(state)
    event = await route_event(state, user) if user is not None else None
    return (user, event) if user is not None and event is not None else None


async def event_gone(state: rx.State) -> EventSpec | None:
    """An action found the organizer or the event gone: the page shows its refusal
    (its data cleared, as :func:`open_event` does); the login redirect, if any."""
    opened = await open_event(state)
    return None if isinstance(opened, tuple) else opened


async def current_organizer(state: rx.State) -> SessionUser | None:
    """Checked again by every action: a session can end or lose its role meanwhile."""
    found = await require_organizer(state)
    return found if isinstance(found, SessionUser) else None


def refusal() -> rx.Component:
    return message_panel(
        "Organizers only",
        "This page is for event organizers. Sign in with an organizer account to manage events.",
        action="Back to events",
        href=urls.EVENTS,
    )


def not_yours() -> rx.Component:
    return message_panel(
        "Event not found",
        "No event of yours has this address. It may belong to another organizer.",
        action="My events",
        href=urls.ORGANIZER,
    )


def event_tabs(event_id: rx.Var | str) -> rx.Component:
    return rx.el.nav(
        rx.el.a("Dashboard", href=urls.organizer_event_path(event_id)),
        rx.el.a("Attendees", href=urls.organizer_event_path(event_id, "attendees")),
        rx.el.a("Check-in", href=urls.organizer_event_path(event_id, "checkin")),
        rx.el.a("Edit", href=urls.organizer_event_path(event_id, "edit")),
        rx.el.a("All my events", href=urls.ORGANIZER),
        class_name="tabs",
        aria_label="Event",
    )


def guarded(allowed: rx.Var, refused: rx.Var, missing: rx.Var, body: rx.Component) -> rx.Component:
    """The page's body for its organizer; the refusal or "not found" otherwise."""
    return rx.cond(
        allowed,
        rx.cond(missing, not_yours(), body),
        rx.cond(refused, refusal(), rx.el.p("Loading…", class_name="muted")),
    )

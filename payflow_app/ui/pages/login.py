"""``/login?next=…``: sign in with email and password; a temporary password leads on
to choosing a new one, then back to where the customer was going.

The password is checked here (throttled per account and address); the session
cookie is then set by the server, through a one-time login grant
(``services.accounts.sessions``, ``api/session.py``)."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import reflex as rx

from payflow_app.core import urls
from payflow_app.i18n import t
from payflow_app.models import pk
from payflow_app.services.accounts import customers, sessions
from payflow_app.services.accounts.customers import InvalidCredentials
from payflow_app.services.accounts.throttle import TooManyAttempts
from payflow_app.ui.components.layout import notice, page
from payflow_app.ui.components.payment_choice import wait_text
from payflow_app.ui.session import SessionState, sign_in_script, tr


def safe_next(value: str, role: str = "customer") -> str:
    """Only paths of this site: never an open redirect to another host. Without a
    ``next``, an operator lands on the console, everyone else on the dashboard."""
    return sessions.safe_next_path(value, urls.ADMIN if role == "admin" else urls.DASHBOARD)


class LoginState(rx.State):
    error: str = ""

    @rx.event
    async def load(self):
        self.error = ""
        session = await self.get_state(SessionState)
        session.language()
        user = await session.user()
        if user is not None:
            return rx.redirect(safe_next(self.router.url.query_parameters.get("next", ""), user.role))
        return None

    @rx.event
    async def submit(self, data: dict[str, str]):
        session = await self.get_state(SessionState)
        lang = session.language()
        email, password = data.get("email", "").strip(), data.get("password", "")
        if not email or not password:
            self.error = t(lang, "login.missing")
            return None
        address = self.router.session.client_ip or "unknown"
        try:
            user = await asyncio.to_thread(customers.log_in, login=email, password=password, address=address)
        except TooManyAttempts as exc:
            self.error = wait_text(lang, exc.wait_seconds)
            return None
        except InvalidCredentials:
            self.error = t(lang, "login.invalid")
            return None
        self.error = ""
        target = safe_next(self.router.url.query_parameters.get("next", ""), user.role)
        if user.must_change_password:
            target = f"{urls.CHANGE_PASSWORD}?next={quote(target, safe='')}"
        grant = await asyncio.to_thread(sessions.issue_login_grant, user_id=pk(user), next_path=target)
        # A full page load: the grant's answer sets the HttpOnly session cookie.
        return rx.call_script(sign_in_script(grant))


def login_page() -> rx.Component:
    return page(
        rx.el.form(
            rx.el.div(
                rx.el.label(tr("login.email"), html_for="email"),
                rx.el.input(id="email", name="email", type="text", auto_complete="username"),
                class_name="field",
            ),
            rx.el.div(
                rx.el.label(tr("login.password"), html_for="password"),
                rx.el.input(
                    id="password", name="password", type="password", auto_complete="current-password"
                ),
                class_name="field",
            ),
            rx.cond(LoginState.error != "", notice(LoginState.error, tone="error")),
            rx.el.button(tr("login.submit"), type="submit", class_name="button"),
            rx.el.p(tr("login.hint"), class_name="muted small"),
            on_submit=LoginState.submit,
            reset_on_submit=False,
            class_name="checkout-form",
            no_validate=True,
        ),
        title=tr("login.title"),
    )

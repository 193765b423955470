"""``/login?next=…``: sign in with email and password; a temporary password leads on
to choosing a new one, then back to where the customer was going."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import reflex as rx

from payflow_app.i18n import t
from payflow_app.services import accounts
from payflow_app.services.accounts import InvalidCredentials
from payflow_app.ui import routes
from payflow_app.ui.components.layout import notice, page
from payflow_app.ui.session import SessionState, tr


def safe_next(value: str) -> str:
    """Only paths of this site: never an open redirect to another host."""
    return value if value.startswith("/") and not value.startswith("//") else routes.DASHBOARD


class LoginState(rx.State):
    error: str = ""

    @rx.event
    async def load(self):
        self.error = ""
        session = await self.get_state(SessionState)
        session.language()
        if await session.user() is not None:
            return rx.redirect(safe_next(self.router.url.query_parameters.get("next", "")))
        return None

    @rx.event
    async def submit(self, data: dict[str, str]):
        session = await self.get_state(SessionState)
        lang = session.language()
        email, password = data.get("email", "").strip(), data.get("password", "")
        if not email or not password:
            self.error = t(lang, "login.missing")
            return None
        try:
            user = await asyncio.to_thread(accounts.authenticate, email=email, password=password)
        except InvalidCredentials:
            self.error = t(lang, "login.invalid")
            return None
        self.error = ""
        session.sign_in(accounts.issue_session_token(user))
        await session.user()
        target = safe_next(self.router.url.query_parameters.get("next", ""))
        if user.must_change_password:
            return rx.redirect(f"{routes.CHANGE_PASSWORD}?next={quote(target, safe='')}")
        return rx.redirect(target)


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

"""``/account/password``: choose a new password (forced after a temporary one)."""

from __future__ import annotations

import asyncio

import reflex as rx

from payflow_app.core.errors import InvalidInput
from payflow_app.i18n import t
from payflow_app.services.accounts import customers
from payflow_app.ui.components.layout import notice, page
from payflow_app.ui.pages.login import safe_next
from payflow_app.ui.session import SessionState, require_user, tr


class PasswordState(rx.State):
    forced: bool = False
    errors: dict[str, str] = {}

    @rx.event
    async def load(self):
        self.errors = {}
        user = await require_user(self)
        if not isinstance(user, customers.SessionUser):
            return user
        self.forced = user.must_change_password
        return None

    @rx.event
    async def submit(self, data: dict[str, str]):
        session = await self.get_state(SessionState)
        lang, user = session.language(), await session.user()
        if user is None:
            return rx.redirect("/login")
        try:
            await asyncio.to_thread(
                customers.change_password,
                user_id=user.id,
                current_password=data.get("current_password", ""),
                new_password=data.get("new_password", ""),
                confirm=data.get("confirm_password", ""),
                keep_session=session.session_token(),
            )
        except InvalidInput as exc:
            self.errors = {
                field: t(lang, key, min=customers.MIN_PASSWORD_LENGTH) for field, key in exc.errors.items()
            }
            return None
        # Every other session of the account ended with the change; this one stays.
        await session.user()
        target = safe_next(self.router.url.query_parameters.get("next", ""))
        return [rx.toast.success(t(lang, "password.changed")), rx.redirect(target)]


def _field(label: rx.Var, name: str, autocomplete: str) -> rx.Component:
    return rx.el.div(
        rx.el.label(label, html_for=name),
        rx.el.input(id=name, name=name, type="password", auto_complete=autocomplete),
        rx.cond(
            PasswordState.errors.contains(name),
            rx.el.p(PasswordState.errors[name], class_name="field-error", id=f"{name}-error"),
        ),
        class_name="field",
    )


def change_password_page() -> rx.Component:
    return page(
        rx.cond(PasswordState.forced, notice(tr("password.forced"))),
        rx.el.form(
            _field(tr("password.current"), "current_password", "current-password"),
            _field(tr("password.new"), "new_password", "new-password"),
            _field(tr("password.confirm"), "confirm_password", "new-password"),
            rx.el.button(tr("password.submit"), type="submit", class_name="button"),
            on_submit=PasswordState.submit,
            reset_on_submit=False,
            class_name="checkout-form",
            no_validate=True,
        ),
        title=tr("password.title"),
    )

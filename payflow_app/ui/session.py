"""The tab's session: the signed-in customer (a signed token in a cookie) and the
language (remembered in a cookie, first picked from the browser). Imports no pages.

``tr(key)`` renders a catalogue message in the tab's language without a round trip:
both texts are compiled into the page and the language var picks one."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import reflex as rx
from reflex.event import EventSpec

from payflow_app.i18n import CATALOGUES, DEFAULT, negotiate, normalise
from payflow_app.services import accounts
from payflow_app.services.accounts import SessionUser
from payflow_app.settings import get_settings
from payflow_app.ui import routes

YEAR = 365 * 24 * 3600
SESSION_COOKIE = "payflow_session"


class SessionState(rx.State):
    token: str = rx.Cookie("", name=SESSION_COOKIE, max_age=get_settings().session_lifetime_hours * 3600)
    lang: str = rx.Cookie("", name="payflow_lang", max_age=YEAR)
    signed_in: bool = False
    user_name: str = ""
    user_role: str = ""

    async def user(self) -> SessionUser | None:
        """The signed-in customer, verified from the token (never a raw id)."""
        found = await asyncio.to_thread(accounts.session_user, self.token)
        self.signed_in = found is not None
        self.user_name = found.full_name if found else ""
        self.user_role = found.role if found else ""
        return found

    def language(self) -> str:
        if not self.lang:
            self.lang = negotiate(self.router.headers.accept_language)
        return normalise(self.lang)

    @rx.event
    async def resolve(self) -> None:
        """First on every page load: language and who is signed in."""
        self.language()
        await self.user()

    @rx.event
    async def switch_language(self, lang: str):
        self.lang = normalise(lang)
        found = await self.user()
        if found is not None:
            await asyncio.to_thread(accounts.set_language, user_id=found.id, language=self.lang)
        # Reload so every page state formats its amounts and dates again.
        yield rx.call_script("window.location.reload()")

    def sign_in(self, user_token: str) -> None:
        self.token = user_token

    @rx.event
    def log_out(self):
        self.token, self.signed_in, self.user_name, self.user_role = "", False, "", ""
        # An emptied Cookie var is not written back: the browser's copy is removed
        # explicitly, or the next page load would sign the tab in again.
        return [rx.remove_cookie(SESSION_COOKIE), rx.redirect(routes.EVENTS)]


def login_redirect(state: rx.State) -> EventSpec:
    """Send the tab to the login page; it comes back to where it was afterwards."""
    url = state.router.url
    here = url.path + (f"?{url.query}" if url.query else "")
    return rx.redirect(f"{routes.LOGIN}?next={quote(here, safe='')}", replace=True)


async def require_user(state: rx.State) -> SessionUser | EventSpec:
    """The signed-in customer, or the redirect to log in (or to set a password first)."""
    session = await state.get_state(SessionState)
    session.language()
    found = await session.user()
    if found is None:
        return login_redirect(state)
    if found.must_change_password and state.router.url.path.rstrip("/") != routes.CHANGE_PASSWORD:
        url = state.router.url
        return rx.redirect(f"{routes.CHANGE_PASSWORD}?next={quote(url.path, safe='')}")
    return found


def tr(key: str) -> rx.Var:
    """A catalogue message in the tab's language (English when untranslated)."""
    english = CATALOGUES[DEFAULT][key]
    polish = CATALOGUES["pl"].get(key, english)
    return rx.cond(SessionState.lang == "pl", polish, english)

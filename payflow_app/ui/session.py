"""The tab's session: the signed-in customer and the language (remembered in a
cookie, first picked from the browser). Imports no pages.

The session cookie is HttpOnly: page scripts never see it, and only the server sets
or clears it (``api/session.py``). The state reads it from the Cookie header of the
tab's websocket handshake (``router.headers.cookie``, which Reflex keeps server-side
and never sends to the page), so a login or logout reaches the state with the next
full page load, and every read checks the server-side session (revoked, idle,
expired) again.

``tr(key)`` renders a catalogue message in the tab's language without a round trip:
both texts are compiled into the page and the language var picks one."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

import reflex as rx
from reflex.event import EventSpec

from payflow_app.core import urls
from payflow_app.i18n import CATALOGUES, DEFAULT, negotiate, normalise
from payflow_app.services.accounts import customers, sessions
from payflow_app.services.accounts.customers import SessionUser
from payflow_app.services.accounts.sessions import GRANT_COOKIE, SESSION_COOKIE

YEAR = 365 * 24 * 3600
# Logging out is a POST (a link or an image elsewhere cannot log anyone out); its
# answer clears the HttpOnly cookie and lands on the events page.
_LOG_OUT_SCRIPT = (
    "const f = document.createElement('form'); f.method = 'post'; f.action = '/session/logout';"
    " document.body.appendChild(f); f.submit();"
)


def cookie_value(header: str, name: str) -> str:
    """One cookie of a Cookie header ('' when absent); tolerant of other sites' odd cookies."""
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value.strip().strip('"')
    return ""


def sign_in_script(grant: str) -> str:
    """The page's part of a login: keep the one-time grant in a cookie only the
    session routes receive, then load ``/session/grant``, which answers with the
    session cookie (see ``services.accounts.sessions``)."""
    cookie = f"{GRANT_COOKIE}={grant}; Path=/session; Max-Age=60; SameSite=Strict"
    return (
        f"document.cookie = {json.dumps(cookie)} + (location.protocol === 'https:' ? '; Secure' : '');"
        " window.location.assign('/session/grant');"
    )


class SessionState(rx.State):
    lang: str = rx.Cookie("", name="payflow_lang", max_age=YEAR)
    signed_in: bool = False
    user_name: str = ""
    user_role: str = ""

    def session_token(self) -> str:
        """The session cookie the browser sent when this tab's connection opened."""
        return cookie_value(self.router.headers.cookie, SESSION_COOKIE)

    async def user(self) -> SessionUser | None:
        """The signed-in customer of the server-side session (never a raw id)."""
        found = await asyncio.to_thread(sessions.session_user, self.session_token())
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
            await asyncio.to_thread(customers.set_language, user_id=found.id, language=self.lang)
        # Reload so every page state formats its amounts and dates again.
        yield rx.call_script("window.location.reload()")

    @rx.event
    async def log_out(self):
        # Ended here at once; the POST's answer then clears the browser's cookie.
        await asyncio.to_thread(sessions.end_session, self.session_token())
        self.signed_in, self.user_name, self.user_role = False, "", ""
        return rx.call_script(_LOG_OUT_SCRIPT)


def login_redirect(state: rx.State) -> EventSpec:
    """Send the tab to the login page; it comes back to where it was afterwards."""
    url = state.router.url
    here = url.path + (f"?{url.query}" if url.query else "")
    return rx.redirect(f"{urls.LOGIN}?next={quote(here, safe='')}", replace=True)


async def require_user(state: rx.State) -> SessionUser | EventSpec:
    """The signed-in customer, or the redirect to log in (or to set a password first)."""
    session = await state.get_state(SessionState)
    session.language()
    found = await session.user()
    if found is None:
        return login_redirect(state)
    if found.must_change_password and state.router.url.path.rstrip("/") != urls.CHANGE_PASSWORD:
        url = state.router.url
        return rx.redirect(f"{urls.CHANGE_PASSWORD}?next={quote(url.path, safe='')}")
    return found


def tr(key: str) -> rx.Var:
    """A catalogue message in the tab's language (English when untranslated)."""
    english = CATALOGUES[DEFAULT][key]
    polish = CATALOGUES["pl"].get(key, english)
    return rx.cond(SessionState.lang == "pl", polish, english)

"""The routes that set and clear the session cookie: only the server writes it.

``GET /session/grant`` redeems the one-time login grant the login page left in a
``SameSite=Strict`` cookie (see ``services.accounts.sessions``), sets the session cookie and
answers 303 to where the login was going; a missing, used or expired grant goes back
to the login page. ``POST /session/logout`` ends the server-side session and clears
the cookie (``Max-Age=0``, same attributes), then 303 to the events page.

The session cookie: ``HttpOnly`` (no page script reads it), ``SameSite=Lax``,
``Path=/`` (the pages' websocket reads it too), ``Secure`` whenever the public URL is
https, ``Max-Age`` the absolute session lifetime (the server ends idle sessions)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from payflow_app.api.errors import error_response
from payflow_app.services.accounts import sessions
from payflow_app.services.accounts.sessions import GRANT_COOKIE, SESSION_COOKIE
from payflow_app.settings import get_settings

LOGIN_PATH = "/login"
AFTER_LOGOUT = "/"


def _secure() -> bool:
    return get_settings().public_url.startswith("https://")


def _redirect(location: str) -> RedirectResponse:
    response = RedirectResponse(location, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    return response


def set_session_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=get_settings().session_lifetime_hours * 3600,
        path="/",
        secure=_secure(),
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", secure=_secure(), httponly=True, samesite="lax")


async def redeem_grant(request: Request) -> Response:
    redeemed = await asyncio.to_thread(sessions.redeem_login_grant, request.cookies.get(GRANT_COOKIE))
    if redeemed is None:
        response = _redirect(LOGIN_PATH)
    else:
        token, next_path = redeemed
        # A session this browser had before (another account) ends with the new login.
        await asyncio.to_thread(sessions.end_session, request.cookies.get(SESSION_COOKIE))
        response = _redirect(next_path)
        set_session_cookie(response, token)
    response.delete_cookie(GRANT_COOKIE, path="/session", secure=_secure(), samesite="strict")
    return response


async def log_out(request: Request) -> Response:
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        # Another site cannot log the customer out (nor clear the cookie).
        return error_response(403, "cross_site_request", "Log out from payflow's own pages.")
    await asyncio.to_thread(sessions.end_session, request.cookies.get(SESSION_COOKIE))
    response = _redirect(AFTER_LOGOUT)
    clear_session_cookie(response)
    return response

"""The signed-in customer of an API request: the same server-side session the pages
use, from the HttpOnly ``payflow_session`` cookie."""

from __future__ import annotations

import asyncio

from starlette.requests import Request

from payflow_app.services.accounts import sessions
from payflow_app.services.accounts.sessions import SESSION_COOKIE, SessionUser

__all__ = ["SESSION_COOKIE", "request_user"]


async def request_user(request: Request) -> SessionUser | None:
    return await asyncio.to_thread(sessions.session_user, request.cookies.get(SESSION_COOKIE))

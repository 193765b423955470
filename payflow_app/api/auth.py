"""The signed-in customer of an API request: the same session cookie the pages use."""

from __future__ import annotations

import asyncio

from starlette.requests import Request

from payflow_app.services import accounts
from payflow_app.services.accounts import SessionUser

SESSION_COOKIE = "payflow_session"


async def request_user(request: Request) -> SessionUser | None:
    return await asyncio.to_thread(accounts.session_user, request.cookies.get(SESSION_COOKIE))

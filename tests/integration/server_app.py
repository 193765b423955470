"""payflow's HTTP side for the integration tests: the API routes, the sandbox and the
lifespan workers the app runs (status bus, inbox worker, Stripe expiry sweeper, email
sender, reconciler). ``conftest.py`` serves it in a thread; the reliability suite's
SIGKILL test runs it in a process of its own, configured like the app by ``PAYFLOW_*``
environment variables:

    python -m uvicorn tests.integration.server_app:create_app --factory --port 8123
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from payflow_app.api import api_routes
from payflow_app.api.security import cors_middleware, protect_backend
from payflow_app.emails.sender import run_email_sender
from payflow_app.live.bus import bus
from payflow_app.sandbox import sandbox_routes
from payflow_app.sandbox.stripe_api import run_expiry_sweeper
from payflow_app.services.payments.inbox_worker import run_inbox_worker
from payflow_app.services.payments.reconciler import run_reconciler


@contextlib.asynccontextmanager
async def _lifespan(_app: Starlette) -> AsyncIterator[None]:
    workers = (bus.run, run_inbox_worker, run_expiry_sweeper, run_email_sender, run_reconciler)
    tasks = [asyncio.create_task(job()) for job in workers]
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def create_app() -> ASGIApp:
    """The routes behind CORS for our origins (what Reflex adds to the real app), and
    behind the same cross-site checks and security headers as the real app."""
    routes = Starlette(routes=api_routes() + sandbox_routes())
    return Starlette(lifespan=_lifespan, routes=[Mount("", app=protect_backend(cors_middleware(routes)))])

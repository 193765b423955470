"""A real HTTP server (uvicorn in a thread) with payflow's API routes, the Stripe
sandbox and the same lifespan workers the app runs: the inbox worker, the status bus,
the sandbox's expiry sweeper and the email sender."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from payflow_app.api import api_routes
from payflow_app.emails.sender import run_email_sender
from payflow_app.live.bus import bus
from payflow_app.sandbox import sandbox_routes
from payflow_app.sandbox.stripe_api import run_expiry_sweeper
from payflow_app.seed import seed
from payflow_app.services.inbox import run_inbox_worker
from payflow_app.services.reconciler import run_reconciler
from tests.conftest import use_database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def _lifespan(_app: Starlette) -> AsyncIterator[None]:
    workers = (bus.run, run_inbox_worker, run_expiry_sweeper, run_email_sender, run_reconciler)
    tasks = [asyncio.create_task(job()) for job in workers]
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
def server(sqlite_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    use_database(
        sqlite_db,
        tmp_path,
        monkeypatch,
        public_url=base,
        sandbox_webhook_delay_seconds="0.05",
        sandbox_expiry_sweep_seconds="0.2",
    )
    seed()
    app = Starlette(routes=api_routes() + sandbox_routes(), lifespan=_lifespan)
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline, "test server did not start"
        time.sleep(0.02)
    yield base
    uv.should_exit = True
    thread.join(timeout=10)


def wait_until(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def http(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=10, follow_redirects=False) as client:
        yield client

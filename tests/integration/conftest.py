"""A real HTTP server (uvicorn in a thread) serving payflow's HTTP side as
``server_app.create_app`` builds it: the API routes, the sandboxes and the
lifespan workers the app runs (status bus, inbox worker, Stripe expiry sweeper, email
sender, reconciler)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from payflow_app.seed import seed
from tests.conftest import use_database
from tests.integration.server_app import create_app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(sqlite_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield from _serve(sqlite_db, tmp_path, monkeypatch)


@pytest.fixture
def any_server(any_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The server on each database payflow supports (``any_db``)."""
    yield from _serve(any_db, tmp_path, monkeypatch)


def _serve(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    use_database(
        url,
        tmp_path,
        monkeypatch,
        public_url=base,
        sandbox_webhook_delay_seconds="0.05",
        sandbox_expiry_sweep_seconds="0.2",
    )
    seed()
    app = create_app()
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

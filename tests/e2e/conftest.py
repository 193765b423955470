"""Serves the real app exactly as ``make run`` does (``tests/served.py``) on a test
port with its own SQLite database, and drives Debian's chromium with Playwright."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from tests.conftest import ROOT
from tests.served import app_env, served_app

PORT = int(os.environ.get("PAYFLOW_E2E_PORT", "3111"))
BASE = f"http://localhost:{PORT}"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# Every page reports what the Content-Security-Policy blocked, as a console error.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`securitypolicyviolation: ${e.violatedDirective} blocked ${e.blockedURI || "inline code"}`
    + ` in ${e.documentURI} (${e.sourceFile || "?"}:${e.lineNumber})`);
});
"""
CSP_VIOLATIONS: list[str] = []


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("e2e")
    env = app_env(
        PORT,
        f"sqlite:///{work / 'payflow.db'}",
        work / "data",
        PAYFLOW_PUBLIC_URL=BASE,
        # Every journey checks out as a guest from 127.0.0.1, in one app for the session.
        PAYFLOW_CHECKOUTS_PER_ADDRESS_PER_HOUR="1000",
        PAYFLOW_CHECKOUTS_PER_EMAIL_PER_HOUR="1000",
        # Short, so the "confirmation is delayed" notice can be seen in a test.
        PAYFLOW_PAYMENT_DELAYED_AFTER_SECONDS="4",
        PAYFLOW_MPESA_DELAYED_AFTER_SECONDS="6",
        # A payment whose callback never comes is asked about within seconds.
        PAYFLOW_PENDING_SYNC_FIRST_SECONDS="2",
        PAYFLOW_PENDING_SYNC_MAX_SECONDS="3",
        # ... and flagged for an operator after 8 unanswered queries (~25 s); a webhook
        # whose processing keeps failing is dead-lettered after 5 s.
        PAYFLOW_PENDING_SYNC_MAX_ATTEMPTS="8",
        PAYFLOW_INBOX_RETRY_FIRST_SECONDS="0.5",
        PAYFLOW_INBOX_RETRY_FOR_SECONDS="5",
    )
    with served_app(PORT, env, work / "app.log") as app:
        yield {"base": BASE, "db": str(work / "payflow.db"), "log": str(app.log), "env": env}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        _watch_csp(launched)
        yield launched
        launched.close()


# Reflex's client calls ``window.__reflex_otel.onSocketConnect`` once its websocket is
# up, which is after React has hydrated the page (the socket is opened by an effect).
NOTE_SOCKET_CONNECTED = """
window.__reflex_otel = Object.assign(window.__reflex_otel || {}, {
  onSocketConnect() { window.__payflow_live = true; },
});
"""


def wait_until_live(page: Page, timeout: float = 60_000) -> None:
    """Until the page's websocket is connected (after React has rendered it): an event
    sent before waits in the client for the socket. The run's first page, right after
    a fresh build and start, once took over a minute to get there; its budget is then
    its own, not the checkout's."""
    page.wait_for_function("window.__payflow_live === true", timeout=timeout)


def _watch_csp(browser: Browser) -> None:
    """Every context the tests open (through the ``page`` fixture or their own) records
    what the Content-Security-Policy blocks, in any of its pages and frames."""
    new_context = browser.new_context

    def watched_new_context(**options: Any) -> BrowserContext:
        context = new_context(**options)
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        context.add_init_script(NOTE_SOCKET_CONNECTED)
        context.on("console", _record_csp_violation)
        return context

    browser.new_context = watched_new_context  # type: ignore[method-assign]


def _record_csp_violation(message: ConsoleMessage) -> None:
    text = message.text
    if message.type == "error" and ("securitypolicyviolation" in text or "Content Security Policy" in text):
        CSP_VIOLATIONS.append(f"{message.location.get('url', '?')}: {text}")


@pytest.fixture(autouse=True)
def no_csp_violations() -> Iterator[None]:
    """A page that breaks under the app's Content-Security-Policy fails its test."""
    CSP_VIOLATIONS.clear()
    yield
    if CSP_VIOLATIONS:
        pytest.fail("the Content-Security-Policy blocked:\n" + "\n".join(dict.fromkeys(CSP_VIOLATIONS)))


@pytest.fixture
def page(browser: Browser, app_server: dict[str, str]) -> Iterator[Page]:
    context = browser.new_context(base_url=app_server["base"])
    context.set_default_timeout(20_000)
    new_page = context.new_page()
    yield new_page
    context.close()


@pytest.fixture
def make_customer(app_server: dict[str, Any]) -> Callable[..., str]:
    """Creates a customer (password ``secret-password``) in the app's database,
    with ``fund`` minor units of PLN in the wallet; answers the email."""

    def make(fund: int = 0) -> str:
        email = f"c{uuid.uuid4().hex[:8]}@example.com"
        subprocess.run(
            [sys.executable, "-m", "tests.e2e.accounts", email, "secret-password", str(fund)],
            cwd=ROOT,
            env=app_server["env"],
            check=True,
        )
        return email

    return make


def log_in(
    page: Page, email: str, password: str = "secret-password", *, next_path: str = "/dashboard"
) -> None:
    page.goto(f"/login?next={next_path}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    # The login ends with full page loads (/session/grant sets the HttpOnly session
    # cookie, then 303 to next): wait until the page itself is there, not just a URL
    # naming it (the login page's own ?next= does).
    page.wait_for_function("p => location.pathname.replace(/\\/$/, '') === p", arg=next_path.rstrip("/"))
    assert any(c["name"] == "payflow_session" and c["httpOnly"] for c in page.context.cookies())


@pytest.fixture(scope="session")
def page_world(app_server: dict[str, Any]) -> dict[str, Any]:
    """People and a paid order in the app's database, with a session for each person
    (``tests/e2e/page_world.py``): made once for the whole e2e run."""
    return make_world("tests.e2e.page_world", app_server)


def make_world(module: str, app_server: dict[str, Any]) -> dict[str, Any]:
    """Run ``python -m module`` with the app's environment (its database): the JSON
    it prints last describes what it made."""
    made = subprocess.run(
        [sys.executable, "-m", module],
        cwd=ROOT,
        env=app_server["env"],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(made.stdout.strip().splitlines()[-1]))


def session_cookie(base: str, token: str) -> dict[str, Any]:
    """The session cookie as the server sets it, for a context signed in without logging in."""
    return {"name": "payflow_session", "value": token, "url": base, "httpOnly": True, "sameSite": "Lax"}


@pytest.fixture
def open_as(browser: Browser, app_server: dict[str, Any], page_world: dict[str, Any]) -> Iterator[Any]:
    """``open_as(person, lang, width)``: a new page in a window ``width`` px wide, in
    ``lang``, signed in as one of ``page_world``'s people (or "anonymous")."""
    contexts = []

    def open_(person: str, lang: str, width: int) -> Page:
        context = browser.new_context(base_url=app_server["base"], viewport={"width": width, "height": 844})
        context.set_default_timeout(20_000)
        cookies: list[Any] = [{"name": "payflow_lang", "value": lang, "url": app_server["base"]}]
        if person != "anonymous":
            cookies.append(session_cookie(app_server["base"], page_world["tokens"][person]))
        context.add_cookies(cookies)
        contexts.append(context)
        return context.new_page()

    yield open_
    for context in contexts:
        context.close()

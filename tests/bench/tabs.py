"""Customers' tabs waiting on ``/payment/<orderId>`` in Debian's chromium: each tab
records, with a MutationObserver, the moment (``Date.now()``, the same clock as the
benchmark's: one machine) its page first shows the order confirmed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

CONFIRMED = "Payment received"
# Installed once the waiting page is up; sets window.__confirmedAt at the first DOM
# change after which a heading says the payment was received.
OBSERVE = """confirmed => {
  const seen = () => [...document.querySelectorAll("h1, h2, h3")].some(h => h.textContent.includes(confirmed));
  window.__confirmedAt = null;
  const observer = new MutationObserver(() => {
    if (seen()) { window.__confirmedAt = Date.now(); observer.disconnect(); }
  });
  observer.observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_waiting(browser: Browser, base: str, order_id: str) -> Page:
    """A tab on the order's waiting page, connected and watching."""
    page = browser.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{base}/payment/{order_id}")
    page.get_by_role("heading", name="Waiting for payment").wait_for()
    page.evaluate(OBSERVE, CONFIRMED)
    return page


def confirmed_at(page: Page, timeout_ms: float = 60_000) -> float:
    """When (epoch ms) the tab showed the order confirmed; waits for it."""
    page.wait_for_function("window.__confirmedAt !== null", timeout=timeout_ms)
    return float(page.evaluate("window.__confirmedAt"))

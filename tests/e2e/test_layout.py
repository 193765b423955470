"""The customer pages look finished on a phone and on a laptop, in both languages:
nothing runs off the side, the header's items and paired buttons keep a gap
between them, and every header item is on screen (on a phone, behind "Menu").
Screenshots of every page are saved in the test's tmp dir for a person to look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e
VIEWPORTS = {"phone": (390, 844), "laptop": (1280, 800)}
GAP = 4  # px, at least, between two header items or two paired buttons
MENU = {"en": "Menu", "pl": "Menu"}

# The visible boxes of what a selector names, as {text, left, top, right, bottom}.
BOXES = """selector => [...document.querySelectorAll(selector)]
  .filter(el => el.checkVisibility() && el.getClientRects().length > 0)
  .map(el => { const r = el.getBoundingClientRect();
               return {text: el.innerText.trim() || el.tagName, left: r.left, top: r.top,
                       right: r.right, bottom: r.bottom}; })"""
HEADER_ITEMS = ".site-header :is(a, button, summary, .account-name)"
# Buttons shown side by side: each group's own buttons and links.
PAIRED_GROUPS = """() => [...document.querySelectorAll(".actions, .lang-switch, .account")]
  .filter(el => el.checkVisibility())
  .map(group => [...group.children].filter(el => el.checkVisibility()).map(el => {
    const r = el.getBoundingClientRect();
    return {text: el.innerText.trim(), left: r.left, top: r.top, right: r.right, bottom: r.bottom};
  }))"""


def _apart(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """At least GAP px between two boxes, side by side or one above the other."""
    return (
        b["left"] - a["right"] >= GAP
        or a["left"] - b["right"] >= GAP
        or b["top"] - a["bottom"] >= GAP
        or a["top"] - b["bottom"] >= GAP
    )


def _assert_apart(boxes: list[dict[str, Any]], where: str) -> None:
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert _apart(a, b), f"{where}: {a['text']!r} and {b['text']!r} touch: {a} {b}"


def _assert_on_screen(page: Page, boxes: list[dict[str, Any]], where: str) -> None:
    width, height = page.evaluate("() => [window.innerWidth, window.innerHeight]")
    for box in boxes:
        inside = box["left"] >= 0 and box["top"] >= 0 and box["right"] <= width and box["bottom"] <= height
        assert inside, f"{where}: {box['text']!r} is not all on screen ({width}×{height}): {box}"


def _check(page: Page, where: str, shots: Path) -> None:
    page.screenshot(path=shots / f"{where}.png", full_page=True)
    scroll_width, width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= width, f"{where}: the page is {scroll_width}px wide in a {width}px window"
    header = page.evaluate(BOXES, HEADER_ITEMS)
    assert header, f"{where}: no header items"
    _assert_apart(header, f"{where} header")
    _assert_on_screen(page, header, f"{where} header")
    for group in page.evaluate(PAIRED_GROUPS):
        _assert_apart(group, f"{where} buttons")
    menu = page.locator(".header-menu > summary")
    if menu.is_visible():
        menu.click()
        expect(page.locator(".header-menu")).to_have_attribute("open", "")
        opened = page.evaluate(BOXES, HEADER_ITEMS)
        assert len(opened) > len(header), f"{where}: the menu showed nothing"
        _assert_apart(opened, f"{where} menu")
        _assert_on_screen(page, opened, f"{where} menu")
        for group in page.evaluate(PAIRED_GROUPS):
            _assert_apart(group, f"{where} menu buttons")
        page.screenshot(path=shots / f"{where}-menu.png", full_page=True)
        menu.click()


def _visit(page: Page, path: str, lang: str, *, ready: str) -> None:
    page.goto(path)
    # The page is in its language and done loading: the pressed language button and
    # a text of the page's own.
    page.wait_for_function(
        "lang => document.querySelector(`.lang[lang='${lang}'][aria-pressed='true']`) !== null", arg=lang
    )
    expect(page.locator("main").get_by_text(ready).first).to_be_visible()
    page.wait_for_timeout(300)  # let late pieces (a toast, a QR) settle before measuring


READY = {
    "en": {
        "events": "Upcoming events",
        "login": "Log in",
        "event": "Buy tickets",
        "dashboard": "Wallet",
        "tickets": "Show QR",
        "membership": "Become a member",
    },
    "pl": {
        "events": "Nadchodzące wydarzenia",
        "login": "Logowanie",
        "event": "Kup bilety",
        "dashboard": "Portfel",
        "tickets": "Pokaż QR",
        "membership": "Zostań członkiem",
    },
}


@pytest.mark.parametrize("lang", ["en", "pl"])
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_customer_pages_fit_and_keep_their_spacing(
    open_as: Any, viewport: str, lang: str, tmp_path: Path
) -> None:
    ready = READY[lang]
    width = VIEWPORTS[viewport][0]
    guest = open_as("anonymous", lang, width)
    _visit(guest, "/login", lang, ready=ready["login"])
    _check(guest, f"{viewport}-{lang}-login", tmp_path)

    customer = open_as("customer", lang, width)
    _visit(customer, "/", lang, ready=ready["events"])
    _check(customer, f"{viewport}-{lang}-events", tmp_path)
    event_href = customer.locator("main a.button").first.get_attribute("href")
    assert event_href
    _visit(customer, event_href, lang, ready=ready["event"])
    _check(customer, f"{viewport}-{lang}-event", tmp_path)
    for name, path in (("dashboard", "/dashboard"), ("tickets", "/wallet"), ("membership", "/membership")):
        _visit(customer, path, lang, ready=ready[name])
        _check(customer, f"{viewport}-{lang}-{name}", tmp_path)
    print(f"screenshots: {tmp_path}")

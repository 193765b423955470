"""Every page of the app, as someone who may open it, in English and Polish: it fits a
phone (360 and 430 px) and a laptop (1280 px) with nothing running off the side or cut
off, and axe-core finds no accessibility violation on a phone and on a laptop. A
customer's page in Polish shows none of the catalogue's English texts.

The pages come from the page-access matrix (``test_page_access.RULES``), which itself
must name every route of the app: a new page is checked here without being listed.
Screenshots are saved in the test's tmp dir for a person to look at."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from payflow_app.i18n.en import MESSAGES as EN
from payflow_app.i18n.pl import MESSAGES as PL
from tests.e2e.test_page_access import CONTENT, NOT_FOUND, RULES

pytestmark = pytest.mark.e2e
WIDTHS = (360, 430, 1280)  # px; the page is loaded once, then the window resized
AXE_WIDTHS = (360, 1280)
# Whom to show each page to: the first of these it opens for (a page for everyone as
# a visitor sees it, signed out).
VISITORS = ("anonymous", "customer", "organizer", "admin")
AXE = Axe()
# Whose pages must be all Polish when Polish is chosen: a customer's (the organizer's
# and the operator's tools are in English, the catalogue's texts aside).
CUSTOMERS = ("anonymous", "customer")

# Visible elements that reach past the window's right edge, outside any box that
# scrolls sideways on purpose (a wide table in its scroller); text cut off by a box
# too narrow for it (overflow hidden with more content than fits); and placeholders
# wider than their empty field.
OFF_SCREEN = """() => {
  const width = window.innerWidth;
  const scrolls = el => { for (let p = el.parentElement; p; p = p.parentElement) {
      const s = getComputedStyle(p); if (['auto', 'scroll'].includes(s.overflowX) && p !== document.documentElement && p !== document.body) return true; }
    return false; };
  const name = el => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${[...el.classList].join('.')} "${(el.innerText || el.value || el.placeholder || '').trim().slice(0, 40)}"`;
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    if (!el.checkVisibility() || el.getClientRects().length === 0) continue;
    if (el.closest('.sr-only')) continue;  // for screen readers: clipped to nothing on purpose
    const r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1) continue;  // nothing to see, or text for screen readers only
    if (r.right > width + 1 && !scrolls(el)) out.push(`${name(el)} reaches ${Math.round(r.right)}px`);
    const s = getComputedStyle(el);
    const cuts = ['hidden', 'clip'].includes(s.overflowX) && el.scrollWidth > el.clientWidth + 1
      && el.children.length === 0 && (el.innerText || '').trim() !== '';
    if (cuts) out.push(`${name(el)} is cut: ${el.scrollWidth}px of text in ${el.clientWidth}px`);
    if (el.tagName === 'INPUT' && el.placeholder && !el.value) {
      const ctx = (window.__measure ||= document.createElement('canvas').getContext('2d'));
      ctx.font = `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
      const room = el.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
      const needs = ctx.measureText(el.placeholder).width;
      if (needs > room + 1) out.push(`${name(el)}: the placeholder needs ${Math.round(needs)}px, has ${Math.round(room)}px`);
    }
  }
  return out;
}"""


# The text a reader sees, but for parts marked as in another language than the page's.
SHOWN_IN_PAGE_LANGUAGE = """page => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const parts = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest('script, style, template') || !parent.checkVisibility()) continue;
    const marked = parent.closest('[lang]');
    if (marked && marked !== document.documentElement && marked.lang !== page) continue;
    parts.push(node.textContent);
  }
  return parts.join(' ');
}"""


def _english_only() -> list[str]:
    """English catalogue texts of two words or more that Polish says otherwise,
    without their placeholders' surroundings (the parts shown as they are)."""
    texts = []
    for key, english in EN.items():
        if english == PL.get(key):
            continue
        texts += [part.strip() for part in re.split(r"\{\w+\}", english) if len(part.strip().split()) >= 2]
    return texts


def _visitor(route: str) -> tuple[str, str]:
    """Who sees the page as its users do, and what they see (the page, or its not-found)."""
    outcome = RULES[route].outcome
    for person in VISITORS:
        if outcome[person] == CONTENT:
            return person, CONTENT
    return "anonymous", outcome["anonymous"]


def _settle(page: Page, url: str, lang: str) -> None:
    page.goto(url)
    page.wait_for_function(
        "lang => document.querySelector(`.lang[lang='${lang}'][aria-pressed='true']`) !== null", arg=lang
    )
    # Loaded: a heading of the page's own, and no "Loading…" left in the main area.
    page.wait_for_function(
        """() => { const main = document.querySelector('main');
                   const h1 = main && main.querySelector('h1');
                   return h1 && h1.innerText.trim() !== '' && !/Loading|Ładowanie|Wczytywanie/.test(main.innerText); }"""
    )
    page.wait_for_timeout(400)  # late pieces (a toast, a QR, a chart) settle


@pytest.mark.parametrize("lang", ["en", "pl"])
@pytest.mark.parametrize("route", list(RULES))
def test_the_page_fits_every_width_and_has_no_accessibility_violations(
    open_as: Any, page_world: dict[str, Any], route: str, lang: str, tmp_path: Path
) -> None:
    person, outcome = _visitor(route)
    url = RULES[route].url(page_world)
    problems: list[str] = []
    page = open_as(person, lang, WIDTHS[0])
    _settle(page, url, lang)
    for width in sorted({*WIDTHS, *AXE_WIDTHS}):
        page.set_viewport_size({"width": width, "height": 844})
        page.wait_for_timeout(150)  # the layout follows the new width
        where = f"{url} as {person} at {width}px in {lang}"
        page.screenshot(path=tmp_path / f"{width}-{lang}.png", full_page=True)
        if width in WIDTHS:
            scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
            if scroll_width > width:
                problems.append(f"{where}: the page is {scroll_width}px wide")
            problems += [f"{where}: {item}" for item in page.evaluate(OFF_SCREEN)]
        if width in AXE_WIDTHS:
            results = AXE.run(page)
            for violation in results.response["violations"]:
                targets = [", ".join(node["target"]) for node in violation["nodes"]][:4]
                problems.append(f"{where}: axe {violation['id']} ({violation['help']}): {targets}")
    if lang == "pl" and person in CUSTOMERS:
        # What is marked as in another language (an email's subject, as it was sent) aside.
        text = page.evaluate(SHOWN_IN_PAGE_LANGUAGE, lang)
        problems += [
            f"{url} in Polish shows English: {english!r}" for english in _english_only() if english in text
        ]
    assert outcome in (CONTENT, NOT_FOUND)
    print(f"screenshots: {tmp_path}")
    assert not problems, "\n".join(problems)

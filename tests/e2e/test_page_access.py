"""Who sees what on every page: anonymous, a customer, another customer, the event's
organizer, another organizer, an admin × every page route of the app, in chromium.

Each visit must end the way its rule says — the page itself, sent to log in,
"Operators only", "Organizers only", or not found — and the page's text must hold no
one else's data (the buyer's email, order and ticket numbers) unless that person may
see it. The page routes come from the app's own table, so a new page fails
``test_every_page_has_a_rule`` until it says who may open it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from payflow_app.core import urls
from tests.e2e.conftest import session_cookie

pytestmark = pytest.mark.e2e

PEOPLE = ("anonymous", "customer", "other customer", "organizer", "other organizer", "admin")
SIGNED_IN = PEOPLE[1:]
CONTENT, LOGIN, OPERATORS_ONLY, ORGANIZERS_ONLY, NOT_FOUND = (
    "content",
    "login",
    "operators only",
    "organizers only",
    "not found",
)
REFUSALS = {
    OPERATORS_ONLY: "Operators only",
    ORGANIZERS_ONLY: "Organizers only",
}
NOT_FOUND_TEXTS = ("Event not found", "Order not found", "Payment not found")


@dataclass(frozen=True)
class PageRule:
    url: Callable[[dict[str, Any]], str]
    outcome: dict[str, str]  # person → the outcome
    # Whose data the page may show, per marker kind ("email", "order", "ticket").
    may_show: dict[str, set[str]]
    # What the page must show whom (proves the markers are looked for where they are).
    must_show: tuple[tuple[str, str], ...] = ()


def everyone(outcome: str) -> dict[str, str]:
    return dict.fromkeys(PEOPLE, outcome)


def signed_in() -> dict[str, str]:
    return {"anonymous": LOGIN} | dict.fromkeys(SIGNED_IN, CONTENT)


def operators() -> dict[str, str]:
    return {"anonymous": LOGIN, "admin": CONTENT} | {p: OPERATORS_ONLY for p in SIGNED_IN if p != "admin"}


def event_owner() -> dict[str, str]:
    return {
        "anonymous": LOGIN,
        "customer": ORGANIZERS_ONLY,
        "other customer": ORGANIZERS_ONLY,
        "organizer": CONTENT,
        "other organizer": NOT_FOUND,
        "admin": CONTENT,
    }


NOBODY: dict[str, set[str]] = {}
BUYER_ONLY = NOBODY  # the buyer's own pages: the buyer (below) and no one else
# A capability URL (the provider's session id, the order's reference) is the buyer's
# own link: whoever holds it sees that purchase.
LINK_HOLDER = {kind: set(PEOPLE) for kind in ("order", "ticket", "email")}
ATTENDEES = {kind: {"organizer", "admin"} for kind in ("order", "ticket", "email")}
OPERATOR = {kind: {"admin"} for kind in ("order", "ticket", "email")}

RULES: dict[str, PageRule] = {
    urls.EVENTS: PageRule(lambda w: "/", everyone(CONTENT), NOBODY),
    urls.EVENT: PageRule(lambda w: urls.event_path("warsaw-jazz-night"), everyone(CONTENT), NOBODY),
    urls.PAYMENT_SUCCESS: PageRule(
        lambda w: urls.success_path(w["session_id"]), everyone(CONTENT), LINK_HOLDER
    ),
    urls.PAYMENT_CANCEL: PageRule(
        lambda w: f"{urls.PAYMENT_CANCEL}?session_id=cs_test_made_up", everyone(NOT_FOUND), NOBODY
    ),
    urls.LOGIN: PageRule(lambda w: urls.LOGIN, everyone(CONTENT), NOBODY),
    urls.CHANGE_PASSWORD: PageRule(lambda w: urls.CHANGE_PASSWORD, signed_in(), NOBODY),
    urls.DASHBOARD: PageRule(lambda w: urls.DASHBOARD, signed_in(), BUYER_ONLY),
    urls.MY_TICKETS: PageRule(
        lambda w: urls.MY_TICKETS, signed_in(), BUYER_ONLY, must_show=(("customer", "ticket"),)
    ),
    urls.MEMBERSHIP: PageRule(lambda w: urls.MEMBERSHIP, everyone(CONTENT), NOBODY),
    urls.CARD_RETURN: PageRule(
        lambda w: f"{urls.CARD_RETURN}?paymentId=pay_made_up", everyone(NOT_FOUND), NOBODY
    ),
    urls.CARD_SUCCESS: PageRule(
        lambda w: f"{urls.CARD_SUCCESS}?paymentId=pay_made_up", everyone(NOT_FOUND), NOBODY
    ),
    urls.CARD_CANCEL: PageRule(
        lambda w: f"{urls.CARD_CANCEL}?paymentId=pay_made_up", everyone(NOT_FOUND), NOBODY
    ),
    # The waiting page by the order's row id (a guessable number) shows nothing.
    urls.MPESA_PAYMENT: PageRule(lambda w: urls.mpesa_path(str(w["order_id"])), everyone(NOT_FOUND), NOBODY),
    urls.ADMIN: PageRule(lambda w: urls.ADMIN, operators(), OPERATOR),
    urls.ADMIN_ORDER: PageRule(
        lambda w: urls.admin_order_path(w["order_id"]),
        operators(),
        OPERATOR,
        must_show=(("admin", "order"),),
    ),
    urls.ADMIN_METRICS: PageRule(lambda w: urls.ADMIN_METRICS, operators(), OPERATOR),
    urls.ORGANIZER: PageRule(
        lambda w: urls.ORGANIZER,
        {"anonymous": LOGIN, "customer": ORGANIZERS_ONLY, "other customer": ORGANIZERS_ONLY}
        | dict.fromkeys(("organizer", "other organizer", "admin"), CONTENT),
        NOBODY,
    ),
    urls.ORGANIZER_EVENT: PageRule(
        lambda w: urls.organizer_event_path(w["event_id"]), event_owner(), ATTENDEES
    ),
    urls.ORGANIZER_EDIT: PageRule(
        lambda w: urls.organizer_event_path(w["event_id"], "edit"), event_owner(), NOBODY
    ),
    urls.ORGANIZER_ATTENDEES: PageRule(
        lambda w: urls.organizer_event_path(w["event_id"], "attendees"),
        event_owner(),
        ATTENDEES,
        must_show=(("organizer", "email"), ("admin", "email")),
    ),
    urls.ORGANIZER_CHECKIN: PageRule(
        lambda w: urls.organizer_event_path(w["event_id"], "checkin"), event_owner(), ATTENDEES
    ),
}


def test_every_page_has_a_rule() -> None:
    from payflow_app.payflow_app import PAGES

    pages = {route for _, route, _, _ in PAGES}
    assert pages == set(RULES), f"say who may open: {pages - set(RULES)}; stale: {set(RULES) - pages}"


@pytest.fixture
def pages(
    browser: Browser, app_server: dict[str, Any], page_world: dict[str, Any]
) -> Iterator[dict[str, Page]]:
    """One browser context per person, signed in by the session cookie the server sets."""
    contexts = {}
    for person in PEOPLE:
        context = browser.new_context(base_url=app_server["base"])
        context.set_default_timeout(15_000)
        if person != "anonymous":
            context.add_cookies([session_cookie(app_server["base"], page_world["tokens"][person])])
        contexts[person] = context
    yield {person: context.new_page() for person, context in contexts.items()}
    for context in contexts.values():
        context.close()


def _outcome(page: Page) -> str | None:
    """What the page ended as, once it says so; None while it is still loading."""
    if page.url.split("?")[0].endswith(urls.LOGIN) and "next=" in page.url:
        return LOGIN
    text = page.locator("main").first.inner_text() if page.locator("main").count() else ""
    for outcome, refusal in REFUSALS.items():
        if refusal in text:
            return outcome
    if any(missing in text for missing in NOT_FOUND_TEXTS):
        return NOT_FOUND
    heading = page.locator("h1")
    if heading.count() and heading.first.inner_text().strip() and "Loading" not in text:
        return CONTENT
    return None


def _visit(page: Page, url: str, expected: str) -> str:
    page.goto(url)
    deadline = time.monotonic() + 15
    seen = None
    while time.monotonic() < deadline:
        seen = _outcome(page)
        if seen == expected:
            # A page shown first may still send its visitor elsewhere: let it settle.
            page.wait_for_timeout(600)
            return _outcome(page) or "loading"
        page.wait_for_timeout(100)
    return seen or "loading"


def test_each_person_sees_what_the_rule_gives_and_no_one_elses_data(
    pages: dict[str, Page], page_world: dict[str, Any]
) -> None:
    markers = {
        "email": page_world["buyer_email"],
        "order": page_world["order_number"],
        "ticket": page_world["ticket_number"],
    }
    matrix: dict[str, dict[str, str]] = {}
    wrong, leaks = [], []
    for route, rule in RULES.items():
        url = rule.url(page_world)
        for person in PEOPLE:
            page = pages[person]
            got = _visit(page, url, rule.outcome[person])
            matrix.setdefault(route, {})[person] = got
            if got != rule.outcome[person]:
                wrong.append(f"{url} as {person}: {got}, expected {rule.outcome[person]}")
            text = page.locator("body").inner_text()
            for kind in (k for who, k in rule.must_show if who == person):
                if markers[kind] not in text:
                    wrong.append(f"{url} as {person} does not show the buyer's {kind}")
            for kind, marker in markers.items():
                # The buyer seeing their own purchase is never a leak.
                if person != "customer" and marker in text and person not in rule.may_show.get(kind, set()):
                    leaks.append(f"{url} as {person} shows the buyer's {kind} {marker}")
    width = max(map(len, matrix))
    print("\n" + " " * width + " | " + " | ".join(f"{p:>15}" for p in PEOPLE))
    for route, row in matrix.items():
        print(f"{route:<{width}} | " + " | ".join(f"{row[p]:>15}" for p in PEOPLE))
    assert not wrong, "\n".join(wrong)
    assert not leaks, "\n".join(leaks)

"""The operator console as an operator uses it: they log in and land on it; find the
order a customer names by any of its identifiers (never by a row id); see the filters
as tabs with their counts, opened on the first that lists something. The organizer's
and the operators' figures are charts — an SVG with a bar or point per figure, named
by its caption, its numbers in a table — at a phone's width and a desktop's."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from payflow_app.seed import DEMO_PASSWORD
from tests.e2e.conftest import log_in, make_world, session_cookie

pytestmark = pytest.mark.e2e

FILTERS = 7  # StuckFilter's members, each a tab


@pytest.fixture(scope="module")
def late_order(app_server: dict[str, Any]) -> dict[str, Any]:
    return make_world("tests.e2e.console_world", app_server)


def _signed_in(browser: Browser, app_server: dict[str, Any], token: str, width: int = 1280) -> Page:
    context = browser.new_context(base_url=app_server["base"], viewport={"width": width, "height": 844})
    context.set_default_timeout(20_000)
    context.add_cookies([session_cookie(app_server["base"], token)])  # type: ignore[list-item]
    return context.new_page()


def test_an_operator_who_logs_in_lands_on_the_console_unless_next_says_otherwise(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill("admin@payflow.test")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Operations")).to_be_visible()
    assert page.url.rstrip("/").endswith("/admin")
    page.context.clear_cookies()
    log_in(page, "admin@payflow.test", DEMO_PASSWORD, next_path="/admin/metrics")  # next wins
    expect(page.get_by_role("heading", name="Metrics")).to_be_visible()


def _search(page: Page, text: str) -> Locator:
    page.get_by_role("searchbox", name="Find an order").fill(text)
    page.get_by_role("button", name="Find", exact=True).click()
    return page.locator(".search-results")


def test_an_operator_finds_an_order_by_what_the_customer_names(
    browser: Browser, app_server: dict[str, Any], page_world: dict[str, Any], late_order: dict[str, Any]
) -> None:
    page = _signed_in(browser, app_server, page_world["tokens"]["admin"])
    page.goto("/admin")
    expect(page.get_by_role("heading", name="Operations")).to_be_visible()
    link = f"a[href='/admin/orders/{late_order['order_id']}']"
    for text, found_by in (
        (late_order["order_number"], "Order number"),
        (late_order["ticket_number"].lower(), "Ticket number"),
        (late_order["email"].upper(), "Email"),
        (late_order["reference"], "Provider reference"),
    ):
        results = _search(page, text)
        rows = results.get_by_role("table", name="Orders found").locator("tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.locator(link)).to_have_text(late_order["order_number"])
        expect(rows).to_contain_text(found_by)

    # A row id names nothing: it is not an identifier anyone is given.
    results = _search(page, str(late_order["order_id"]))
    expect(results).to_contain_text(f"Nothing found for {late_order['order_id']}")
    expect(results.get_by_role("table")).to_have_count(0)
    results.get_by_role("button", name="Clear the search").click()
    expect(page.locator(".search-results")).to_have_count(0)

    # From the address too (?q=), and on to the order's timeline.
    page.goto(f"/admin?q={late_order['reference']}")
    page.locator(".search-results").locator(link).click()
    expect(page.get_by_role("list", name="Timeline")).to_be_visible()
    page.context.close()


def _count(tab: Locator) -> int:
    return int(tab.locator(".count").inner_text())


def test_filters_are_tabs_with_counts_opening_on_the_first_that_lists_something(
    browser: Browser, app_server: dict[str, Any], page_world: dict[str, Any], late_order: dict[str, Any]
) -> None:
    page = _signed_in(browser, app_server, page_world["tokens"]["admin"], width=390)
    page.goto("/admin")
    tabs = page.get_by_role("tablist", name="Filters").get_by_role("tab")
    expect(tabs).to_have_count(FILTERS)
    expect(tabs.last).to_contain_text("Late money")
    expect(tabs.last.locator(".count")).not_to_have_text("0")
    counts = [_count(tabs.nth(i)) for i in range(FILTERS)]
    opened = next(i for i, n in enumerate(counts) if n > 0)
    expect(tabs.nth(opened)).to_have_attribute("aria-selected", "true")
    panel = page.get_by_role("tabpanel")
    expect(panel.locator("tbody tr")).to_have_count(min(counts[opened], 200))

    # Another tab: its rows, as many as its count says.
    tabs.last.click()
    expect(tabs.last).to_have_attribute("aria-selected", "true")
    expect(tabs.nth(opened)).to_have_attribute("aria-selected", "false" if opened != FILTERS - 1 else "true")
    expect(panel.locator("tbody tr")).to_have_count(min(counts[-1], 200))
    expect(panel.locator(f"a[href='/admin/orders/{late_order['order_id']}']")).to_have_count(1)
    # A phone's width: the tabs wrap, nothing makes the page scroll sideways.
    assert page.evaluate("document.querySelector('.filter-tabs').scrollWidth <= window.innerWidth")
    page.context.close()


def _chart(page: Page, caption: str) -> Locator:
    figure = page.get_by_role("figure", name=caption)
    expect(figure).to_be_visible()
    return figure


def _figures_in_table(figure: Locator) -> list[list[str]]:
    """The chart's numbers as its table gives them: one list of cells per row."""
    rows = figure.locator("table tbody tr")
    return [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())]


def _nonzero(cells: list[list[str]]) -> int:
    return sum(1 for row in cells for cell in row if re.fullmatch(r"0(\.0+)?", cell) is None)


@pytest.mark.parametrize("width", [390, 1280])
def test_organizer_and_operator_figures_are_charts_at_any_width(
    browser: Browser, app_server: dict[str, Any], page_world: dict[str, Any], width: int
) -> None:
    organizer = _signed_in(browser, app_server, page_world["tokens"]["organizer"], width)
    organizer.goto(f"/organizer/events/{page_world['event_id']}")
    revenue = _chart(organizer, "Revenue per day")
    days = revenue.locator("table tbody tr")
    expect(days).not_to_have_count(0)
    expect(revenue.locator("svg .recharts-bar-rectangle")).to_have_count(days.count())
    first_day = days.first.get_by_role("rowheader").inner_text()
    expect(revenue.locator(".recharts-wrapper > svg")).to_contain_text(first_day)  # the axis' label
    # Sold, held and remaining per type, stacked: a bar for every figure above zero.
    types = _chart(organizer, "Ticket sales per type")
    expect(types.locator("table tbody tr")).not_to_have_count(0)
    expect(types.locator("svg .recharts-bar-rectangle path")).to_have_count(
        _nonzero(_figures_in_table(types))
    )
    for figure in (revenue, types):
        box = figure.locator(".recharts-wrapper > svg").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    organizer.context.close()

    operator = _signed_in(browser, app_server, page_world["tokens"]["admin"], width)
    operator.goto("/admin/metrics")
    payments = _chart(operator, "Payments per provider and outcome (24 h)")
    expect(payments.locator("table")).to_contain_text("stripe")
    expect(payments.locator("svg .recharts-bar-rectangle path")).to_have_count(
        _nonzero(_figures_in_table(payments))
    )
    box = payments.locator(".recharts-wrapper > svg").bounding_box()
    assert box is not None and box["x"] + box["width"] <= width
    operator.context.close()

"""The operator console in the browser: a customer is refused it; an operator finds
a dead-lettered M-PESA callback (the provider's status API was down while it was
processed, and the reconciler gave up and flagged the payment), replays it from the
console, and the customer's waiting page completes by itself."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Browser, Page, expect

from payflow_app.seed import DEMO_PASSWORD
from tests.e2e.conftest import log_in
from tests.e2e.test_card_and_mpesa import answer_on_phone, start_mpesa


def test_a_customer_is_refused_the_console(page: Page, make_customer: Callable[..., str]) -> None:
    page.goto("/admin")
    page.wait_for_url(re.compile(r"/login"))  # nobody signed in: log in first
    log_in(page, make_customer(), next_path="/admin")
    expect(page.get_by_role("heading", name="Operators only")).to_be_visible()
    expect(page.get_by_role("table", name="Payments needing attention")).to_have_count(0)


def test_an_operator_replays_a_dead_lettered_callback_and_the_customer_page_completes(
    page: Page, browser: Browser, app_server: dict[str, Any]
) -> None:
    assert page.request.put("/sandbox/faults/payhero", data={"status_error_rate": 1.0}).ok
    context = browser.new_context(base_url=app_server["base"])
    context.set_default_timeout(20_000)
    try:
        reference = start_mpesa(page, "0712000105").rstrip("/").rsplit("/", 1)[-1]
        # The customer's page names the order by its public reference; the console by row id.
        with sqlite3.connect(app_server["db"]) as db:
            [(order_id,)] = db.execute('SELECT id FROM "order" WHERE public_id = ?', (reference,)).fetchall()
        answer_on_phone(page, "254712000105", pin="1234")
        operator = context.new_page()
        log_in(operator, "admin@payflow.test", DEMO_PASSWORD, next_path="/admin")
        # The reconciler's status queries all fail; after the last one it flags the payment.
        flagged = operator.get_by_text(re.compile(r"No final answer from payhero after 8 status queries"))
        for _ in range(40):
            operator.goto("/admin?filter=needs_review")
            expect(operator.get_by_role("heading", name="Operations")).to_be_visible()
            if flagged.count():
                break
            operator.wait_for_timeout(1_000)
        expect(flagged).to_be_visible()
        expect(page.get_by_role("heading", name="Payment received")).to_have_count(0)  # still waiting

        # The provider is back. Nothing settles by itself any more: the operator replays.
        assert page.request.put("/sandbox/faults/payhero", data={"status_error_rate": 0}).ok
        operator.goto("/admin?filter=dead_lettered")
        row = operator.get_by_role("row").filter(has=operator.locator(f"a[href='/admin/orders/{order_id}']"))
        expect(row).to_have_count(1)
        row.get_by_role("button", name=re.compile(r"^Replay event \d+$")).click()
        expect(operator.get_by_text(re.compile(r"Event \d+ sent back to the worker"))).to_be_visible()
        expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
        expect(page.get_by_text(re.compile(r"M-PESA receipt S[A-Z0-9]{9}"))).to_be_visible()

        # The order's timeline tells the story: the failed attempts, the flag, the replay.
        operator.goto(f"/admin/orders/{order_id}")
        timeline = operator.get_by_role("list", name="Timeline")
        expect(timeline.get_by_text(re.compile(r"Processing webhook \(worker\): error"))).not_to_have_count(0)
        expect(timeline.get_by_text(re.compile(r"Processing webhook \(replay\): ok"))).to_have_count(1)
        expect(timeline.get_by_text(re.compile(r"requires_review → succeeded"))).to_have_count(1)
        timeline.get_by_role("button", name="Show raw body").first.click()
        expect(operator.get_by_text(re.compile(r'"ResultCode": 0'))).to_be_visible()
        # The metrics count the failed status queries.
        operator.goto("/admin/metrics")
        expect(operator.get_by_text("Sync success rate")).to_be_visible()
        payments = operator.get_by_role("figure", name="Payments per provider and outcome (24 h)")
        expect(payments.get_by_role("row", name=re.compile("^payhero"))).to_have_count(1)
    finally:
        page.request.put("/sandbox/faults/payhero", data={"status_error_rate": 0})
        context.close()

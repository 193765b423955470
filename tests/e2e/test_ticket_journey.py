"""A customer buys tickets in chromium, acting as a person: roles and visible text."""

from __future__ import annotations

import re
import sqlite3
from collections import Counter

import httpx
import pytest
from playwright.sync_api import Page, Request, expect

from payflow_app.sandbox.texts import text as sandbox_text
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e
STEPS = ["Verifying the payment", "Processing the transaction", "Issuing tickets", "Sending the confirmation"]


def fill_checkout(page: Page, *, quantity: str = "2", ticket_type: str | None = None) -> None:
    page.goto("/")
    page.get_by_role("link", name="Get tickets").first.click()
    expect(page.get_by_role("heading", name="Buy tickets")).to_be_visible()
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Phone").fill("+48 600 100 200")
    if ticket_type:
        page.get_by_label("Ticket type").select_option(label=ticket_type)
    page.get_by_label("Quantity").fill(quantity)


OVERLAY = "Redirecting you to the secure payment page"


def go_to_pay_page(page: Page, **form: str) -> str:
    fill_checkout(page, **form)
    # The redirect can be faster than an assertion, so the page reports the overlay.
    overlay_seen: list[bool] = []
    page.expose_function("payflowTestOverlaySeen", lambda: overlay_seen.append(True))
    page.evaluate(
        """text => new MutationObserver(() => {
             if (document.body.innerText.includes(text)) window.payflowTestOverlaySeen();
           }).observe(document.body, {childList: true, subtree: true})""",
        OVERLAY,
    )
    page.get_by_role("button", name="Continue to payment").click()
    page.wait_for_url(re.compile(r"/sandbox/stripe/pay/cs_test_"))
    assert overlay_seen, "the redirect overlay did not show before leaving"
    expect(page.get_by_text("Sandbox — no real money")).to_be_visible()
    return page.url.rsplit("/", 1)[-1]


def enter_card(page: Page, number: str, lang: str = "en") -> None:
    """On the sandbox's Stripe pay page, which speaks the customer's language."""
    page.get_by_label(sandbox_text(lang, "card.number")).fill(number)
    page.get_by_label(sandbox_text(lang, "card.expiry")).fill("12 / 34")
    page.get_by_label("CVC").fill("123")
    pay = sandbox_text(lang, "stripe.pay_amount", amount="")
    page.get_by_role("button", name=re.compile(f"^{re.escape(pay)}")).click()


def test_buy_two_tickets_and_watch_the_steps_complete(page: Page) -> None:
    go_to_pay_page(page, quantity="2")
    requests: list[str] = []

    def record(request: Request) -> None:
        if request.url.startswith("http"):
            requests.append(request.url)

    enter_card(page, "4242 4242 4242 4242")
    page.wait_for_url(re.compile(r"/payments/success/?\?session_id=cs_test_"))
    page.on("request", record)
    expect(page.get_by_role("heading", name="Payment confirmed")).to_be_visible()
    steps = page.get_by_role("list", name="Processing steps").get_by_role("listitem")
    expect(steps).to_have_count(4)
    for index, label in enumerate(STEPS):
        expect(steps.nth(index)).to_contain_text(label)
        expect(steps.nth(index)).to_have_attribute("data-state", "done")
    expect(page.get_by_role("img", name=re.compile("QR code for ticket TKT-"))).to_have_count(2)
    expect(page.get_by_role("definition").filter(has_text=re.compile(r"^ORD-\d+-"))).to_be_visible()
    expect(page.get_by_text("240.00 zł")).to_be_visible()
    # The status came over the websocket: nothing was fetched twice while waiting.
    repeated = {url: n for url, n in Counter(requests).items() if n > 1}
    assert repeated == {}


def test_status_page_updates_by_itself_when_the_webhook_arrives(
    page: Page, app_server: dict[str, str]
) -> None:
    session_id = go_to_pay_page(page, quantity="1")
    # The customer opens the order page before paying (e.g. paid on another device).
    page.goto(f"/payments/success?session_id={session_id}")
    expect(page.get_by_role("heading", name="Processing your payment")).to_be_visible()
    expect(page.get_by_text("Waiting for the payment to be processed...")).to_be_visible()
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    paid = httpx.post(
        f"{app_server['base']}/sandbox/stripe/pay/{session_id}",
        data={"card_number": "4242424242424242", "expiry": "12/34", "cvc": "123", "email": "ada@example.com"},
    )
    assert paid.status_code == 303
    # Only the sandbox's signed webhook (about 1 s later) can move this page now.
    expect(page.get_by_role("heading", name="Payment confirmed")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("QR code for ticket TKT-"))).to_have_count(1)
    assert navigations == []
    # A reload, after processing finished, shows the same state.
    page.reload()
    expect(page.get_by_role("heading", name="Payment confirmed")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("QR code for ticket TKT-"))).to_have_count(1)


def test_cancel_from_the_pay_page(page: Page) -> None:
    go_to_pay_page(page, quantity="1")
    page.get_by_role("link", name="← Back").click()
    expect(page.get_by_role("heading", name="Payment cancelled")).to_be_visible()
    expect(page.get_by_text("you have not been charged")).to_be_visible()
    # A ticket order stays here to offer a retry: no redirect is promised.
    steps = page.get_by_role("list", name="Cancellation steps").get_by_role("listitem")
    expect(steps).to_have_count(2)
    expect(steps.nth(1)).to_have_attribute("data-state", "done")
    expect(page.get_by_text("Preparing the redirect")).to_have_count(0)
    page.get_by_role("link", name="Try again").click()
    expect(page.get_by_role("heading", name="Buy tickets")).to_be_visible()


def test_declined_card_then_success(page: Page) -> None:
    go_to_pay_page(page, quantity="1", ticket_type="VIP — 350.00 zł")
    enter_card(page, "4000 0000 0000 0002")
    expect(page.get_by_role("alert")).to_have_text("Your card was declined.")
    enter_card(page, "4000 0000 0000 9995")
    expect(page.get_by_role("alert")).to_have_text("Your card has insufficient funds.")
    enter_card(page, "4242 4242 4242 4242")
    expect(page.get_by_role("heading", name="Payment confirmed")).to_be_visible()
    expect(page.get_by_text("1 × VIP")).to_be_visible()


def test_invalid_form_shows_inline_errors_and_creates_nothing(page: Page, app_server: dict[str, str]) -> None:
    def order_count() -> int:
        with sqlite3.connect(app_server["db"]) as conn:
            return int(conn.execute('select count(*) from "order"').fetchone()[0])

    before = order_count()
    fill_checkout(page, quantity="0")
    page.get_by_label("Full name").fill("")
    page.get_by_label("Email").fill("ada@")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_text("Please enter your full name.")).to_be_visible()
    expect(page.get_by_text("Please enter a valid email address")).to_be_visible()
    expect(page.get_by_text("Choose between 1 and 10 tickets.")).to_be_visible()
    assert "/events/" in page.url
    assert order_count() == before


# Installed in every page of the tab before it loads: reports each text the main
# area of a processing page ever holds, even one replaced before it was painted.
RECORD_STATUS_TEXTS = """
(() => {
  let last = null;
  const record = () => {
    // A client-side navigation changes the path within this document.
    if (!location.pathname.startsWith("/payments/success")) return;
    const text = document.querySelector("main")?.textContent ?? "";
    if (text !== last) { last = text; window.payflowTestStatusText(text); }
  };
  new MutationObserver(record).observe(document, {childList: true, subtree: true, characterData: true});
})();
"""


def test_the_next_payment_in_the_tab_never_shows_the_previous_one(page: Page) -> None:
    go_to_pay_page(page, quantity="1")
    enter_card(page, "4242 4242 4242 4242")
    expect(page.get_by_role("heading", name="Payment confirmed")).to_be_visible()
    first_number = page.get_by_role("definition").filter(has_text=re.compile(r"^ORD-\d+-")).inner_text()
    expect(page.get_by_text("120.00 zł")).to_be_visible()

    texts: list[str] = []
    page.expose_function("payflowTestStatusText", lambda text: texts.append(text))
    page.add_init_script(RECORD_STATUS_TEXTS)
    fill_checkout(page, quantity="3")
    page.get_by_role("button", name="Continue to payment").click()
    page.wait_for_url(re.compile(r"/sandbox/stripe/pay/cs_test_"))
    enter_card(page, "4242 4242 4242 4242")
    expect(page.get_by_role("heading", name="Payment confirmed")).to_be_visible()
    expect(page.get_by_text("360.00 zł")).to_be_visible()
    second_number = page.get_by_role("definition").filter(has_text=re.compile(r"^ORD-\d+-")).inner_text()

    assert_never_showed(texts, first=first_number, first_amount="120.00 zł", second=second_number)


def assert_never_showed(texts: list[str], *, first: str, first_amount: str, second: str) -> None:
    assert second != first
    assert texts, "the status area was not observed"
    for text in texts:
        assert first not in text, f"the first order showed on the second's page: {text!r}"
        assert first_amount not in text, f"the first amount showed on the second's page: {text!r}"
        if "Payment confirmed" in text:
            assert second in text, f"a confirmation before the second order was known: {text!r}"


def test_a_wallet_payment_after_another_never_shows_the_previous_one(page: Page, make_customer) -> None:
    # Paying from the wallet moves to the processing page by client-side navigation:
    # the page renders at once with the state the tab already holds.
    log_in(page, make_customer(fund=60000))
    texts: list[str] = []
    page.expose_function("payflowTestStatusText", lambda text: texts.append(text))
    numbers: list[str] = []
    for quantity, amount in (("1", "120.00 zł"), ("3", "360.00 zł")):
        if numbers:
            page.add_init_script(RECORD_STATUS_TEXTS)
        page.goto("/events/warsaw-jazz-night")
        page.get_by_label("Quantity").fill(quantity)
        page.get_by_role("button", name="Continue to payment").click()
        page.get_by_role("button", name="Confirm and pay").click()
        page.wait_for_url(re.compile(r"/payments/success/?\?session_id=wlt_"))
        expect(page.get_by_role("heading", name="Payment confirmed")).to_be_visible()
        expect(page.get_by_text(amount)).to_be_visible()
        numbers.append(page.get_by_role("definition").filter(has_text=re.compile(r"^ORD-\d+-")).inner_text())
    assert_never_showed(texts, first=numbers[0], first_amount="120.00 zł", second=numbers[1])

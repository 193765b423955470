"""Customer accounts, the wallet and the dashboard's payment kinds in chromium,
acting as a person: roles and visible text."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import log_in, wait_until_live
from tests.e2e.test_ticket_journey import enter_card

pytestmark = pytest.mark.e2e

# The same journey in both languages; the Polish step texts are design 1's verbatim.
TEXTS = {
    "en": {
        "locale": "en-GB",
        "buy": "Buy tickets",
        "name": "Full name",
        "email": "Email",
        "continue": "Continue to payment",
        "confirmed": "Payment confirmed",
        "emails": "Emails we sent you",
        "view_tickets": "View my tickets",
        "password_line": "Temporary password:",
        "password": "Password",
        "log_in": "Log in",
        "current": "Current (or temporary) password",
        "new": "New password",
        "repeat": "Repeat the new password",
        "save": "Save the password",
        "my_tickets": "My tickets",
        "show_qr": "Show QR",
        "download": "Download",
        "qr_alt": "QR code for ticket",
        "price": "120.00 zł",
        "log_out": "Log out",
    },
    "pl": {
        "locale": "pl-PL",
        "buy": "Kup bilety",
        "name": "Imię i nazwisko",
        "email": "E-mail",
        "continue": "Przejdź do płatności",
        "confirmed": "Płatność potwierdzona",
        "emails": "Wysłane do Ciebie e-maile",
        "view_tickets": "Zobacz moje bilety",
        "password_line": "Hasło tymczasowe:",
        "password": "Hasło",
        "log_in": "Zaloguj się",
        "current": "Obecne (lub tymczasowe) hasło",
        "new": "Nowe hasło",
        "repeat": "Powtórz nowe hasło",
        "save": "Zapisz hasło",
        "my_tickets": "Moje bilety",
        "show_qr": "Pokaż QR",
        "download": "Pobierz",
        "qr_alt": "Kod QR biletu",
        "price": "120,00 zł",
        "log_out": "Wyloguj się",
    },
}


@pytest.mark.parametrize("lang", ["en", "pl"])
def test_guest_checkout_then_welcome_email_login_password_change_and_my_tickets(
    browser: Browser, app_server: dict[str, str], lang: str
) -> None:
    text = TEXTS[lang]
    context = browser.new_context(base_url=app_server["base"], locale=text["locale"], accept_downloads=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    email = f"guest-{lang}@example.com"
    page.goto("/events/warsaw-jazz-night")
    expect(page.get_by_role("heading", name=text["buy"])).to_be_visible()
    wait_until_live(page)  # often the run's first page, right after the app was built
    page.get_by_label(text["name"]).fill("Maria Skłodowska")
    page.get_by_label(text["email"]).fill(email)
    page.get_by_role("button", name=text["continue"]).click()
    # Often the e2e run's first checkout, right after the app started (its first
    # provider call and writer threads).
    page.wait_for_url(re.compile(r"/sandbox/stripe/pay/"), timeout=60_000)
    enter_card(page, "4242 4242 4242 4242", lang)
    expect(page.get_by_role("heading", name=text["confirmed"])).to_be_visible()
    expect(page.get_by_text(text["price"])).to_be_visible()
    emails = page.get_by_role("heading", name=text["emails"]).locator("xpath=..").get_by_role("listitem")
    expect(emails).to_have_count(3)  # welcome, tickets, receipt

    # The welcome email, read in the sandbox mailbox, carries the temporary password.
    page.goto(f"/sandbox/mailbox?to={email}")
    welcome = page.get_by_role("article").filter(has_text=text["password_line"])
    password = re.search(re.escape(text["password_line"]) + r"\s*(\S+)", welcome.inner_text())
    assert password, welcome.inner_text()
    temporary = password.group(1)

    page.goto("/")
    page.get_by_role("link", name=text["log_in"]).click()
    page.get_by_label(text["email"]).fill(email)
    page.get_by_label(text["password"], exact=True).fill(temporary)
    page.get_by_role("button", name=text["log_in"]).click()
    page.wait_for_url(re.compile(r"/account/password"))  # the first login must set a password
    page.get_by_label(text["current"]).fill(temporary)
    page.get_by_label(text["new"], exact=True).fill("my-own-password-1")
    page.get_by_label(text["repeat"]).fill("my-own-password-1")
    page.get_by_role("button", name=text["save"]).click()
    page.wait_for_url(re.compile(r"/dashboard"))  # then on to where the login was going

    page.get_by_role("link", name=text["my_tickets"]).first.click()
    expect(page.get_by_role("heading", name=text["my_tickets"])).to_be_visible()
    card = page.get_by_role("article")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Warsaw Jazz Night")
    expect(card.get_by_role("img", name=re.compile(text["qr_alt"] + " TKT-"))).to_be_visible()
    card.get_by_role("button", name=text["show_qr"]).click()
    expect(page.get_by_role("dialog").get_by_role("img")).to_be_visible()
    page.get_by_role("dialog").get_by_role("button").click()
    with page.expect_download() as download:
        card.get_by_role("link", name=text["download"]).click()
    assert re.fullmatch(r"TKT-.+\.png", download.value.suggested_filename)
    # The session cookie is the server's: HttpOnly, so no page script can read it.
    assert [c["httpOnly"] for c in context.cookies() if c["name"] == "payflow_session"] == [True]
    assert "payflow_session" not in page.evaluate("document.cookie")
    # The session survives a reload.
    page.reload()
    expect(page.get_by_role("article")).to_have_count(1)
    # Logging out ends the session: My Tickets asks to log in again.
    page.get_by_role("button", name=text["log_out"]).click()
    page.wait_for_url(re.compile(r"/$"))
    # The server's answer cleared the session cookie (HttpOnly: no page script saw it).
    page.wait_for_function("location.pathname === '/'")
    assert not any(c["name"] == "payflow_session" for c in context.cookies())
    page.goto("/wallet")
    # A client-side redirect during the page's load: follow the document's location.
    page.wait_for_function("location.pathname.startsWith('/login') && location.search.includes('wallet')")
    expect(page.get_by_role("button", name=text["log_in"])).to_be_visible()
    context.close()


def test_top_up_shows_its_steps_and_the_balance_changes_live(
    browser: Browser, app_server: dict[str, str], make_customer
) -> None:
    email = make_customer()
    context = browser.new_context(base_url=app_server["base"])
    context.set_default_timeout(20_000)
    page = context.new_page()
    log_in(page, email)
    # A second tab keeps the dashboard open: the credit must reach it without a reload.
    watcher = context.new_page()
    watcher.goto("/dashboard")
    expect(watcher.locator("#wallet-balance")).to_contain_text("0.00 zł")
    navigations: list[str] = []
    watcher.on("framenavigated", lambda frame: navigations.append(frame.url))

    page.get_by_label("Top-up amount").fill("250")
    page.get_by_role("button", name="Top up").click()
    expect(page.get_by_text("By card (Stripe)", exact=True)).to_be_visible()
    page.get_by_role("button", name="Confirm and pay").click()
    page.wait_for_url(re.compile(r"/sandbox/stripe/pay/"))
    enter_card(page, "4242 4242 4242 4242")
    expect(page.get_by_text("Payment processed successfully! Redirecting...")).to_be_visible()
    steps = page.get_by_role("list", name="Processing steps").get_by_role("listitem")
    for index, label in enumerate(
        [
            "Verifying the payment",
            "Processing the transaction",
            "Topping up the wallet",
            "Updating the balance",
        ]
    ):
        expect(steps.nth(index)).to_contain_text(label)
        expect(steps.nth(index)).to_have_attribute("data-state", "done")
    page.wait_for_url(re.compile(r"/dashboard\?payment=success"))
    expect(page.get_by_text("Payment successful: your wallet is topped up.")).to_be_visible()
    expect(page.locator("#wallet-balance")).to_contain_text("250.00 zł")
    expect(page.get_by_role("table", name="Wallet history")).to_contain_text("Top-up")

    expect(watcher.locator("#wallet-balance")).to_contain_text("250.00 zł")
    assert navigations == []
    context.close()


def test_buy_a_ticket_with_the_wallet(page: Page, make_customer) -> None:
    email = make_customer(fund=30000)
    log_in(page, email)
    expect(page.locator("#wallet-balance")).to_contain_text("300.00 zł")
    page.goto("/events/warsaw-jazz-night")
    expect(page.get_by_text("Buying as")).to_be_visible()
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Continue to payment").click()
    # The dry run's choice is shown before anything is charged.
    expect(page.get_by_text("From your wallet", exact=True)).to_be_visible()
    expect(page.get_by_text("240.00 zł will be taken from your wallet")).to_contain_text(
        "afterwards 60.00 zł"
    )
    page.get_by_role("button", name="Confirm and pay").click()
    page.wait_for_url(re.compile(r"/payments/success/?\?session_id=wlt_"))
    expect(page.get_by_role("heading", name="Payment confirmed")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("QR code for ticket TKT-"))).to_have_count(2)
    page.goto("/dashboard")
    expect(page.locator("#wallet-balance")).to_contain_text("60.00 zł")
    expect(page.get_by_role("table", name="Wallet history")).to_contain_text("-240.00 zł")


def test_pay_for_a_gallery_then_cancel_and_the_lock_is_cleared(page: Page, make_customer) -> None:
    email = make_customer()  # an empty wallet: the card pays
    log_in(page, email)
    page.get_by_label("New gallery title").fill("Tatra hikes")
    page.get_by_role("button", name="Create gallery").click()
    gallery = page.get_by_role("listitem").filter(has_text="Tatra hikes")
    expect(gallery).to_contain_text("draft")
    gallery.get_by_role("button", name="Publish Tatra hikes").click()
    expect(page.get_by_text("By card (Stripe)", exact=True)).to_be_visible()
    page.get_by_role("button", name="Confirm and pay").click()
    page.wait_for_url(re.compile(r"/sandbox/stripe/pay/"))
    pay_url = page.url

    # While the payment is open the gallery is locked against a second one.
    page.goto("/dashboard")
    expect(gallery).to_contain_text("payment in progress")
    expect(gallery.get_by_role("button", name="Publish Tatra hikes")).to_have_count(0)

    page.goto(pay_url)
    page.get_by_role("link", name="← Back").click()
    expect(page.get_by_role("heading", name="Payment cancelled")).to_be_visible()
    steps = page.get_by_role("list", name="Cancellation steps").get_by_role("listitem")
    for index, label in enumerate(["Cancelling the transaction", "Clearing locks", "Preparing the redirect"]):
        expect(steps.nth(index)).to_contain_text(label)
        expect(steps.nth(index)).to_have_attribute("data-state", "done")
    page.wait_for_url(re.compile(r"/dashboard\?payment=cancelled"))
    expect(page.get_by_text("Payment cancelled. Nothing was charged.")).to_be_visible()
    expect(gallery).to_contain_text("draft")
    expect(gallery.get_by_role("button", name="Publish Tatra hikes")).to_be_visible()


def test_a_late_confirmation_shows_the_delay_notice_and_still_completes(
    page: Page, app_server: dict[str, str], make_customer
) -> None:
    email = make_customer()
    log_in(page, email)
    page.get_by_role("button", name=re.compile("Upgrade to Pro")).click()
    page.get_by_role("button", name="Confirm and pay").click()
    page.wait_for_url(re.compile(r"/sandbox/stripe/pay/cs_test_"))
    session_id = page.url.rsplit("/", 1)[-1]
    page.goto(f"/payments/success?session_id={session_id}")
    expect(page.get_by_text("Waiting for the payment to be processed...")).to_be_visible()
    # The e2e server says "delayed" after 4 s (two minutes in production).
    expect(page.get_by_text("Confirmation is delayed")).to_be_visible(timeout=15_000)
    paid = httpx.post(
        f"{app_server['base']}/sandbox/stripe/pay/{session_id}",
        data={"card_number": "4242424242424242", "expiry": "12/34", "cvc": "123", "email": email},
    )
    assert paid.status_code == 303
    page.wait_for_url(re.compile(r"/dashboard\?payment=success"))
    expect(page.get_by_text("Payment successful: your plan is upgraded.")).to_be_visible()
    expect(page.locator("#plan-name")).to_have_text("Pro")


def test_the_language_follows_the_browser_and_a_switch_is_remembered(
    browser: Browser, app_server: dict[str, str]
) -> None:
    context = browser.new_context(base_url=app_server["base"], locale="pl-PL")
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto("/")
    expect(page.get_by_role("heading", name="Nadchodzące wydarzenia")).to_be_visible()
    expect(page.get_by_text("Od 120,00 zł")).to_be_visible()
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Upcoming events")).to_be_visible()
    expect(page.get_by_text("From 120.00 zł")).to_be_visible()
    page.reload()  # remembered, although the browser still prefers Polish
    expect(page.get_by_role("heading", name="Upcoming events")).to_be_visible()
    page.get_by_role("link", name="Get tickets").first.click()
    expect(page.get_by_role("heading", name="Buy tickets")).to_be_visible()
    context.close()


def test_guessing_a_password_is_slowed_down_with_a_clear_message(page: Page, make_customer) -> None:
    email = make_customer()
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    throttled = page.get_by_text(re.compile(r"Too many attempts\. Try again in"))
    for _ in range(12):  # five free tries, then a delay that grows with each mistake
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_timeout(300)
        if throttled.count():
            break
    expect(throttled).to_be_visible()
    assert not any(c["name"] == "payflow_session" for c in page.context.cookies())

"""The UnivaPay card rail (memberships, 3-D Secure) and the M-PESA rail (PayHero STK
push) in chromium, against the sandbox imitations: a person fills the card widget,
answers the 3DS page, enters the PIN on the simulated phone, and watches the app's
pages change by themselves."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e
THREE_DS_CARD = "4000 0000 0000 3220"


def start_membership(page: Page, email: str) -> None:
    page.goto("/membership")
    expect(page.get_by_role("heading", name="Become a member")).to_be_visible()
    page.get_by_label("Full name").fill("Hanako Yamada")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Continue to card payment").click()
    page.wait_for_url(re.compile(r"/sandbox/univapay/widget"))


def pay_in_widget(page: Page, card: str) -> None:
    expect(page.get_by_text("¥3,000").first).to_be_visible()
    page.get_by_label("Card number").fill(card)
    page.get_by_label("Expiry (MM / YY)").fill("12 / 34")
    page.get_by_label("CVV").fill("123")
    page.get_by_label("Cardholder name").fill("HANAKO YAMADA")
    page.get_by_role("button", name=re.compile(r"^Pay")).click()


def expect_credentials(page: Page, email: str) -> tuple[str, str]:
    page.wait_for_url(re.compile(r"/payment/success/?\?paymentId=pay_"))
    expect(page.get_by_role("heading", name="Welcome, member!")).to_be_visible()
    # One story: the login shown here works as it is (the tests log in with it).
    expect(page.get_by_text("with nothing to change at the first login")).to_be_visible()
    username = page.locator("#membership-username").inner_text().strip()
    password = page.locator("#membership-password").inner_text().strip()
    assert re.fullmatch(r"hanako\.yamada\.\d{4}", username), username
    assert re.fullmatch(r"[A-Za-z0-9]{12}", password), password
    # The same credentials were emailed.
    page.goto(f"/sandbox/mailbox?to={email}")
    letter = page.get_by_role("article").filter(has_text="Your Supporter membership")
    expect(letter).to_contain_text(username)
    expect(letter).to_contain_text(password)
    return username, password


def test_membership_paid_at_once_shows_and_emails_working_credentials(page: Page) -> None:
    email = f"member-{uuid.uuid4().hex[:6]}@example.jp"
    start_membership(page, email)
    pay_in_widget(page, "4242 4242 4242 4242")
    username, password = expect_credentials(page, email)
    # The credentials are a login, as the page says: nothing to change first.
    page.goto("/login")
    page.get_by_label("Email").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    # Straight in: no forced change of an account password the member never had.
    page.wait_for_function("location.pathname.startsWith('/dashboard')")


def test_membership_with_3ds_completes_after_the_issuer_page(page: Page) -> None:
    email = f"member-{uuid.uuid4().hex[:6]}@example.jp"
    start_membership(page, email)
    pay_in_widget(page, THREE_DS_CARD)
    expect(page.get_by_role("heading", name="3-D Secure authentication")).to_be_visible()
    page.get_by_role("button", name="Complete authentication").click()
    # Back at the app: the return page follows the charge until the webhook settles it.
    page.wait_for_url(re.compile(r"/payment/(return|success)/?\?"))
    expect_credentials(page, email)


def test_membership_with_failed_3ds_ends_on_the_cancel_page_with_a_retry(page: Page) -> None:
    start_membership(page, f"member-{uuid.uuid4().hex[:6]}@example.jp")
    pay_in_widget(page, THREE_DS_CARD)
    page.get_by_role("button", name="Fail authentication").click()
    page.wait_for_url(re.compile(r"/payment/cancel/?\?paymentId=pay_"))
    expect(page.get_by_role("heading", name="Payment not completed")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("3-D Secure")
    retry = page.get_by_role("link", name="Try again")
    expect(retry).to_have_attribute("href", re.compile(r"/membership\?plan=supporter&currency=JPY"))
    retry.click()
    expect(page.get_by_role("button", name="Continue to card payment")).to_be_visible()


def test_membership_card_declined_ends_on_the_cancel_page_with_the_reason(page: Page) -> None:
    start_membership(page, f"member-{uuid.uuid4().hex[:6]}@example.jp")
    pay_in_widget(page, "4111 1111 1111 1111")
    page.wait_for_url(re.compile(r"/payment/cancel/?\?paymentId=pay_"))
    expect(page.get_by_role("alert")).to_contain_text("rejected")


def start_mpesa(page: Page, phone: str) -> str:
    """Check out one Regular ticket of the KES event with M-PESA; answers the order path."""
    page.goto("/events/nairobi-tech-summit")
    page.get_by_label("Full name").fill("Wanjiru Kamau")
    page.get_by_label("Email").fill(f"wanjiru-{uuid.uuid4().hex[:6]}@example.co.ke")
    page.get_by_label("M-PESA", exact=True).check()
    page.get_by_label("M-PESA phone number").fill(phone)
    page.get_by_label("Quantity").fill("1")
    page.get_by_role("button", name="Continue to payment").click()
    page.wait_for_url(re.compile(r"/payment/ord_[A-Za-z0-9_-]{22}/?$"))
    expect(page.get_by_role("heading", name="Waiting for payment")).to_be_visible()
    expect(page.get_by_text("Check your phone and enter your M-PESA PIN")).to_be_visible()
    return page.url


def answer_on_phone(page: Page, phone: str, *, pin: str | None) -> None:
    """On a second tab, the customer's phone: enter the PIN, or cancel the prompt."""
    handset = page.context.new_page()
    handset.goto(f"/sandbox/payhero/phone/{phone}")
    expect(handset.get_by_text(re.compile(r"Enter PIN to pay KES \d"))).to_be_visible()
    # Like a real prompt, the account is the order number, not a technical key.
    expect(handset.get_by_text(re.compile(r"^Account: ORD-\d+-[A-Z2-9]{6}$"))).to_be_visible()
    if pin is None:
        handset.get_by_role("button", name="Cancel").click()
    else:
        handset.get_by_label("M-PESA PIN").fill(pin)
        handset.get_by_role("button", name="Send").click()
    # The phone has taken the answer (closing it mid-navigation can hang the browser).
    expect(handset.get_by_text("No M-PESA requests")).to_be_visible()
    handset.close()


def test_mpesa_payment_confirmed_from_the_phone(page: Page) -> None:
    start_mpesa(page, "0712 000 101")
    answer_on_phone(page, "254712000101", pin="1234")
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    expect(page.get_by_text(re.compile(r"M-PESA receipt S[A-Z0-9]{9}"))).to_be_visible()
    emails = (
        page.get_by_role("heading", name="Emails we sent you").locator("xpath=..").get_by_role("listitem")
    )
    expect(emails).to_have_count(3)  # welcome (new account), tickets, receipt
    expect(page.get_by_role("link", name="View my tickets")).to_be_visible()


def test_the_waiting_page_opens_by_its_link_only(page: Page) -> None:
    link = start_mpesa(page, "0712 000 106")
    # Another browser with no session, holding the link (a guest on another device).
    other = page.context.browser.new_context(base_url=link.split("/payment/")[0])  # type: ignore[union-attr]
    try:
        guest = other.new_page()
        guest.goto(link)
        expect(guest.get_by_role("heading", name="Waiting for payment")).to_be_visible()
        # The order's row ids, which once opened it, find nothing now.
        for number in ("1", "2"):
            guest.goto(f"/payment/{number}")
            expect(guest.get_by_text("Order not found")).to_be_visible()
            expect(guest.get_by_role("heading", name="Waiting for payment")).to_have_count(0)
    finally:
        other.close()
    answer_on_phone(page, "254712000106", pin=None)


def test_mpesa_cancelled_on_the_phone_then_the_prompt_sent_again(page: Page) -> None:
    first = start_mpesa(page, "+254 712 000 102")
    # While it waits, the page shows for how long (to the nearest 5 s), pushed by the server.
    expect(page.get_by_text(re.compile(r"^Waiting for about 0:(05|10)$"))).to_be_visible(timeout=10_000)
    answer_on_phone(page, "254712000102", pin=None)
    expect(page.get_by_role("heading", name="Payment cancelled")).to_be_visible()
    expect(page.get_by_role("link", name="Browse events")).to_be_visible()
    # The same tickets again, to the same phone: a new order with a prompt of its own.
    page.get_by_role("button", name="Send the prompt again").click()
    page.wait_for_url(lambda url: "/payment/ord_" in url and url != first)
    expect(page.get_by_role("heading", name="Waiting for payment")).to_be_visible()
    answer_on_phone(page, "254712000102", pin="1234")
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()


def test_mpesa_wrong_pin_fails_with_the_reason_then_another_number_pays(page: Page) -> None:
    start_mpesa(page, "712000103")
    answer_on_phone(page, "254712000103", pin="9999")
    expect(page.get_by_role("heading", name="Payment failed")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text(
        "M-PESA did not take the payment, and nothing was charged. The M-PESA PIN was wrong. Please try again."
    )
    page.get_by_text("Use another number").click()
    page.get_by_label("M-PESA phone number").fill("12345")
    page.get_by_role("button", name="Send the prompt to this number").click()
    expect(page.get_by_text("Enter a Kenyan M-PESA number")).to_be_visible()
    page.get_by_label("M-PESA phone number").fill("0712 000 113")
    page.get_by_role("button", name="Send the prompt to this number").click()
    expect(page.get_by_role("heading", name="Waiting for payment")).to_be_visible()
    expect(page.get_by_text(re.compile(r"We sent the prompt to .*113"))).to_be_visible()
    answer_on_phone(page, "254712000113", pin="1234")
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()


def test_mpesa_without_callbacks_is_delayed_then_settled_by_the_status_query(page: Page) -> None:
    answer = page.request.post("/sandbox/payhero/controls", data={"withholdCallbacks": True})
    assert answer.ok and answer.json() == {"withholdCallbacks": True}
    try:
        start_mpesa(page, "0712000104")
        # No answer yet: after a while the page says the confirmation is delayed, and what to do.
        expect(page.get_by_role("heading", name="Payment confirmation delayed")).to_be_visible(timeout=20_000)
        expect(page.get_by_text("Check the M-PESA SMS on your phone")).to_be_visible()
        answer_on_phone(page, "254712000104", pin="1234")
        # No callback comes; the app's own status query settles it and the page updates itself.
        expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    finally:
        page.request.post("/sandbox/payhero/controls", data={"withholdCallbacks": False})

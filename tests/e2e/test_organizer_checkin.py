"""The organizer's side in chromium: an organizer creates an event and a ticket type,
a customer buys two tickets through the Stripe sandbox, the organizer checks one in by
typing its number (the dashboard open in another tab updates by itself), a second
attempt names the first scan's time, gate and operator, the attendee CSV holds the
buyer, and the other ticket is checked in by the camera — the QR shown to chromium's
fake camera and read by the scanner component."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.sync_api import Browser, Page, expect

from payflow_app.core.qr import qr_png
from payflow_app.seed import DEMO_PASSWORD, ORGANIZER_EMAIL
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, log_in
from tests.e2e.fake_camera import write_y4m
from tests.e2e.test_ticket_journey import enter_card


def _create_event(page: Page, title: str, tmp_path: Path) -> str:
    """Creates the event and its ticket type; answers the event's organizer path."""
    log_in(page, ORGANIZER_EMAIL, DEMO_PASSWORD, next_path="/organizer")
    page.get_by_role("button", name="New event").click()
    form = page.get_by_role("form", name="New event")
    form.get_by_label("Title").fill(title)
    form.get_by_label("Description").fill("A night to test the gate.")
    form.get_by_label("Venue").fill("Hala Gate, Warsaw")
    form.get_by_label("Starts at (UTC)").fill("2027-03-14T19:30")
    form.get_by_label("Currency").select_option("PLN")
    form.get_by_role("button", name="Create event").click()
    page.wait_for_url(re.compile(r"/organizer/events/\d+/edit"))
    expect(page.get_by_text("Event created.")).to_be_visible()

    types = page.get_by_role("form", name="Ticket type")
    types.get_by_label("Name").fill("Floor")
    types.get_by_label("Price").fill("45")
    types.get_by_label("Capacity").fill("50")
    types.get_by_role("button", name="Add ticket type").click()
    table = page.get_by_role("table", name="Ticket types")
    expect(table).to_contain_text("Floor")
    expect(table).to_contain_text("45.00 zł")
    # The event's picture: uploaded on the edit page, shown there and to customers.
    picture = tmp_path / "poster.png"
    Image.new("RGB", (320, 180), (79, 70, 229)).save(picture)
    page.locator("input[type=file]").set_input_files(picture)
    expect(page.get_by_text("Picture saved.")).to_be_visible()
    expect(page.get_by_role("img", name=title)).to_be_visible()
    found = re.search(r"/organizer/events/\d+", page.url)
    assert found is not None
    return found.group(0)


def _buy_two_tickets(page: Page, title: str, buyer_email: str) -> list[str]:
    page.goto("/")
    page.get_by_role("article").filter(has_text=title).get_by_role("link", name="Get tickets").click()
    expect(page.get_by_role("img", name=title)).to_be_visible()
    page.get_by_label("Full name").fill("Grace Hopper")
    page.get_by_label("Email").fill(buyer_email)
    page.get_by_label("Phone").fill("+48 600 100 300")
    page.get_by_label("Ticket type").select_option(label="Floor — 45.00 zł")
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Continue to payment").click()
    page.wait_for_url(re.compile(r"/sandbox/stripe/pay/cs_test_"))
    enter_card(page, "4242 4242 4242 4242")
    expect(page.get_by_role("heading", name="Payment confirmed")).to_be_visible(timeout=30_000)
    images = page.get_by_role("img", name=re.compile("QR code for ticket TKT-"))
    expect(images).to_have_count(2)
    return sorted(
        re.search(r"TKT-\S+", images.nth(i).get_attribute("alt") or "").group(0)  # type: ignore[union-attr]
        for i in range(2)
    )


def _check_in_by_number(page: Page, number: str) -> None:
    page.get_by_label("Ticket number").fill(number)
    page.get_by_role("button", name="Check in").click()


def test_organizer_event_sale_check_in_csv_and_camera(
    browser: Browser, app_server: dict[str, Any], tmp_path: Path
) -> None:
    title = f"Gate Night {uuid.uuid4().hex[:6]}"
    buyer_email = f"grace{uuid.uuid4().hex[:6]}@example.com"
    organizer_context = browser.new_context(base_url=app_server["base"])
    organizer_context.set_default_timeout(20_000)
    organizer = organizer_context.new_page()
    event_path = _create_event(organizer, title, tmp_path)

    customer_context = browser.new_context(base_url=app_server["base"])
    customer_context.set_default_timeout(20_000)
    first, second = _buy_two_tickets(customer_context.new_page(), title, buyer_email)
    customer_context.close()

    # The dashboard, open in its own tab, must follow the gate without a reload.
    dashboard = organizer_context.new_page()
    dashboard.goto(event_path)
    expect(dashboard.get_by_role("table", name="Tickets per type")).to_contain_text("Floor")
    expect(dashboard.locator(".figures")).to_contain_text("0 of 2")
    # Starts 2027-03-14 19:30 UTC; tickets admit people for a day after that.
    expect(dashboard.get_by_text("Tickets valid until 2027-03-15 19:30 UTC")).to_be_visible()

    organizer.goto(f"{event_path}/checkin")
    organizer.get_by_label("Gate").fill("North")
    organizer.get_by_label("Gate").blur()
    _check_in_by_number(organizer, first)
    answer = organizer.locator("#gate-answer")
    expect(answer).to_have_attribute("data-reason", "valid")
    expect(answer).to_contain_text("Valid — Grace Hopper, Floor")
    expect(dashboard.locator(".figures")).to_contain_text("1 of 2")
    expect(dashboard.get_by_role("table", name="Check-ins", exact=True)).to_contain_text(first)
    # The chart follows too: one quarter-hour, one point, its count in the chart's table.
    checkins = dashboard.get_by_role("figure", name="Check-ins over time (UTC, per 15 minutes)")
    expect(checkins.locator("svg .recharts-line-dots circle")).to_have_count(1)
    expect(checkins.locator("table tbody td")).to_have_text(["1"])

    _check_in_by_number(organizer, first.lower())
    expect(answer).to_have_attribute("data-reason", "already_redeemed")
    expect(answer.locator(".gate-headline")).to_have_text("Already checked in")
    expect(answer.locator(".gate-detail")).to_contain_text(
        re.compile(r"^At \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")
    )
    expect(answer).to_contain_text("gate North, by Demo Organizer")

    _check_in_by_number(organizer, "TKT-0-NOBODY")
    expect(answer).to_have_attribute("data-reason", "unknown_ticket")
    # Said once: the headline, then what it means.
    expect(answer.locator(".gate-headline")).to_have_text("Unknown ticket")
    expect(answer.locator(".gate-detail")).to_have_text("No ticket has this number · TKT-0-NOBODY")

    # The attendee list finds the buyer, and its CSV export holds them.
    organizer.goto(f"{event_path}/attendees")
    organizer.get_by_label("Search").fill(buyer_email)
    organizer.get_by_role("button", name="Search").click()
    rows = organizer.get_by_role("table", name="Attendees").locator("tbody tr")
    expect(rows).to_have_count(2)
    with organizer.expect_download() as download:
        organizer.get_by_role("link", name="Download CSV").click()
    csv_text = Path(download.value.path()).read_text()
    assert "Grace Hopper" in csv_text and buyer_email in csv_text
    assert first in csv_text and second in csv_text
    exported = {row["ticket_number"]: row for row in csv.DictReader(io.StringIO(csv_text))}
    assert exported[first]["gate"] == "North" and exported[second]["gate"] == ""
    assert csv_text.startswith('"ticket_number","holder"')  # every cell quoted

    # The second ticket is reissued: a new number and QR code; the camera below reads
    # the new one.
    organizer.get_by_role("row").filter(has_text=second).get_by_role("button", name="Reissue").click()
    replaced = organizer.get_by_text(re.compile(f"Ticket {second} is replaced by TKT-"))
    expect(replaced).to_be_visible()
    found = re.search(r"replaced by (TKT-\S+)", replaced.inner_text())
    assert found is not None
    second = found.group(1)
    expect(organizer.get_by_role("table", name="Attendees")).to_contain_text(second)
    dashboard.close()
    organizer_context.close()

    _check_in_by_camera(browser, app_server, tmp_path, event_path, second)


def _check_in_by_camera(
    browser: Browser, app_server: dict[str, Any], tmp_path: Path, event_path: str, number: str
) -> None:
    """The second ticket's QR, as the customer would hold it up, through the camera:
    a browser of its own, whose fake camera films the QR (fixed at launch)."""
    with sqlite3.connect(app_server["db"]) as db:
        (token,) = db.execute("SELECT qr_token FROM ticket WHERE number = ?", (number,)).fetchone()
    video = write_y4m(qr_png(token, box_size=5), tmp_path / "ticket.y4m")
    camera_browser = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    try:
        context = camera_browser.new_context(base_url=app_server["base"], permissions=["camera"])
        context.set_default_timeout(20_000)
        page = context.new_page()
        outside: list[str] = []
        page.on(
            "request",
            lambda request: (
                outside.append(request.url)
                if not request.url.startswith(app_server["base"]) and request.url.startswith("http")
                else None
            ),
        )
        log_in(page, ORGANIZER_EMAIL, DEMO_PASSWORD, next_path=f"{event_path}/checkin")
        page.get_by_role("button", name="Scan with the camera").click()
        answer = page.locator("#gate-answer")
        expect(answer).to_have_attribute("data-reason", "valid", timeout=30_000)
        expect(answer).to_contain_text("Valid — Grace Hopper, Floor")
        assert outside == [], f"the scanner fetched from outside the app: {outside}"
    finally:
        camera_browser.close()


def test_customers_are_refused_the_organizer_pages(page: Page, make_customer) -> None:
    page.goto("/organizer/events/1/checkin")
    page.wait_for_url(re.compile(r"/login\?next="))
    log_in(page, make_customer(), next_path="/organizer/events/1/checkin")
    expect(page.get_by_role("heading", name="Organizers only")).to_be_visible()
    expect(page.get_by_label("Ticket number")).to_have_count(0)
    page.goto("/organizer")
    expect(page.get_by_role("heading", name="Organizers only")).to_be_visible()

"""The sandbox's words: every text its customer pages show exists in English and
Polish, with the same placeholders, and every key its pages ask for exists."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.requests import Request

from payflow_app.emails import mailbox
from payflow_app.sandbox import stripe_pages
from payflow_app.sandbox.texts import EN, PL, page_language, text, whole_number, word_or_raw
from payflow_app.sandbox.univapay import pages as univapay_pages

APP = Path(__file__).resolve().parents[2] / "payflow_app"
PLACEHOLDER = re.compile(r"\{(\w+)\}")
CUSTOMER_PAGES = [
    APP / "sandbox" / "banner.py",
    APP / "sandbox" / "stripe_pages.py",
    APP / "sandbox" / "univapay" / "pages.py",
    APP / "sandbox" / "payhero" / "phone.py",
    APP / "emails" / "mailbox.py",
]


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    assert EN.keys() - PL.keys() == set(), "missing in Polish"
    assert PL.keys() - EN.keys() == set(), "missing in English"
    for key in EN:
        assert set(PLACEHOLDER.findall(EN[key])) == set(PLACEHOLDER.findall(PL[key])), key


def test_polish_is_translated_not_copied() -> None:
    assert [key for key in EN if EN[key] == PL[key]] == []


def test_every_key_the_pages_ask_for_exists() -> None:
    asked: set[str] = set()
    for path in CUSTOMER_PAGES:
        asked |= set(re.findall(r"\btext\(\s*\w+,\s*[\"']([a-z_]+\.?[a-z_.]*)[\"']", path.read_text()))
    asked |= set(stripe_pages.FORM_KEYS) | {key for _code, _decline, key in stripe_pages.DECLINES.values()}
    asked |= set(univapay_pages.FORM_KEYS) | set(univapay_pages.THREE_DS_KEYS)
    asked |= set(univapay_pages.FIELD_MESSAGES.values())
    asked |= set(mailbox.PAGE_KEYS) | set(mailbox.ARTICLE_KEYS)
    assert len(asked) > 40, "the scan found too few keys: the pattern is wrong"
    assert asked - EN.keys() == set()


def test_every_status_a_page_names_has_words() -> None:
    for status in ("pending", "awaiting", "authorized", "successful", "failed", "error"):
        assert word_or_raw("pl", "charge", status) == PL[f"charge.{status}"], status
    for status in ("queued", "sent", "failed"):  # EmailOutbox.status
        assert word_or_raw("pl", "mailbox.state", status) == PL[f"mailbox.state.{status}"], status
    assert word_or_raw("pl", "charge", "something_new") == "something_new"


def request_with(headers: dict[str, str]) -> Request:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": raw})


def test_the_cookie_chooses_the_language_then_the_browser_then_english() -> None:
    assert page_language(request_with({"Cookie": "payflow_lang=pl"})) == "pl"
    assert page_language(request_with({"Cookie": "payflow_lang=en", "Accept-Language": "pl"})) == "en"
    assert page_language(request_with({"Accept-Language": "de;q=1, pl;q=0.8, en;q=0.5"})) == "pl"
    assert page_language(request_with({"Cookie": "payflow_lang=de"})) == "en"
    assert page_language(request_with({})) == "en"


def test_texts_fall_back_to_english_and_numbers_group_the_local_way() -> None:
    assert text("de", "card.number") == "Card number"
    assert text("pl", "phone.ask", amount=whole_number("pl", 1500), merchant="X") == (
        "Wpisz PIN, aby zapłacić 1\xa0500 KES odbiorcy X"
    )
    assert whole_number("en", 1500) == "1,500"

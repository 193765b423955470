"""Every sandbox page a customer lands on speaks their language, chosen as the app
chooses it: the ``payflow_lang`` cookie, else the browser's ``Accept-Language``,
else English."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from payflow_app.i18n import format_money
from payflow_app.settings import get_settings
from tests.integration.conftest import wait_until
from tests.integration.helpers import CARD, pay, start_payment
from tests.integration.test_payhero_sandbox import PHONE, answer, push
from tests.integration.test_univapay_sandbox import (
    THREE_DS_CARD,
    create_token,
    payment_request,
    start,
    widget_url,
)

POLISH = {
    "cookie": {"Cookie": "payflow_lang=pl"},
    "accept-language": {"Accept-Language": "pl-PL,pl;q=0.9,en;q=0.5"},
}
ENGLISH = {
    "default": {},
    "cookie beats the browser": {"Cookie": "payflow_lang=en", "Accept-Language": "pl"},
}
polish = pytest.mark.parametrize("asked", POLISH.values(), ids=POLISH.keys())
english = pytest.mark.parametrize("asked", ENGLISH.values(), ids=ENGLISH.keys())


def speaks(page: httpx.Response, lang: str) -> None:
    assert f'<html lang="{lang}">' in page.text


def alert(page: httpx.Response, *, plain: bool = True) -> str:
    """What the page's alert says (as text, or its markup when ``plain`` is False)."""
    found = re.search(r'role="alert">(.*?)</div>', page.text, re.S)
    assert found, page.text
    return re.sub(r"<[^>]+>", "", found.group(1)) if plain else found.group(1)


# --- Stripe Checkout --------------------------------------------------------------------


@polish
def test_stripe_checkout_in_polish(http: httpx.Client, asked: dict[str, str]) -> None:
    order, session_id = start_payment(quantity=2)
    page = http.get(f"/sandbox/stripe/pay/{session_id}", headers=asked)
    speaks(page, "pl")
    amount = format_money(order.amount_minor, order.currency, "pl")
    assert "," in amount and "." not in amount  # 90,00 zł, not 90.00 zł
    for words in (
        "Piaskownica — bez prawdziwych pieniędzy",
        "← Wstecz",
        ">Numer karty</label>",
        ">Data ważności (MM / RR)</label>",
        ">Imię i nazwisko posiadacza karty</label>",
        f">Zapłać {amount}</button>",
        "Karty testowe:",
    ):
        assert words in page.text, words
    assert "Card number" not in page.text and "Test cards" not in page.text

    declined = http.post(
        f"/sandbox/stripe/pay/{session_id}",
        data=CARD | {"card_number": "4000 0000 0000 0002"},
        headers=asked,
    )
    assert declined.status_code == 402
    speaks(declined, "pl")
    assert alert(declined) == "Karta została odrzucona."

    pay(http, session_id)
    closed = http.get(f"/sandbox/stripe/pay/{session_id}", headers=asked)
    assert "<h1>Ta płatność jest już opłacona</h1>" in closed.text and "Wróć do sklepu" in closed.text


@english
def test_stripe_checkout_in_english(http: httpx.Client, asked: dict[str, str]) -> None:
    order, session_id = start_payment(quantity=1)
    page = http.get(f"/sandbox/stripe/pay/{session_id}", headers=asked)
    speaks(page, "en")
    amount = format_money(order.amount_minor, order.currency, "en")
    assert f">Pay {amount}</button>" in page.text and ">Card number</label>" in page.text
    assert "Sandbox — no real money" in page.text and "Numer karty" not in page.text


# --- UnivaPay: the widget and the issuer's 3-D Secure page ---------------------------------


@polish
def test_univapay_widget_in_polish(http: httpx.Client, server: str, asked: dict[str, str]) -> None:
    page = http.get(widget_url(server), headers=asked)
    speaks(page, "pl")
    for words in (
        "<h1>Płatność kartą</h1>",
        format_money(3000, "JPY", "pl"),
        ">Numer karty</label>",
        ">Data ważności (MM / RR)</label>",
        ">Zapłać</button>",
        ">Anuluj</a>",
        "4000 0000 0000 3220 wymaga 3-D Secure",
    ):
        assert words in page.text, words
    assert "Card payment" not in page.text and "¥3,000" not in page.text

    form = {"card_number": "4242 4242 4242 4241", "expiry": "12 / 34", "cvv": "123", "cardholder": "Ada"}
    refused = http.post(widget_url(server), data=form | {"email": "ada@"}, headers=asked)
    assert refused.status_code == 400
    said = re.findall(r"<li>(.*?)</li>", alert(refused, plain=False))
    assert sorted(said) == ["Numer karty jest nieprawidłowy.", "Wpisz prawidłowy adres e-mail."]

    wrong_token = http.get(widget_url(server, appId="eyJ.forged.token"), headers=asked)
    assert wrong_token.status_code == 400 and "<h1>Płatność niedostępna</h1>" in wrong_token.text


@english
def test_univapay_widget_in_english(http: httpx.Client, server: str, asked: dict[str, str]) -> None:
    page = http.get(widget_url(server), headers=asked)
    speaks(page, "en")
    assert "<h1>Card payment</h1>" in page.text and "¥3,000" in page.text and ">Pay</button>" in page.text


@polish
def test_three_ds_page_in_polish(http: httpx.Client, asked: dict[str, str]) -> None:
    started = start(payment_request(create_token(http, THREE_DS_CARD)))
    assert started.redirect_url
    page = http.get(started.redirect_url, headers=asked)
    speaks(page, "pl")
    for words in (
        "<h1>Uwierzytelnianie 3-D Secure</h1>",
        "Wydawca karty prosi o potwierdzenie tej płatności.",
        f"<dd>{format_money(3000, 'JPY', 'pl')}</dd>",
        ">Potwierdź uwierzytelnienie</button>",
        ">Odrzuć uwierzytelnienie</button>",
    ):
        assert words in page.text, words

    assert http.post(started.redirect_url, data={"result": "complete"}).status_code == 303
    again = http.get(started.redirect_url, headers=asked)
    assert "<h1>To uwierzytelnienie jest już zakończone</h1>" in again.text
    assert "Stan płatności: opłacona." in again.text and ">Wróć do sklepu</a>" in again.text


@english
def test_three_ds_page_in_english(http: httpx.Client, asked: dict[str, str]) -> None:
    started = start(payment_request(create_token(http, THREE_DS_CARD)))
    assert started.redirect_url
    page = http.get(started.redirect_url, headers=asked)
    speaks(page, "en")
    assert "<h1>3-D Secure authentication</h1>" in page.text and "<dd>¥3,000</dd>" in page.text


# --- the M-PESA phone ---------------------------------------------------------------------


@polish
def test_phone_in_polish_with_m_pesas_own_english_sms(http: httpx.Client, asked: dict[str, str]) -> None:
    reference = push(key="pay_ORD-9_pl")
    page = http.get(f"/sandbox/payhero/phone/{PHONE}", headers=asked)
    speaks(page, "pl")
    for words in (
        "Wpisz PIN, aby zapłacić 300 KES odbiorcy payflow sandbox",
        "Konto: pay_ORD-9_pl",
        ">PIN M-PESA</label>",
        ">Wyślij</button>",
        ">Anuluj</button>",
        '<h2 id="inbox">Wiadomości</h2>',
        "Brak wiadomości.",
        "Numery testowe",
        f"PIN {get_settings().sandbox_mpesa_pin} płaci",
    ):
        assert words in page.text, words
    assert "Enter PIN" not in page.text

    answer(http, reference, pin=get_settings().sandbox_mpesa_pin)
    after = http.get(f"/sandbox/payhero/phone/{PHONE}", headers=asked)
    assert "Brak próśb o płatność M-PESA" in after.text
    # The SMS is M-PESA's, in English as in Kenya, and marked as English for screen readers.
    assert re.search(
        r'<li lang="en" class="paid">.*? Confirmed\. Ksh300\.00 sent to payflow sandbox', after.text
    )


@english
def test_phone_in_english(http: httpx.Client, asked: dict[str, str]) -> None:
    push()
    page = http.get(f"/sandbox/payhero/phone/{PHONE}", headers=asked)
    speaks(page, "en")
    assert "Enter PIN to pay KES 300 to payflow sandbox" in page.text and ">Send</button>" in page.text


# --- the mailbox ------------------------------------------------------------------------


def paid_order_mail(http: httpx.Client) -> None:
    """Pay an order by card; its emails reach the mailbox (the app sends them there)."""
    _order, session_id = start_payment(quantity=1)
    pay(http, session_id)

    def delivered() -> bool:
        messages = http.get("/sandbox/mailbox.json").json()["messages"]
        return bool(messages) and all(m["status"] == "sent" for m in messages)

    wait_until(delivered, what="the order's emails delivered to the mailbox")


@polish
def test_mailbox_in_polish_shows_each_email_in_its_own_language(
    http: httpx.Client, asked: dict[str, str]
) -> None:
    empty = http.get("/sandbox/mailbox", headers=asked)
    speaks(empty, "pl")
    for words in (
        "<h1>Skrzynka pocztowa</h1>",
        ">Odbiorca</label>",
        ">Pokaż</button>",
        "<p>Brak wiadomości.</p>",
    ):
        assert words in empty.text, words

    paid_order_mail(http)
    [sent, *_] = http.get("/sandbox/mailbox.json").json()["messages"]
    page = http.get("/sandbox/mailbox", headers=asked)
    for words in ("<dt>Do</dt>", "<dt>Szablon</dt>", "<dt>Język</dt>", "<dt>Stan</dt>", "wysłana (mailbox)"):
        assert words in page.text, words
    assert f'<h2 lang="{sent["language"]}">{html.escape(sent["subject"])}</h2>' in page.text
    assert "<dt>Template</dt>" not in page.text


@english
def test_mailbox_in_english(http: httpx.Client, asked: dict[str, str]) -> None:
    paid_order_mail(http)
    page = http.get("/sandbox/mailbox", headers=asked)
    speaks(page, "en")
    assert (
        "<h1>Mailbox</h1>" in page.text and "<dt>Template</dt>" in page.text and "sent (mailbox)" in page.text
    )

"""The words of the sandbox's customer-facing pages (the provider pages a customer
lands on in the demo, the simulated phone and the mailbox), in English and Polish.

Kept beside the sandbox rather than in the app's UI catalogues: these pages imitate
other companies' pages and are served by plain Starlette routes, not by Reflex. The
fault knobs are for operators and stay English.

A page speaks the language the app would: the ``payflow_lang`` cookie the app sets
when the customer chooses a language, else the browser's ``Accept-Language``."""

from __future__ import annotations

from babel.numbers import format_decimal
from starlette.requests import Request

from payflow_app.i18n import negotiate, normalise

LANGUAGE_COOKIE = "payflow_lang"

EN: dict[str, str] = {
    "page_title": "{title} — payflow sandbox",
    "banner": "Sandbox — no real money",
    "banner.faults": "Fault knobs",
    "return_to_shop": "Return to the shop",
    "no_messages": "No messages yet.",
    # a card form, on Stripe's and UnivaPay's pages
    "card.number": "Card number",
    "card.expiry": "Expiry (MM / YY)",
    "card.expiry_placeholder": "MM / YY",
    "card.holder": "Cardholder name",
    "card.email": "Email",
    "card.number_invalid": "Your card number is invalid.",
    # Stripe Checkout
    "stripe.title": "Pay",
    "stripe.back": "← Back",
    "stripe.pay_to": "Pay {merchant}",
    "stripe.pay_amount": "Pay {amount}",
    "stripe.hint": "Test cards: 4242 4242 4242 4242 pays · 4000 0000 0000 0002 is declined · 4000 0000 0000 9995 has insufficient funds.",
    "stripe.expiry_incomplete": "Your card's expiration date is incomplete.",
    "stripe.expiry_past": "Your card's expiration year is in the past.",
    "stripe.cvc_incomplete": "Your card's security code is incomplete.",
    "stripe.declined": "Your card was declined.",
    "stripe.insufficient_funds": "Your card has insufficient funds.",
    "stripe.paid": "This checkout has been paid",
    "stripe.expired": "This checkout has expired",
    "stripe.not_found": "Checkout not found",
    # UnivaPay's widget
    "univapay.page_title": "{title} — UnivaPay sandbox",
    "univapay.merchant": "payflow (UnivaPay sandbox store)",
    "univapay.card_payment": "Card payment",
    "univapay.pay": "Pay",
    "univapay.cancel": "Cancel",
    "univapay.hint": "Test cards: 4242 4242 4242 4242 succeeds · 4111 1111 1111 1111 fails · 4000 0000 0000 3220 requires 3-D Secure. Any future expiry and any 3-digit CVV.",
    "univapay.unavailable": "Checkout unavailable",
    "univapay.bad_app": "This checkout's app token (appId) is not valid for this store.",
    "univapay.bad_amount": "The amount must be a positive whole number of the currency's minor units.",
    "univapay.bad_currency": "The currency {currency} is not supported.",
    "univapay.no_currency": "(none)",
    "univapay.bad_urls": "The checkout needs an http(s) action and cancel URL.",
    "univapay.returning_title": "Returning to the shop",
    "univapay.returning": "Returning to the shop…",
    "univapay.accepted": "Your card was accepted; the shop now confirms the payment.",
    "univapay.continue": "Continue",
    "field.card_required": "Enter your card number.",
    "field.expiry": "Enter the expiry date as MM / YY.",
    "field.expired": "Your card has expired.",
    "field.cvv": "The CVV is the 3 or 4 digits on your card.",
    "field.holder_required": "Enter the cardholder's name.",
    "field.email_required": "Enter your email address.",
    "field.email_invalid": "Enter a valid email address.",
    # the card issuer's 3-D Secure page
    "three_ds.title": "3-D Secure authentication",
    "three_ds.ask": "Your card issuer asks you to confirm this payment.",
    "three_ds.merchant": "Merchant",
    "three_ds.amount": "Amount",
    "three_ds.card": "Card",
    "three_ds.complete": "Complete authentication",
    "three_ds.fail": "Fail authentication",
    "three_ds.done": "This authentication is already complete",
    "three_ds.payment_is": "The payment is {status}.",
    "three_ds.finished": "Authentication {status}",
    "three_ds.choose": "Choose to complete or fail the authentication",
    "three_ds.not_found_title": "Not found",
    "three_ds.not_found": "Authentication not found",
    "charge.successful": "successful",
    "charge.failed": "failed",
    "charge.error": "failed with an error",
    "charge.canceled": "cancelled",
    "charge.pending": "pending",
    "charge.awaiting": "awaiting authentication",
    "charge.authorized": "authorised",
    # the simulated phone (the SMS it shows are M-PESA's own, in English: see phone.py)
    "phone.title": "M-PESA {phone} — payflow sandbox",
    "phone.ask": "Enter PIN to pay KES {amount} to {merchant}",
    "phone.account": "Account: {account}",
    "phone.pin": "M-PESA PIN",
    "phone.send": "Send",
    "phone.cancel": "Cancel",
    "phone.no_requests": "No M-PESA requests",
    "phone.messages": "Messages",
    "phone.test_numbers": "Test numbers",
    "phone.hint_pin": "PIN {pin} pays; any other PIN is a wrong PIN.",
    "phone.hint_low_balance": "{phone} has too little balance.",
    "phone.hint_timeout": "Leave a prompt unanswered for {seconds} seconds and it times out.",
    "phone.not_kenyan": "This is not a Kenyan mobile number.",
    # the mailbox
    "mailbox.banner": "Sandbox — emails are kept here, not sent",
    "mailbox.title": "Mailbox",
    "mailbox.recipient": "Recipient",
    "mailbox.show": "Show",
    "mailbox.all": "All messages",
    "mailbox.to": "To",
    "mailbox.template": "Template",
    "mailbox.language": "Language",
    "mailbox.status": "Status",
    "mailbox.time": "Time",
    "mailbox.last_error": "Last error",
    "mailbox.state.queued": "queued",
    "mailbox.state.sent": "sent",
    "mailbox.state.failed": "failed",
}

PL: dict[str, str] = {
    "page_title": "{title} — piaskownica payflow",
    "banner": "Piaskownica — bez prawdziwych pieniędzy",
    "banner.faults": "Symulowane awarie",
    "return_to_shop": "Wróć do sklepu",
    "no_messages": "Brak wiadomości.",
    "card.number": "Numer karty",
    "card.expiry": "Data ważności (MM / RR)",
    "card.expiry_placeholder": "MM / RR",
    "card.holder": "Imię i nazwisko posiadacza karty",
    "card.email": "E-mail",
    "card.number_invalid": "Numer karty jest nieprawidłowy.",
    "stripe.title": "Płatność",
    "stripe.back": "← Wstecz",
    "stripe.pay_to": "Zapłać: {merchant}",
    "stripe.pay_amount": "Zapłać {amount}",
    "stripe.hint": "Karty testowe: 4242 4242 4242 4242 płaci · 4000 0000 0000 0002 zostaje odrzucona · na 4000 0000 0000 9995 brakuje środków.",
    "stripe.expiry_incomplete": "Data ważności karty jest niepełna.",
    "stripe.expiry_past": "Data ważności karty już minęła.",
    "stripe.cvc_incomplete": "Kod zabezpieczający karty jest niepełny.",
    "stripe.declined": "Karta została odrzucona.",
    "stripe.insufficient_funds": "Na karcie brakuje środków.",
    "stripe.paid": "Ta płatność jest już opłacona",
    "stripe.expired": "Ta płatność wygasła",
    "stripe.not_found": "Nie znaleziono płatności",
    "univapay.page_title": "{title} — piaskownica UnivaPay",
    "univapay.merchant": "payflow (sklep testowy UnivaPay)",
    "univapay.card_payment": "Płatność kartą",
    "univapay.pay": "Zapłać",
    "univapay.cancel": "Anuluj",
    "univapay.hint": "Karty testowe: 4242 4242 4242 4242 płaci · 4111 1111 1111 1111 zostaje odrzucona · 4000 0000 0000 3220 wymaga 3-D Secure. Dowolna przyszła data ważności i dowolny 3-cyfrowy CVV.",
    "univapay.unavailable": "Płatność niedostępna",
    "univapay.bad_app": "Token aplikacji (appId) tej płatności nie jest ważny dla tego sklepu.",
    "univapay.bad_amount": "Kwota musi być dodatnią liczbą całkowitą najmniejszych jednostek waluty.",
    "univapay.bad_currency": "Waluta {currency} nie jest obsługiwana.",
    "univapay.no_currency": "(brak)",
    "univapay.bad_urls": "Płatność wymaga adresów http(s) powrotu (action) i anulowania (cancel).",
    "univapay.returning_title": "Powrót do sklepu",
    "univapay.returning": "Wracasz do sklepu…",
    "univapay.accepted": "Karta została przyjęta; sklep potwierdza teraz płatność.",
    "univapay.continue": "Dalej",
    "field.card_required": "Wpisz numer karty.",
    "field.expiry": "Wpisz datę ważności jako MM / RR.",
    "field.expired": "Karta straciła ważność.",
    "field.cvv": "CVV to 3 lub 4 cyfry na karcie.",
    "field.holder_required": "Wpisz imię i nazwisko posiadacza karty.",
    "field.email_required": "Wpisz adres e-mail.",
    "field.email_invalid": "Wpisz prawidłowy adres e-mail.",
    "three_ds.title": "Uwierzytelnianie 3-D Secure",
    "three_ds.ask": "Wydawca karty prosi o potwierdzenie tej płatności.",
    "three_ds.merchant": "Sprzedawca",
    "three_ds.amount": "Kwota",
    "three_ds.card": "Karta",
    "three_ds.complete": "Potwierdź uwierzytelnienie",
    "three_ds.fail": "Odrzuć uwierzytelnienie",
    "three_ds.done": "To uwierzytelnienie jest już zakończone",
    "three_ds.payment_is": "Stan płatności: {status}.",
    "three_ds.finished": "Uwierzytelnienie zakończone — płatność: {status}",
    "three_ds.choose": "Wybierz: potwierdź albo odrzuć uwierzytelnienie",
    "three_ds.not_found_title": "Nie znaleziono",
    "three_ds.not_found": "Nie znaleziono uwierzytelnienia",
    "charge.successful": "opłacona",
    "charge.failed": "nieudana",
    "charge.error": "przerwana błędem",
    "charge.canceled": "anulowana",
    "charge.pending": "w toku",
    "charge.awaiting": "czeka na uwierzytelnienie",
    "charge.authorized": "autoryzowana",
    "phone.title": "M-PESA {phone} — piaskownica payflow",
    "phone.ask": "Wpisz PIN, aby zapłacić {amount} KES odbiorcy {merchant}",
    "phone.account": "Konto: {account}",
    "phone.pin": "PIN M-PESA",
    "phone.send": "Wyślij",
    "phone.cancel": "Anuluj",
    "phone.no_requests": "Brak próśb o płatność M-PESA",
    "phone.messages": "Wiadomości",
    "phone.test_numbers": "Numery testowe",
    "phone.hint_pin": "PIN {pin} płaci; każdy inny PIN jest błędny.",
    "phone.hint_low_balance": "{phone} ma za mało środków.",
    "phone.hint_timeout": "Prośba bez odpowiedzi przez {seconds} s wygasa.",
    "phone.not_kenyan": "To nie jest kenijski numer komórkowy.",
    "mailbox.banner": "Piaskownica — wiadomości zostają tutaj, nie są wysyłane",
    "mailbox.title": "Skrzynka pocztowa",
    "mailbox.recipient": "Odbiorca",
    "mailbox.show": "Pokaż",
    "mailbox.all": "Wszystkie wiadomości",
    "mailbox.to": "Do",
    "mailbox.template": "Szablon",
    "mailbox.language": "Język",
    "mailbox.status": "Stan",
    "mailbox.time": "Czas",
    "mailbox.last_error": "Ostatni błąd",
    "mailbox.state.queued": "w kolejce",
    "mailbox.state.sent": "wysłana",
    "mailbox.state.failed": "niewysłana",
}

TEXTS: dict[str, dict[str, str]] = {"en": EN, "pl": PL}


def page_language(request: Request) -> str:
    """The language the customer chose in the app (its cookie), else their browser's."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    return normalise(chosen) if chosen else negotiate(request.headers.get("accept-language"))


def text(lang: str, key: str, **params: object) -> str:
    """Falls back to English, then to the key itself (visible, never fatal)."""
    words = TEXTS.get(normalise(lang), EN).get(key) or EN.get(key) or key
    return words.format(**params) if params else words


def word_or_raw(lang: str, prefix: str, value: str) -> str:
    """A provider's or the outbox's status word for a reader; one with no words is
    shown as it is stored."""
    key = f"{prefix}.{value}"
    said = text(lang, key)
    return value if said == key else said


def whole_number(lang: str, value: int) -> str:
    """``1,500`` in English, ``1 500`` in Polish: M-PESA amounts are whole shillings."""
    return format_decimal(value, locale=normalise(lang))

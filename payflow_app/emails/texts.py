"""The words of payflow's emails, per language. Kept beside the templates rather than in
the UI catalogues: an email is read in an inbox, long after the page that queued it.

``text(lang, key, **params)`` falls back to English, then to the key itself."""

from __future__ import annotations

from payflow_app.i18n import normalise

EN: dict[str, str] = {
    "greeting": "Hello {name},",
    "signature": "— the payflow team",
    # membership
    "membership.subject": "Your {plan} membership",
    "membership.intro": "Thank you for becoming a member. Your {plan} membership is active until {until}. Sign in with these credentials:",
    "membership.username": "Username",
    "membership.password": "Password",
    "membership.keep_safe": "Keep this password safe: we store only a scrambled form of it and cannot send it again.",
    "footer": "You are receiving this email because of your order {order} on payflow.",
    # welcome
    "welcome.subject": "Your payflow account",
    "welcome.intro": "We created a payflow account for you when you placed your order. Sign in to see your tickets and receipts.",
    "welcome.login": "Login",
    "welcome.password": "Temporary password",
    "welcome.sign_in": "Sign in",
    "welcome.first_login": "When you sign in for the first time, you will be asked to choose a new password.",
    "welcome.not_you": "If you do not recognise this order, you can ignore this email.",
    # tickets
    "tickets.subject": "Your tickets for {event} — order {order}",
    "tickets.intro": "Thank you for your order {order}. Your tickets are below: show the QR code at the entrance, on your phone or printed.",
    "tickets.when": "When",
    "tickets.where": "Where",
    "tickets.ticket": "Ticket",
    "tickets.type": "Type",
    "tickets.qr_alt": "QR code of ticket {number}",
    "tickets.my_tickets": "My Tickets",
    "tickets.my_tickets_text": "Your tickets are also in My Tickets: {url}",
    "revoked.subject": "Your ticket {number} for {event} was cancelled",
    "revoked.intro": "The organizer of {event} cancelled your ticket {number}: its QR code no longer admits anyone.",
    "revoked.reason": "Reason",
    "revoked.contact": "Questions? Reply to the organizer's messages or write to them directly.",
    "reissued.intro": "Your ticket has a new QR code: use this one, the previous code no longer admits anyone.",
    # receipt
    "receipt.subject": "Payment receipt — order {order}",
    "receipt.intro": "Thank you for your payment. This is your receipt.",
    "receipt.order": "Order number",
    "receipt.receipt": "Receipt number",
    "receipt.date": "Date",
    "receipt.amount": "Amount",
    "receipt.status": "Status",
    "receipt.description": "Description",
    # order and payment statuses, as a receipt shows them
    "status.pending": "Pending",
    "status.awaiting_payment": "Awaiting payment",
    "status.paid": "Paid",
    "status.fulfilled": "Completed",
    "status.succeeded": "Paid",
    "status.cancelled": "Cancelled",
    "status.expired": "Expired",
    "status.refunded": "Refunded",
}

PL: dict[str, str] = {
    "greeting": "Dzień dobry, {name},",
    "signature": "— zespół payflow",
    # membership
    "membership.subject": "Twoje członkostwo {plan}",
    "membership.intro": "Dziękujemy za dołączenie. Członkostwo {plan} jest aktywne do {until}. Zaloguj się tymi danymi:",
    "membership.username": "Nazwa użytkownika",
    "membership.password": "Hasło",
    "membership.keep_safe": "Zachowaj to hasło: przechowujemy tylko jego zaszyfrowany skrót i nie możemy wysłać go ponownie.",
    "footer": "Otrzymujesz tę wiadomość w związku z zamówieniem {order} w payflow.",
    # welcome
    "welcome.subject": "Twoje konto w payflow",
    "welcome.intro": "Podczas składania zamówienia założyliśmy dla Ciebie konto w payflow. Zaloguj się, aby zobaczyć swoje bilety i potwierdzenia płatności.",
    "welcome.login": "Login",
    "welcome.password": "Hasło tymczasowe",
    "welcome.sign_in": "Zaloguj się",
    "welcome.first_login": "Przy pierwszym logowaniu poprosimy Cię o ustawienie nowego hasła.",
    "welcome.not_you": "Jeśli nie rozpoznajesz tego zamówienia, zignoruj tę wiadomość.",
    # tickets
    "tickets.subject": "Twoje bilety na {event} — zamówienie {order}",
    "tickets.intro": "Dziękujemy za zamówienie {order}. Poniżej znajdziesz swoje bilety: przy wejściu pokaż kod QR na telefonie lub wydrukowany.",
    "tickets.when": "Kiedy",
    "tickets.where": "Gdzie",
    "tickets.ticket": "Bilet",
    "tickets.type": "Rodzaj",
    "tickets.qr_alt": "Kod QR biletu {number}",
    "tickets.my_tickets": "Moje bilety",
    "tickets.my_tickets_text": "Bilety znajdziesz też w zakładce Moje bilety: {url}",
    "revoked.subject": "Twój bilet {number} na {event} został anulowany",
    "revoked.intro": "Organizator wydarzenia {event} anulował Twój bilet {number}: jego kod QR nie uprawnia już do wejścia.",
    "revoked.reason": "Powód",
    "revoked.contact": "Masz pytania? Skontaktuj się bezpośrednio z organizatorem.",
    "reissued.intro": "Twój bilet ma nowy kod QR: używaj tego, poprzedni kod nie uprawnia już do wejścia.",
    # receipt
    "receipt.subject": "Potwierdzenie płatności — zamówienie {order}",
    "receipt.intro": "Dziękujemy za płatność. Oto jej potwierdzenie.",
    "receipt.order": "Numer zamówienia",
    "receipt.receipt": "Numer potwierdzenia",
    "receipt.date": "Data",
    "receipt.amount": "Kwota",
    "receipt.status": "Status",
    "receipt.description": "Opis",
    "status.pending": "Oczekuje",
    "status.awaiting_payment": "Oczekuje na płatność",
    "status.paid": "Opłacone",
    "status.fulfilled": "Zrealizowane",
    "status.succeeded": "Opłacone",
    "status.cancelled": "Anulowane",
    "status.expired": "Wygasło",
    "status.refunded": "Zwrócone",
}

TEXTS: dict[str, dict[str, str]] = {"en": EN, "pl": PL}


def text(lang: str, key: str, **params: object) -> str:
    words = TEXTS.get(normalise(lang), EN).get(key) or EN.get(key) or key
    return words.format(**params) if params else words


def status_label(lang: str, status: str) -> str:
    """A status word for a reader; an unknown status is shown as it is stored."""
    key = f"status.{status}"
    label = text(lang, key)
    return status if label == key else label

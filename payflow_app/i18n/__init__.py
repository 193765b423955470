"""Languages: message catalogues (``en``, ``pl``), and money and dates formatted for
the reader's language. Pure Python: services, emails and the UI all use it.

``t(lang, key, **params)`` looks a message up (falling back to English, then to the
key itself, so a missing translation is visible but never fatal)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from babel.dates import format_datetime as _babel_datetime
from babel.numbers import format_currency as _babel_currency

from payflow_app.core.money import exponent
from payflow_app.core.money import format_money as _format_money_en
from payflow_app.i18n.en import MESSAGES as EN
from payflow_app.i18n.pl import MESSAGES as PL

DEFAULT = "en"
LANGUAGES: dict[str, str] = {"en": "English", "pl": "Polski"}
CATALOGUES: dict[str, dict[str, str]] = {"en": EN, "pl": PL}


def normalise(lang: str | None) -> str:
    code = (lang or "").strip().lower()[:2]
    return code if code in LANGUAGES else DEFAULT


def negotiate(accept_language: str | None) -> str:
    """The first supported language of an ``Accept-Language`` header, by weight."""
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, weight = part.strip().partition(";q=")
        try:
            quality = float(weight) if weight else 1.0
        except ValueError:
            quality = 0.0
        code = tag.strip().lower()[:2]
        if code in LANGUAGES and quality > 0:
            choices.append((-quality, index, code))
    return min(choices)[2] if choices else DEFAULT


def t(lang: str, key: str, **params: object) -> str:
    text = CATALOGUES.get(normalise(lang), EN).get(key) or EN.get(key) or key
    return text.format(**params) if params else text


def decline_reason(lang: str, code: str | None, said: str | None) -> str:
    """Why a payment did not go through, once, with what to do next: payflow's words
    for a provider code it knows (``decline.univapay_358``), else the provider's own
    (English) words, else a general line."""
    key = f"decline.{code}"
    if code and key in EN:
        return t(lang, key)
    return said or t(lang, "success.failed")


def format_money(amount: int, currency: str, lang: str = DEFAULT) -> str:
    """Minor units for a reader: ``120.00 zł`` in English, ``120,00 zł`` in Polish."""
    if normalise(lang) == "en":
        return _format_money_en(amount, currency)
    value = Decimal(amount).scaleb(-exponent(currency))
    return _babel_currency(value, currency.upper(), locale=normalise(lang))


def format_datetime(value: datetime, lang: str = DEFAULT) -> str:
    """``22 December 2026, 19:00 UTC`` / ``22 grudnia 2026, 19:00 UTC``."""
    return _babel_datetime(value, "d MMMM y, HH:mm", locale=normalise(lang), tzinfo=None) + " UTC"

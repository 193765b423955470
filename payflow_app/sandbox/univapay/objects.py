"""UnivaPay's transaction tokens and charges in their wire shape (snake_case JSON),
and the validation UnivaPay answers with ``VALIDATION_ERROR`` field reasons.

A token keeps its full card number under a private key, never answered, so that
its charges behave as the test card says."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from payflow_app.core.inputs import ascii_digits, bounded_int, whole_number
from payflow_app.core.money import EXPONENTS
from payflow_app.settings import get_settings

MERCHANT_ID = "11ef0000-0000-0000-0000-6d6572636801"
PLATFORM_ID = "11ef0000-0000-0000-0000-706c6174666d"
# Keys the sandbox keeps on its objects and never answers.
PRIVATE_PREFIX = "_sandbox_"
CARD_NUMBER = "_sandbox_card_number"  # on a token: the full number its charges behave by
CAPTURE = "_sandbox_capture"  # on a charge: whether it is captured once it succeeds
THREE_DS_MODES = ("normal", "force", "skip", "if_available", "require", "provided")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str


def new_id() -> str:
    return str(uuid.uuid4())


def timestamp() -> str:
    """UnivaPay's ``created_on``/``updated_on``: ISO 8601 in UTC with a ``Z``."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def public(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object as UnivaPay answers it: without the sandbox's private keys."""
    return {k: v for k, v in obj.items() if not k.startswith(PRIVATE_PREFIX)}


def luhn_ok(number: str) -> bool:
    if not ascii_digits(number):
        return False
    digits = [int(d) for d in number][::-1]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits))
    return 12 <= len(number) <= 19 and total % 10 == 0


def card_brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or 2221 <= int(number[:4]) <= 2720:
        return "mastercard"
    if number[:2] in {"34", "37"}:
        return "american_express"
    if number.startswith("35"):
        return "jcb"
    if number[:2] in {"30", "36", "38"}:
        return "diners_club"
    if number.startswith(("6011", "65")):
        return "discover"
    return "unknown"


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return bounded_int(value)
    return whole_number(value, minimum=0) if isinstance(value, str) else None


def card_number_of(data: Mapping[str, Any]) -> str:
    return str(data.get("card_number") or "").replace(" ", "").replace("-", "")


def token_errors(body: Mapping[str, Any]) -> list[FieldError]:
    """What UnivaPay would answer to a token request: the request's own fields, then
    the card's (when there is a card at all)."""
    errors = _request_errors(body)
    data = body.get("data")
    if not isinstance(data, Mapping):
        return [*errors, FieldError("data", "REQUIRED_VALUE")]
    return [*errors, *_card_errors(data)]


def _request_errors(body: Mapping[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    if body.get("payment_type") != "card":
        errors.append(FieldError("payment_type", "PAYMENT_TYPE_NOT_ALLOWED"))
    if body.get("type", "one_time") != "one_time":
        errors.append(FieldError("type", "ONE_TIME_ONLY_ALLOWED"))
    email = body.get("email")
    if not email:
        errors.append(FieldError("email", "REQUIRED_VALUE"))
    elif not isinstance(email, str) or not _EMAIL.match(email):
        errors.append(FieldError("email", "INVALID_FORMAT_EMAIL"))
    return errors


def _card_errors(data: Mapping[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    number = card_number_of(data)
    if not number:
        errors.append(FieldError("data.card_number", "REQUIRED_VALUE"))
    elif not luhn_ok(number):
        errors.append(FieldError("data.card_number", "INVALID_CARD_NUMBER"))
    if (expiry := _expiry_error(data)) is not None:
        errors.append(expiry)
    cvv = str(data.get("cvv") or "").strip()
    if not (ascii_digits(cvv) and len(cvv) in (3, 4)):
        errors.append(FieldError("data.cvv", "INVALID_CVV"))
    if not str(data.get("cardholder") or "").strip():
        errors.append(FieldError("data.cardholder", "REQUIRED_VALUE"))
    return errors


def _expiry_error(data: Mapping[str, Any]) -> FieldError | None:
    month, year = _int(data.get("exp_month")), _int(data.get("exp_year"))
    if month is None or not 1 <= month <= 12:
        return FieldError("data.exp_month", "INVALID_CARD_EXPIRATION")
    if year is None or year < 2000:
        return FieldError("data.exp_year", "INVALID_CARD_EXPIRATION")
    if (year, month) < (date.today().year, date.today().month):
        return FieldError("data.exp_year", "CARD_EXPIRED")
    return None


def new_token(body: Mapping[str, Any]) -> dict[str, Any]:
    """A one-time card token from a request ``token_errors`` found nothing wrong in."""
    data = body["data"]
    number = card_number_of(data)
    return {
        "id": new_id(),
        "store_id": get_settings().univapay_store_id,
        "email": body["email"],
        "payment_type": "card",
        "type": "one_time",
        "mode": "test",
        "active": True,
        "confirmed": None,
        "metadata": dict(body.get("metadata") or {}),
        "created_on": timestamp(),
        "last_used_on": None,
        "usage_limit": None,
        "ip_address": None,
        "data": {
            "card": {
                "cardholder": str(data["cardholder"]).strip(),
                "exp_month": _int(data["exp_month"]),
                "exp_year": _int(data["exp_year"]),
                "last_four": number[-4:],
                "brand": card_brand(number),
            },
            "billing": None,
        },
        CARD_NUMBER: number,
    }


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def money_errors(body: Mapping[str, Any]) -> list[FieldError]:
    """What is wrong with a request's ``amount`` (positive minor units) and ``currency``."""
    errors: list[FieldError] = []
    amount = body.get("amount")
    if amount is None:
        errors.append(FieldError("amount", "REQUIRED_VALUE"))
    elif isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        errors.append(FieldError("amount", "INVALID_AMOUNT"))
    currency = body.get("currency")
    if not currency:
        errors.append(FieldError("currency", "REQUIRED_VALUE"))
    elif not isinstance(currency, str) or currency.upper() not in EXPONENTS:
        errors.append(FieldError("currency", "INVALID_CURRENCY"))
    return errors


def charge_errors(body: Mapping[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    if not body.get("transaction_token_id"):
        errors.append(FieldError("transaction_token_id", "REQUIRED_VALUE"))
    errors += money_errors(body)
    metadata = body.get("metadata", {})
    if not isinstance(metadata, Mapping):
        errors.append(FieldError("metadata", "INVALID_FORMAT_OBJECT"))
    for name, key in (("redirect", "endpoint"), ("three_ds", "redirect_endpoint")):
        section = body.get(name) or {}
        if not isinstance(section, Mapping):
            errors.append(FieldError(name, "INVALID_FORMAT_OBJECT"))
        elif section.get(key) is not None and not _is_url(section[key]):
            errors.append(FieldError(f"{name}.{key}", "INVALID_FORMAT_URL"))
    three_ds = body.get("three_ds") or {}
    if isinstance(three_ds, Mapping) and three_ds.get("mode", "normal") not in THREE_DS_MODES:
        errors.append(FieldError("three_ds.mode", "INVALID_FORMAT"))
    return errors


def formatted(amount: int | None, currency: str | None) -> int | float | None:
    """UnivaPay's ``*_amount_formatted``: the amount in major units."""
    if amount is None or currency is None:
        return None
    exp = EXPONENTS[currency.upper()]
    return amount if exp == 0 else amount / 10**exp


def new_charge(body: Mapping[str, Any], token: Mapping[str, Any]) -> dict[str, Any]:
    """A ``pending`` charge from a request ``charge_errors`` found nothing wrong in."""
    amount, currency = body["amount"], body["currency"].upper()
    three_ds = body.get("three_ds") or {}
    now = timestamp()
    return {
        "id": new_id(),
        "store_id": token["store_id"],
        "merchant_id": MERCHANT_ID,
        "platform_id": PLATFORM_ID,
        "transaction_token_id": token["id"],
        "transaction_token_type": token["type"],
        "subscription_id": None,
        "merchant_transaction_id": body.get("merchant_transaction_id"),
        "requested_amount": amount,
        "requested_currency": currency,
        "requested_amount_formatted": formatted(amount, currency),
        "charged_amount": None,
        "charged_currency": None,
        "charged_amount_formatted": None,
        "fee_amount": None,
        "fee_currency": None,
        "fee_amount_formatted": None,
        "only_direct_currency": bool(body.get("only_direct_currency", False)),
        "capture_at": body.get("capture_at"),
        "descriptor": body.get("descriptor"),
        "descriptor_phone_number": None,
        "status": "pending",
        "error": None,
        "metadata": dict(body.get("metadata") or {}),
        "mode": "test",
        "created_on": now,
        "updated_on": now,
        "redirect": dict(body.get("redirect") or {}),
        "three_ds": {
            "redirect_endpoint": three_ds.get("redirect_endpoint"),
            "redirect_id": None,
            "mode": three_ds.get("mode", "normal"),
        },
        "ledger_id": None,
        "type": "normal",
        CAPTURE: body.get("capture", True) is not False,
    }

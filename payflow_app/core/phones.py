"""Kenyan mobile numbers, as M-PESA wants them: ``254`` and nine digits, 7… or 1…."""

from __future__ import annotations

import re

from payflow_app.core.inputs import ascii_digits

_SEPARATORS = re.compile(r"[\s\-.()]")
_NATIONAL = re.compile(r"[17][0-9]{8}")  # the nine digits after 254 (or after the trunk 0)


def normalise_kenyan_phone(raw: str) -> str | None:
    """``"0712 345 678"``, ``"+254-712-345678"``, ``"00254712345678"``, ``"712345678"``
    → ``"254712345678"``. None when it is not a Kenyan mobile number (letters, wrong
    length, another country, a landline)."""
    text = _SEPARATORS.sub("", raw.strip())
    international = text.startswith(("+", "00"))
    digits = text.removeprefix("+") if text.startswith("+") else text.removeprefix("00")
    if not ascii_digits(digits):
        return None
    if digits.startswith("254"):
        national = digits[3:]
        if len(national) == 10 and national.startswith("0"):  # "+254 (0)712 …"
            national = national[1:]
    elif international:
        return None  # another country's code
    elif len(digits) == 10 and digits.startswith("0"):
        national = digits[1:]
    else:
        national = digits
    return f"254{national}" if _NATIONAL.fullmatch(national) else None


def mask_phone(phone: str) -> str:
    """``"254712345678"`` → ``"2547•••••678"``: enough to recognise one's own number."""
    digits = normalise_kenyan_phone(phone) or re.sub(r"[^0-9]", "", phone)
    if len(digits) < 8:
        return "•" * len(digits)
    return f"{digits[:4]}{'•' * (len(digits) - 7)}{digits[-3:]}"

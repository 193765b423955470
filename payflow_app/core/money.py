"""Money as integer minor units plus an ISO 4217 currency. Never floats."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Minor-unit exponents of the currencies payflow sells in.
EXPONENTS: dict[str, int] = {"KES": 2, "PLN": 2, "USD": 2, "EUR": 2, "JPY": 0}
SYMBOLS: dict[str, tuple[str, bool]] = {
    # currency -> (symbol, symbol goes before the amount)
    "USD": ("$", True),
    "EUR": ("€", True),
    "JPY": ("¥", True),
    "PLN": ("zł", False),
    "KES": ("KES", True),
}


class CurrencyError(ValueError):
    pass


def exponent(currency: str) -> int:
    try:
        return EXPONENTS[currency.upper()]
    except KeyError:
        raise CurrencyError(f"unsupported currency {currency!r}") from None


@dataclass(frozen=True, order=True)
class Money:
    amount: int  # minor units
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money.amount must be an int of minor units")
        object.__setattr__(self, "currency", self.currency.upper())
        exponent(self.currency)

    def __mul__(self, quantity: int) -> Money:
        if not isinstance(quantity, int):
            raise TypeError("Money can only be multiplied by an int")
        return Money(self.amount * quantity, self.currency)

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise CurrencyError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)


def parse_amount(text: str, currency: str) -> int:
    """A typed amount in major units as integer minor units, without floats:
    ``parse_amount("120.5", "PLN") == 12050``; ``("1,500", "JPY") == 1500``.
    Raises ValueError for anything else (negative, too many decimals, letters, digits
    other than 0-9 such as ``²`` or ``٣``, and a comma that does not separate thousands:
    ``120,50`` is not read as 12,050)."""
    exp = exponent(currency)
    cleaned = text.strip().replace(" ", "")
    match = re.fullmatch(r"([0-9]{1,3}(?:,[0-9]{3}){1,3}|[0-9]{1,12})(?:\.([0-9]{1,12}))?", cleaned)
    if match is None:
        if any(c.isdigit() and not c.isascii() for c in cleaned):
            raise ValueError(f"not an amount: {text!r} (type the digits 0-9)")
        raise ValueError(f"not an amount: {text!r}")
    whole, fraction = match.group(1).replace(",", ""), match.group(2) or ""
    if len(fraction) > exp:
        raise ValueError(f"{currency} has {exp} decimal places")
    scale: int = 10**exp  # int ** int is typed Any (a negative power would be a float)
    return int(whole) * scale + (int(fraction.ljust(exp, "0")) if exp else 0)


_SPACES = re.compile(r"[\s\u00a0\u202f']")


def typed_amount(text: str, currency: str, lang: str = "en") -> int:
    """An amount as a person types it in their language, in minor units: Polish writes
    ``1 500,50`` (or ``1.500,50``), English ``1,500.50``; either language's ``50,5`` and
    ``50.5`` are fifty and a half. One separator followed by exactly three digits groups
    thousands unless it is the language's decimal mark (``1,500`` is 1500 in English,
    ``1.500`` in Polish). Raises ValueError for anything else."""
    decimal = "," if lang == "pl" else "."
    cleaned = _SPACES.sub("", text)
    separators = [c for c in cleaned if c in ",."]
    if len(set(separators)) == 2:  # both: the last one is the decimal mark
        decimal = cleaned[max(cleaned.rfind(","), cleaned.rfind("."))]
    elif separators and separators[0] != decimal:
        other = separators[0]
        if len(separators) == 1 and len(cleaned.rpartition(other)[2]) != 3:
            decimal = other  # "50.5" typed in Polish, "50,5" in English
    whole, mark, fraction = cleaned.rpartition(decimal) if decimal in cleaned else (cleaned, "", "")
    group = "." if decimal == "," else ","
    if group in whole:
        if not re.fullmatch(rf"[0-9]{{1,3}}(?:{re.escape(group)}[0-9]{{3}})+", whole):
            raise ValueError(f"not an amount: {text!r}")
        whole = whole.replace(group, "")
    canonical = f"{whole}.{fraction}" if mark else whole
    return parse_amount(canonical, currency)


def amount_text(amount: int, currency: str) -> str:
    """The inverse of :func:`parse_amount`, as a person types it: ``(12050, "PLN") ==
    "120.50"``; ``(1500, "JPY") == "1500"``."""
    exp = exponent(currency)
    whole, minor = divmod(amount, 10**exp)
    return f"{whole}.{minor:0{exp}d}" if exp else str(whole)


def format_money(amount: int, currency: str) -> str:
    """``format_money(12345, "PLN") == "123.45 zł"``; ``(1500, "JPY") == "¥1,500"``."""
    exp = exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, minor = divmod(abs(amount), 10**exp)
    number = f"{whole:,}" + (f".{minor:0{exp}d}" if exp else "")
    symbol, before = SYMBOLS[currency.upper()]
    if before:
        return f"{sign}{symbol}{number}" if len(symbol) == 1 else f"{sign}{symbol} {number}"
    return f"{sign}{number} {symbol}"

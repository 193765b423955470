import pytest

from payflow_app.core.money import (
    CurrencyError,
    Money,
    amount_text,
    format_money,
    parse_amount,
    typed_amount,
)


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (12345, "PLN", "123.45 zł"),
        (150000, "KES", "KES 1,500.00"),
        (1999, "USD", "$19.99"),
        (5, "EUR", "€0.05"),
        (1500, "JPY", "¥1,500"),  # JPY has no minor unit
        (-250, "USD", "-$2.50"),
    ],
)
def test_format_money_uses_each_currencys_exponent(amount: int, currency: str, shown: str) -> None:
    assert format_money(amount, currency) == shown


def test_money_refuses_floats_and_unknown_currencies() -> None:
    with pytest.raises(TypeError):
        Money(12.5, "PLN")  # type: ignore[arg-type]
    with pytest.raises(CurrencyError):
        Money(100, "XYZ")


def test_money_arithmetic_stays_in_one_currency() -> None:
    assert Money(12000, "pln") * 3 == Money(36000, "PLN")
    assert Money(100, "EUR") + Money(250, "EUR") == Money(350, "EUR")
    with pytest.raises(CurrencyError):
        Money(100, "EUR") + Money(100, "USD")


@pytest.mark.parametrize(
    ("typed", "currency", "minor"),
    [
        ("120", "PLN", 12000),
        ("120.5", "PLN", 12050),
        (" 120.50 ", "PLN", 12050),
        ("0.05", "EUR", 5),
        ("1,500", "JPY", 1500),  # JPY has no minor unit
        ("1,500.00", "KES", 150000),
        ("1 500", "KES", 150000),
        ("1,234,567.89", "usd", 123456789),
    ],
)
def test_parse_amount_reads_major_units_into_minor_units(typed: str, currency: str, minor: int) -> None:
    assert parse_amount(typed, currency) == minor


@pytest.mark.parametrize(
    ("typed", "currency"),
    [
        ("-5", "PLN"),
        ("12.345", "PLN"),  # more decimals than the currency has
        ("1.5", "JPY"),
        ("12.", "PLN"),
        ("1e3", "USD"),
        ("twelve", "EUR"),
        ("", "PLN"),
        ("120,50", "PLN"),  # a decimal comma, not a thousands separator: not 12,050 zł
        ("1,50", "EUR"),
        ("12,3456", "KES"),
    ],
)
def test_parse_amount_refuses_what_is_not_an_amount(typed: str, currency: str) -> None:
    with pytest.raises(ValueError):
        parse_amount(typed, currency)


def test_parse_amount_refuses_unknown_currencies() -> None:
    with pytest.raises(CurrencyError):
        parse_amount("10", "GBP")


@pytest.mark.parametrize(
    ("amount", "currency"),
    [(12050, "PLN"), (5, "EUR"), (1500, "JPY"), (0, "JPY"), (0, "KES"), (1, "KES"), (123_456_789, "USD")],
)
def test_amount_text_is_what_parse_amount_reads_back(amount: int, currency: str) -> None:
    assert parse_amount(amount_text(amount, currency), currency) == amount
    assert amount_text(12050, "PLN") == "120.50"


@pytest.mark.parametrize(
    ("typed", "lang", "minor"),
    [
        ("1 500,50", "pl", 150050),
        ("1\u00a0500,50", "pl", 150050),  # a no-break space, as Polish formatting writes it
        ("1.500,50", "pl", 150050),
        ("1.500", "pl", 150000),
        ("50,5", "pl", 5050),
        ("50.5", "pl", 5050),  # the other mark with one or two digits is still a decimal
        ("1,500.50", "en", 150050),
        ("1,500", "en", 150000),
        ("50,50", "en", 5050),
        ("12,345,678.9", "en", 1234567890),
    ],
)
def test_typed_amount_reads_each_languages_way_of_writing(typed: str, lang: str, minor: int) -> None:
    assert typed_amount(typed, "PLN", lang) == minor


@pytest.mark.parametrize(
    ("typed", "lang"),
    [("1.234", "en"), ("1,234", "pl"), ("1,50,0", "en"), ("5.", "en"), (",5", "pl"), ("1.50.000", "pl")],
)
def test_typed_amount_refuses_what_is_not_an_amount(typed: str, lang: str) -> None:
    with pytest.raises(ValueError):
        typed_amount(typed, "PLN", lang)

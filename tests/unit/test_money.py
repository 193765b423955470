import pytest

from payflow_app.services.money import CurrencyError, Money, format_money


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

import pytest

from payflow_app.core.phones import mask_phone, normalise_kenyan_phone


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("0712345678", "254712345678"),
        ("0112345678", "254112345678"),
        ("712345678", "254712345678"),
        ("112345678", "254112345678"),
        ("+254712345678", "254712345678"),
        ("254712345678", "254712345678"),
        ("+254112345678", "254112345678"),
        ("254112345678", "254112345678"),
        ("00254712345678", "254712345678"),
        ("0712 345 678", "254712345678"),
        ("+254 712-345-678", "254712345678"),
        ("0712.345.678", "254712345678"),
        ("(0712) 345678", "254712345678"),
        ("+254 (0) 712 345 678", "254712345678"),
        ("  0722 000 111  ", "254722000111"),
        ("254700000001", "254700000001"),
    ],
)
def test_every_common_form_of_a_kenyan_mobile_number_is_accepted(raw: str, normalised: str) -> None:
    assert normalise_kenyan_phone(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "07123456ab",  # letters
        "phone",
        "071234567",  # too short
        "07123456789",  # too long
        "2547123456789",
        "+25471234567",
        "+48600100200",  # Poland
        "+255712345678",  # Tanzania
        "0048600100200",
        "0202345678",  # Nairobi landline
        "+254202345678",
        "0812345678",  # no such mobile prefix
        "+2540712345",
        "07+12345678",  # a plus in the middle
    ],
)
def test_anything_else_is_not_a_kenyan_mobile_number(raw: str) -> None:
    assert normalise_kenyan_phone(raw) is None


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("254712345678", "2547•••••678"),
        ("0712 345 678", "2547•••••678"),
        ("123", "•••"),
    ],
)
def test_a_masked_number_shows_only_its_ends(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked

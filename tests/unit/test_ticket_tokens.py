import base64
import json
from pathlib import Path

import pytest
from PIL import Image

from payflow_app.services import tickets


@pytest.fixture(autouse=True)
def _own_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from payflow_app.settings import reload_settings

    monkeypatch.setenv("PAYFLOW_DATA_DIR", str(tmp_path))
    reload_settings()


def _claims_segment(token: str) -> dict:
    segment = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def test_token_verifies_with_the_public_key_only() -> None:
    token = tickets.sign_ticket_token(ticket_number="TKT-1-ABCDEF", event_id=7)
    claims = tickets.verify_ticket_token(token, public_key=tickets.public_key_pem())
    assert (claims.ticket_number, claims.event_id) == ("TKT-1-ABCDEF", 7)
    assert len(claims.nonce) >= 16


def test_token_carries_no_personal_data_and_uses_an_asymmetric_algorithm() -> None:
    token = tickets.sign_ticket_token(ticket_number="TKT-1-ABCDEF", event_id=7)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "ES256"
    assert set(_claims_segment(token)) == {"iss", "tkt", "evt", "nonce", "iat"}


def test_two_tokens_for_one_ticket_differ_by_nonce() -> None:
    a = tickets.sign_ticket_token(ticket_number="TKT-1-ABCDEF", event_id=7)
    b = tickets.sign_ticket_token(ticket_number="TKT-1-ABCDEF", event_id=7)
    assert a != b


def test_tampered_token_is_refused() -> None:
    token = tickets.sign_ticket_token(ticket_number="TKT-1-ABCDEF", event_id=7)
    head, body, sig = token.split(".")
    forged_claims = _claims_segment(token) | {"evt": 8}
    forged_body = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
    with pytest.raises(tickets.InvalidTicketToken):
        tickets.verify_ticket_token(f"{head}.{forged_body}.{sig}")
    with pytest.raises(tickets.InvalidTicketToken):
        tickets.verify_ticket_token(f"{head}.{body}.{sig[:-4]}AAAA")


def test_token_signed_by_another_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = tickets.sign_ticket_token(ticket_number="TKT-1-ABCDEF", event_id=7)
    from payflow_app.settings import reload_settings

    monkeypatch.setenv("PAYFLOW_DATA_DIR", str(tmp_path / "other"))
    reload_settings()
    with pytest.raises(tickets.InvalidTicketToken):
        tickets.verify_ticket_token(token)


def test_qr_png_is_a_real_image(tmp_path: Path) -> None:
    token = tickets.sign_ticket_token(ticket_number="TKT-1-ABCDEF", event_id=7)
    path = tmp_path / "qr.png"
    path.write_bytes(tickets.qr_png(token))
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width == image.height > 100

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from payflow_app.core import qr
from payflow_app.services.tickets import tokens

STARTS = datetime.now(UTC) + timedelta(days=30)


@pytest.fixture(autouse=True)
def _own_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from payflow_app.settings import reload_settings

    monkeypatch.setenv("PAYFLOW_DATA_DIR", str(tmp_path))
    reload_settings()


def _claims_segment(token: str) -> dict:
    segment = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def test_token_verifies_with_the_public_key_only() -> None:
    token = tokens.sign_ticket_token(ticket_number="TKT-1-ABCDEF", event_id=7, event_starts_at=STARTS)
    claims = tokens.verify_ticket_token(token, public_key=tokens.public_key_pem())
    assert (claims.ticket_number, claims.event_id) == ("TKT-1-ABCDEF", 7)
    assert len(claims.nonce) >= 16


def test_token_carries_no_personal_data_and_uses_an_asymmetric_algorithm() -> None:
    token = tokens.sign_ticket_token(ticket_number="TKT-1-ABCDEF", event_id=7, event_starts_at=STARTS)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "ES256"
    assert set(_claims_segment(token)) == {"iss", "tkt", "evt", "nonce", "iat", "exp"}


def test_two_tokens_for_one_ticket_differ_by_nonce() -> None:
    a = tokens.sign_ticket_token(ticket_number="TKT-1-ABCDEF", event_id=7, event_starts_at=STARTS)
    b = tokens.sign_ticket_token(ticket_number="TKT-1-ABCDEF", event_id=7, event_starts_at=STARTS)
    assert a != b


def test_tampered_token_is_refused() -> None:
    token = tokens.sign_ticket_token(ticket_number="TKT-1-ABCDEF", event_id=7, event_starts_at=STARTS)
    head, body, sig = token.split(".")
    forged_claims = _claims_segment(token) | {"evt": 8}
    forged_body = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
    with pytest.raises(tokens.InvalidTicketToken):
        tokens.verify_ticket_token(f"{head}.{forged_body}.{sig}")
    with pytest.raises(tokens.InvalidTicketToken):
        tokens.verify_ticket_token(f"{head}.{body}.{sig[:-4]}AAAA")


def test_token_signed_by_another_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = tokens.sign_ticket_token(ticket_number="TKT-1-ABCDEF", event_id=7, event_starts_at=STARTS)
    from payflow_app.settings import reload_settings

    monkeypatch.setenv("PAYFLOW_DATA_DIR", str(tmp_path / "other"))
    reload_settings()
    with pytest.raises(tokens.InvalidTicketToken):
        tokens.verify_ticket_token(token)


def test_qr_png_is_a_real_image(tmp_path: Path) -> None:
    token = tokens.sign_ticket_token(ticket_number="TKT-1-ABCDEF", event_id=7, event_starts_at=STARTS)
    path = tmp_path / "qr.png"
    path.write_bytes(qr.qr_png(token))
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width == image.height > 100


def test_a_token_expires_a_grace_period_after_its_event_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    from payflow_app.settings import reload_settings

    monkeypatch.setenv("PAYFLOW_TICKET_VALID_HOURS_AFTER_START", "6")
    reload_settings()
    starts = datetime(2030, 5, 1, 20, 0, tzinfo=UTC)
    token = tokens.sign_ticket_token(ticket_number="TKT-1-ABCDEF", event_id=7, event_starts_at=starts)
    assert _claims_segment(token)["exp"] == int(datetime(2030, 5, 2, 2, 0, tzinfo=UTC).timestamp())
    assert tokens.verify_ticket_token(token).expires_at == _claims_segment(token)["exp"]
    # A start stored without a zone is UTC (SQLite hands some back naive).
    assert tokens.valid_until(starts.replace(tzinfo=None)) == datetime(2030, 5, 2, 2, 0, tzinfo=UTC)


def test_an_expired_token_is_refused_unless_the_caller_judges_expiry_itself() -> None:
    over = datetime.now(UTC) - timedelta(days=3)
    token = tokens.sign_ticket_token(ticket_number="TKT-1-ABCDEF", event_id=7, event_starts_at=over)
    with pytest.raises(tokens.ExpiredTicketToken):
        tokens.verify_ticket_token(token)
    with pytest.raises(tokens.InvalidTicketToken):  # what callers already catch
        tokens.verify_ticket_token(token, public_key=tokens.public_key_pem())
    claims = tokens.verify_ticket_token(token, check_expiry=False)  # the gate: the event decides
    assert claims.ticket_number == "TKT-1-ABCDEF"
    assert claims.expires_at is not None and claims.expires_at < datetime.now(UTC).timestamp()
    # The signature still counts when expiry is not checked.
    head, _, sig = token.split(".")
    forged = base64.urlsafe_b64encode(json.dumps(_claims_segment(token) | {"evt": 8}).encode()).rstrip(b"=")
    with pytest.raises(tokens.InvalidTicketToken):
        tokens.verify_ticket_token(f"{head}.{forged.decode()}.{sig}", check_expiry=False)

"""Ticket QR tokens: signed with an asymmetric key (ES256) so a scanner holding only
the public key can verify a ticket offline. A token carries opaque ids, a nonce, the
issue time and an expiry (``exp``): never a name, email or phone number.

Expiry: a ticket admits nobody after its event's start plus
``PAYFLOW_TICKET_VALID_HOURS_AFTER_START`` (:func:`valid_until`). The token's ``exp`` is
that moment as it was when the token was signed, so a scanner verifying offline with
the JWKS refuses the token afterwards (``jose`` raises ``ExpiredSignatureError``).

When the organizer moves the event, issued tokens are not re-signed (every holder would
need a new QR code, and the one they hold would be refused as replaced). Instead:

- the gate on the server (``services.tickets.checkin``) judges by the event's *current* start,
  not by ``exp``: moved later, tickets admit people until the new bound; moved earlier,
  they stop at it. Tokens issued before tickets had an expiry (no ``exp``) expire too;
- offline scanners download the current bound with the revocation list
  (``GET /api/checkin/revocations``: ``tickets_valid_until``), and it wins over ``exp``;
  ``exp`` is their bound only without a fresh list. Uploaded scans are judged again.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import JWTError, jwk, jwt
from jose.backends.base import Key

from payflow_app.core.keys import generated_secret
from payflow_app.settings import get_settings

ALGORITHM = "ES256"
ISSUER = "payflow"


class InvalidTicketToken(Exception):
    pass


class ExpiredTicketToken(InvalidTicketToken):
    """The signature holds but the token's ``exp`` has passed."""


@dataclass(frozen=True)
class TicketClaims:
    ticket_number: str
    event_id: int
    nonce: str
    issued_at: int
    expires_at: int | None  # None: signed before tokens carried an expiry


@lru_cache(maxsize=4)
def _private_key_pem(configured: str | None, data_dir: str) -> str:
    if configured:
        return configured

    def generate() -> bytes:
        return ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    return generated_secret(data_dir, "ticket_signing_key.pem", generate)


def private_key_pem() -> str:
    settings = get_settings()
    return _private_key_pem(settings.ticket_signing_key_pem, str(settings.data_dir))


def public_key_pem() -> str:
    return _public_key_pem(private_key_pem())


@lru_cache(maxsize=4)
def _public_key_pem(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@lru_cache(maxsize=4)
def _jwk(public_pem: str) -> dict[str, str]:
    key = serialization.load_pem_public_key(public_pem.encode())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    numbers = key.public_numbers()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
        "use": "sig",
        "alg": ALGORITHM,
        "kid": _b64url(hashlib.sha256(der).digest())[:16],
    }


def public_jwk() -> dict[str, str]:
    """The verification key as a JWK (RFC 7517), ``kid`` derived from the key itself."""
    return dict(_jwk(public_key_pem()))


def jwks() -> dict[str, list[dict[str, str]]]:
    """``/.well-known/jwks.json``: what an offline scanner needs to verify tickets."""
    return {"keys": [public_jwk()]}


def valid_until(event_starts_at: datetime) -> datetime:
    """When a ticket of an event starting then stops admitting anyone (aware UTC)."""
    start = event_starts_at if event_starts_at.tzinfo else event_starts_at.replace(tzinfo=UTC)
    return start.astimezone(UTC) + timedelta(hours=get_settings().ticket_valid_hours_after_start)


def sign_ticket_token(*, ticket_number: str, event_id: int, event_starts_at: datetime) -> str:
    claims = {
        "iss": ISSUER,
        "tkt": ticket_number,
        "evt": event_id,
        "nonce": secrets.token_urlsafe(12),
        "iat": int(time.time()),
        "exp": int(valid_until(event_starts_at).timestamp()),
    }
    token: str = jwt.encode(
        claims, private_key_pem(), algorithm=ALGORITHM, headers={"kid": public_jwk()["kid"]}
    )
    return token


def verify_ticket_token(
    token: str, *, public_key: str | None = None, check_expiry: bool = True
) -> TicketClaims:
    """Check the signature with the public key only, as an offline scanner would, and
    the ``exp`` unless ``check_expiry`` is off (the gate judges by the event's current
    start instead). :class:`ExpiredTicketToken` when it has passed."""
    claims = _signed_claims(token, public_key or public_key_pem())
    if check_expiry and claims.expires_at is not None and claims.expires_at < int(time.time()):
        raise ExpiredTicketToken("Signature has expired.")
    return claims


@lru_cache(maxsize=4096)
def _signed_claims(token: str, public_pem: str) -> TicketClaims:
    """A token's claims once its signature holds under the key. Cached: a ticket
    scanned at several gates (or again) has its signature checked once; a token that
    fails raises, and failures are not cached."""
    try:
        claims = jwt.decode(
            token,
            _verification_key(public_pem),
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"verify_exp": False},
        )
        expires = claims.get("exp")
        return TicketClaims(
            ticket_number=str(claims["tkt"]),
            event_id=int(claims["evt"]),
            nonce=str(claims["nonce"]),
            issued_at=int(claims["iat"]),
            expires_at=int(expires) if expires is not None else None,
        )
    except (JWTError, KeyError, TypeError, ValueError) as exc:
        raise InvalidTicketToken(str(exc)) from exc


@lru_cache(maxsize=4)
def _verification_key(public_pem: str) -> Key:
    """The parsed public key: parsing the PEM costs more than checking a signature."""
    return jwk.construct(public_pem, ALGORITHM)

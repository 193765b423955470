"""The sandbox's UnivaPay tokens and charges as ``SandboxObject`` rows (provider
``univapay``, kinds ``token``, ``charge`` and ``refund``). Every change of a charge's
or a refund's status is one transaction that first checks the status it leaves."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from payflow_app.core.db import read_session, write_transaction
from payflow_app.models import SandboxObject
from payflow_app.sandbox import stripe_store
from payflow_app.sandbox.univapay.objects import FieldError, timestamp

PROVIDER = "univapay"
_CHARGED_BY = "_sandbox_charge_id"  # on a one-time token: the charge that used it
REFUNDED = "_sandbox_refunded"  # on a charge: what its pending and successful refunds take back


class TokenAlreadyUsed(Exception):
    """A one-time token already paid for another charge."""


def save_token(token: dict[str, Any]) -> dict[str, Any]:
    return stripe_store.save(token, kind="token", provider=PROVIDER)


def load_token(token_id: str) -> dict[str, Any] | None:
    return stripe_store.load(token_id, "token", provider=PROVIDER)


def load_charge(charge_id: str) -> dict[str, Any] | None:
    return stripe_store.load(charge_id, "charge", provider=PROVIDER)


def create_charge(charge: dict[str, Any], *, idempotency_key: str | None) -> tuple[dict[str, Any], bool]:
    """Store a new charge on its one-time token; answers (charge, created). A key
    seen before answers the charge first created under it, as it is now."""
    idem_id = f"idem_{PROVIDER}_{idempotency_key}" if idempotency_key else None
    try:
        with write_transaction() as session:
            if idem_id is not None and (seen := session.get(SandboxObject, idem_id)) is not None:
                return _replayed(session, seen.data), False
            token_row = session.get(SandboxObject, charge["transaction_token_id"], with_for_update=True)
            if token_row is None or token_row.kind != "token" or token_row.provider != PROVIDER:
                raise LookupError(charge["transaction_token_id"])
            token = json.loads(token_row.data)
            if token.get(_CHARGED_BY):
                raise TokenAlreadyUsed(token["id"])
            token[_CHARGED_BY], token["last_used_on"] = charge["id"], timestamp()
            token_row.data = json.dumps(token)
            session.add(token_row)
            session.add(
                SandboxObject(id=charge["id"], provider=PROVIDER, kind="charge", data=json.dumps(charge))
            )
            if idem_id is not None:
                session.add(
                    SandboxObject(id=idem_id, provider=PROVIDER, kind="idempotency", data=charge["id"])
                )
            return charge, True
    except IntegrityError:
        # The same key raced in from a concurrent request, which won.
        if idem_id is None:
            raise
        with read_session() as session:
            seen = session.get(SandboxObject, idem_id)
            assert seen is not None
            return _replayed(session, seen.data), False


def _replayed(session: Session, charge_id: str) -> dict[str, Any]:
    row = session.get(SandboxObject, charge_id)
    assert row is not None, f"an idempotency key names a missing charge {charge_id}"
    return dict(json.loads(row.data))


def transition(charge_id: str, *, leaving: Collection[str], **changes: Any) -> dict[str, Any] | None:
    """Apply ``changes`` to a charge whose status is one of ``leaving``; None (and
    nothing changed) when it is not, or there is no such charge."""
    with write_transaction() as session:
        row = session.get(SandboxObject, charge_id, with_for_update=True)
        if row is None or row.provider != PROVIDER or row.kind != "charge":
            return None
        charge = json.loads(row.data)
        if charge["status"] not in leaving:
            return None
        charge.update(changes, updated_on=timestamp())
        row.data = json.dumps(charge)
        session.add(row)
        return charge


class RefundRefused(Exception):
    """UnivaPay refuses the refund: its error ``code`` and any field reasons."""

    def __init__(self, code: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(code)
        self.code, self.errors = code, errors or []


def load_refund(refund_id: str) -> dict[str, Any] | None:
    return stripe_store.load(refund_id, "refund", provider=PROVIDER)


def create_refund(refund: dict[str, Any], *, idempotency_key: str | None) -> tuple[dict[str, Any], bool]:
    """Store a new pending refund of a successful charge, holding its amount against
    what is left to refund; answers (refund, created). A key seen before on this
    charge answers the refund first created under it, as it is now. Raises
    RefundRefused (and changes nothing) when UnivaPay would refuse it."""
    charge_id = refund["charge_id"]
    idem_id = f"idem_{PROVIDER}_refund_{charge_id}_{idempotency_key}" if idempotency_key else None
    try:
        with write_transaction() as session:
            row = session.get(SandboxObject, charge_id, with_for_update=True)
            if row is None or row.provider != PROVIDER or row.kind != "charge":
                raise LookupError(charge_id)
            if idem_id is not None and (seen := session.get(SandboxObject, idem_id)) is not None:
                return _replayed(session, seen.data), False
            charge = json.loads(row.data)
            if charge["status"] != "successful":
                raise RefundRefused("CANNOT_REFUND_UNSUCCESSFUL_CHARGE")
            if refund["currency"] != charge["charged_currency"]:
                raise RefundRefused("VALIDATION_ERROR", [FieldError("currency", "INVALID_CURRENCY")])
            if refund["amount"] > charge["charged_amount"]:
                raise RefundRefused("REFUND_EXCEEDS_CHARGE_AMOUNT")
            if refund["amount"] > charge["charged_amount"] - charge.get(REFUNDED, 0):
                raise RefundRefused("REFUND_NOT_WITHIN_BOUNDS")
            charge[REFUNDED] = charge.get(REFUNDED, 0) + refund["amount"]
            row.data = json.dumps(charge)
            session.add(row)
            session.add(
                SandboxObject(id=refund["id"], provider=PROVIDER, kind="refund", data=json.dumps(refund))
            )
            if idem_id is not None:
                session.add(
                    SandboxObject(id=idem_id, provider=PROVIDER, kind="idempotency", data=refund["id"])
                )
            return refund, True
    except IntegrityError:
        if idem_id is None:  # the same key raced in from a concurrent request, which won
            raise
        with read_session() as session:
            seen = session.get(SandboxObject, idem_id)
            assert seen is not None
            return _replayed(session, seen.data), False


def finish_refund(refund_id: str, **changes: Any) -> dict[str, Any] | None:
    """Apply ``changes`` (its final status) to a pending refund; a failed refund gives
    its amount back to what is left to refund. None when it was not pending."""
    with write_transaction() as session:
        row = session.get(SandboxObject, refund_id, with_for_update=True)
        if row is None or row.provider != PROVIDER or row.kind != "refund":
            return None
        refund = json.loads(row.data)
        if refund["status"] != "pending":
            return None
        refund.update(changes)
        row.data = json.dumps(refund)
        session.add(row)
        if refund["status"] != "successful":
            charge_row = session.get(SandboxObject, refund["charge_id"], with_for_update=True)
            assert charge_row is not None
            charge = json.loads(charge_row.data)
            charge[REFUNDED] = charge.get(REFUNDED, 0) - refund["amount"]
            charge_row.data = json.dumps(charge)
            session.add(charge_row)
        return refund

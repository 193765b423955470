"""The sandbox's M-PESA STK requests, kept in SandboxObject rows: one per request
(its id is PayHero's ``reference``) and one per phone, naming the prompt the phone
shows and every request it received. A phone shows at most one prompt at a time."""

from __future__ import annotations

import json
import secrets
import string
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from payflow_app.core.db import read_session, write_transaction
from payflow_app.models import SandboxObject

MERCHANT = "payflow sandbox"
SUCCESS, LOW_BALANCE, LOCKED, CANCELLED, TIMEOUT, WRONG_PIN = 0, 1, 1001, 1032, 1037, 2001
# Daraja's ResultDesc of each ResultCode the sandbox produces, word for word.
RESULT_DESCRIPTIONS = {
    SUCCESS: "The service request is processed successfully.",
    LOW_BALANCE: "The balance is insufficient for the transaction.",
    LOCKED: "Unable to lock subscriber, a transaction is already in process for the current subscriber",
    CANCELLED: "Request cancelled by user",
    TIMEOUT: "DS timeout user cannot be reached",
    WRONG_PIN: "The initiator information is invalid.",
}
_REQUEST, _PHONE = "stk_request", "mpesa_phone"
_RECEIPT_ALPHABET = string.ascii_uppercase + string.digits


def is_overdue(request: dict[str, Any]) -> bool:
    return request["status"] == "QUEUED" and time.time() >= request["deadline"]


def push(fields: dict[str, Any], *, timeout_seconds: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Store a new STK request for ``fields["phone"]``. Answers it, and every request
    resolved on the way: the phone's prompt if it was past its timeout (1037), and the
    new request itself when the phone still shows an unanswered prompt (1001)."""
    now = datetime.now(UTC)
    phone = fields["phone"]
    request = {
        **fields,
        "reference": str(uuid.uuid4()),
        # Daraja's shape: time of the request, milliseconds, the subscriber's digits.
        "checkout_request_id": f"ws_CO_{now:%d%m%Y%H%M%S}{now.microsecond // 1000:03d}{phone[3:]}",
        "merchant_request_id": f"{secrets.randbelow(10**4):04d}-{secrets.randbelow(10**8):08d}-1",
        "transaction_date": now.isoformat().replace("+00:00", "Z"),
        "deadline": now.timestamp() + timeout_seconds,
        "status": "QUEUED",
        "result_code": None,
        "result_desc": None,
        "receipt": "",
        "answered_at": None,
    }
    resolved = []
    with write_transaction() as session:
        phone_row, phone_state = _lock_phone(session, phone)
        if phone_state["waiting"]:
            timed_out = _resolve(session, phone_state, phone_state["waiting"], TIMEOUT, only_if_overdue=True)
            resolved += [timed_out] if timed_out else []
        if phone_state["waiting"]:
            _settle(request, LOCKED)
            resolved.append(request)
        else:
            phone_state["waiting"] = request["reference"]
        phone_state["requests"].append(request["reference"])
        phone_row.data = json.dumps(phone_state)
        session.add(
            SandboxObject(
                id=request["reference"],
                provider="payhero",
                kind=_REQUEST,
                data=json.dumps(request),
                expires_at=datetime.fromtimestamp(request["deadline"], UTC),
            )
        )
    return request, resolved


def resolve(
    reference: str, code: int, *, phone: str | None = None, only_if_overdue: bool = False
) -> dict[str, Any] | None:
    """Give a waiting request its ResultCode. None, and nothing changes, when it is
    unknown, answered already, shown on another phone than ``phone``, or (with
    ``only_if_overdue``) not yet past its timeout."""
    request = load(reference)
    if request is None or (phone is not None and request["phone"] != phone):
        return None
    with write_transaction() as session:
        phone_row, phone_state = _lock_phone(session, request["phone"])
        resolved = _resolve(session, phone_state, reference, code, only_if_overdue=only_if_overdue)
        phone_row.data = json.dumps(phone_state)
    return resolved


def load(reference: str) -> dict[str, Any] | None:
    with read_session() as session:
        row = session.get(SandboxObject, reference)
    return json.loads(row.data) if row and row.kind == _REQUEST else None


def phone_requests(phone: str) -> list[dict[str, Any]]:
    """Every request the phone received, newest first."""
    with read_session() as session:
        phone_row = session.get(SandboxObject, f"{_PHONE}_{phone}")
        if phone_row is None:
            return []
        references = json.loads(phone_row.data)["requests"]
        rows = session.exec(select(SandboxObject).where(col(SandboxObject.id).in_(references))).all()
    by_reference = {row.id: json.loads(row.data) for row in rows}
    return [by_reference[r] for r in reversed(references) if r in by_reference]


def _lock_phone(session: Session, phone: str) -> tuple[SandboxObject, dict[str, Any]]:
    row = _lock(session, f"{_PHONE}_{phone}")
    if row is None:
        state: dict[str, Any] = {"waiting": None, "requests": []}
        row = SandboxObject(id=f"{_PHONE}_{phone}", provider="payhero", kind=_PHONE, data=json.dumps(state))
        session.add(row)
        session.flush()
    return row, json.loads(row.data)


def _lock(session: Session, object_id: str) -> SandboxObject | None:
    query = select(SandboxObject).where(SandboxObject.id == object_id).with_for_update()
    return session.exec(query).first()


def _resolve(
    session: Session, phone_state: dict[str, Any], reference: str, code: int, *, only_if_overdue: bool
) -> dict[str, Any] | None:
    row = _lock(session, reference)
    if row is None:
        return None
    request = json.loads(row.data)
    if request["status"] != "QUEUED" or (only_if_overdue and not is_overdue(request)):
        return None
    _settle(request, code)
    row.data = json.dumps(request)
    session.add(row)
    if phone_state["waiting"] == reference:
        phone_state["waiting"] = None
    return request


def _settle(request: dict[str, Any], code: int) -> None:
    request.update(
        status="SUCCESS" if code == SUCCESS else "FAILED",
        result_code=code,
        result_desc=RESULT_DESCRIPTIONS[code],
        receipt="S" + "".join(secrets.choice(_RECEIPT_ALPHABET) for _ in range(9)) if code == SUCCESS else "",
        answered_at=time.time(),
    )

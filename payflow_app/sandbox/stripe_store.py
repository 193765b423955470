"""The sandbox's Stripe objects, kept in the app database in Stripe's wire shape.

``save`` and ``load`` serve every provider's imitation (``provider`` names whose
object it is); the rest is Stripe's."""

from __future__ import annotations

import itertools
import json
import re
import secrets
import string
import time
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select

from payflow_app.core.db import read_session, write_transaction
from payflow_app.core.inputs import ascii_digits, whole_number
from payflow_app.models import SandboxObject, utcnow

API_VERSION = "2026-10-28.endive"
_B62 = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_B62) for _ in range(length))


MAX_FORM_INDEX = 99  # Stripe's lists (line items) hold at most 100


def parse_form(items: list[tuple[str, str]]) -> dict[str, Any]:
    """Decode Stripe's form encoding (``line_items[0][price_data][currency]=pln``).
    Raises ValueError for keys that do not fit together (``a=1`` and ``a[b]=2``) or
    list indexes beyond :data:`MAX_FORM_INDEX`."""
    root: dict[str, Any] = {}
    for key, value in items:
        parts = re.findall(r"[^\[\]]+", key)
        if not parts:
            raise ValueError(f"invalid parameter name {key!r}")
        node: Any = root
        for part, nxt in itertools.pairwise(parts):
            child_is_list = ascii_digits(nxt)
            if isinstance(node, list):
                index = _index(part)
                while len(node) <= index:
                    node.append([] if child_is_list else {})
                node = node[index]
            else:
                node = node.setdefault(part, [] if child_is_list else {})
            if not isinstance(node, list | dict) or isinstance(node, list) != child_is_list:
                raise ValueError(f"parameter {key!r} does not fit the others")
        last = parts[-1]
        if isinstance(node, list):
            index = _index(last)
            while len(node) <= index:
                node.append(None)
            node[index] = value
        else:
            node[last] = value
    return root


def _index(part: str) -> int:
    index = whole_number(part, minimum=0, maximum=MAX_FORM_INDEX)
    if index is None:
        raise ValueError(f"invalid list index {part!r}")
    return index


def save(
    obj: dict[str, Any], *, kind: str, expires_at: int | None = None, provider: str = "stripe"
) -> dict[str, Any]:
    with write_transaction() as session:
        row = session.get(SandboxObject, obj["id"])
        if row is None:
            row = SandboxObject(id=obj["id"], provider=provider, kind=kind, data="")
        row.data = json.dumps(obj)
        if expires_at is not None:
            row.expires_at = datetime.fromtimestamp(expires_at, UTC)
        session.add(row)
    return obj


def load(object_id: str, kind: str, *, provider: str = "stripe") -> dict[str, Any] | None:
    with read_session() as session:
        row = session.get(SandboxObject, object_id)
    return json.loads(row.data) if row and row.kind == kind and row.provider == provider else None


def remember_idempotency(key: str, object_id: str) -> str:
    """Answers the object id first stored under ``key`` (this one if it is new)."""
    with write_transaction() as session:
        row = session.get(SandboxObject, f"idem_{key}")
        if row is not None:
            return row.data
        session.add(SandboxObject(id=f"idem_{key}", provider="stripe", kind="idempotency", data=object_id))
        return object_id


def update_session(session_id: str, **changes: Any) -> dict[str, Any] | None:
    """Apply changes to an *open* session atomically; None if it is not open."""
    with write_transaction() as session:
        row = session.get(SandboxObject, session_id)
        if row is None:
            return None
        obj = json.loads(row.data)
        if obj["status"] != "open":
            return None
        obj.update(changes)
        row.data = json.dumps(obj)
        session.add(row)
        return obj


def open_sessions_past_expiry() -> list[str]:
    with read_session() as session:
        rows = session.exec(
            select(SandboxObject.id).where(
                SandboxObject.kind == "checkout.session", col(SandboxObject.expires_at) < utcnow()
            )
        ).all()
    return [r for r in rows if (obj := load(r, "checkout.session")) and obj["status"] == "open"]


def make_event(event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    event = {
        "id": new_id("evt_test_"),
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    return save(event, kind="event")

"""How much of a refused webhook request payflow keeps, and how many per source.

Anyone can send a webhook endpoint anything, so a refused (unverified) request must
not cost unbounded storage: its body is cut to ``rejected_body_keep_bytes`` (its full
size and SHA-256 are kept beside it), and one client address stores at most
``rejections_per_source`` of them per ``rejection_window_seconds``. Beyond the cap a
request is still refused, only counted (:class:`RejectionTally`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from payflow_app.core.db import lock
from payflow_app.models import RejectionTally, pk, utcnow
from payflow_app.settings import get_settings


@dataclass(frozen=True)
class KeptBody:
    text: str  # the start of the body, as text
    size: int
    sha256: str | None  # None when the body was too large to be read whole


def text_storable(text: str) -> str:
    """``text`` with each NUL as U+FFFD: PostgreSQL's text columns refuse NUL, and a
    refusal that cannot be stored would answer 5xx (a raw NUL is no valid JSON anyway)."""
    return text.replace("\x00", "\ufffd")


def kept_body(body: bytes, *, size: int | None = None) -> KeptBody:
    """What is stored of a refused body. ``size`` is given when only ``body``'s first
    bytes were read (a body over the limit): then no hash can be made."""
    keep = body[: get_settings().rejected_body_keep_bytes]
    return KeptBody(
        text=text_storable(keep.decode("utf-8", errors="replace")),
        size=len(body) if size is None else size,
        sha256=hashlib.sha256(body).hexdigest() if size is None else None,
    )


def _window_start(now: datetime) -> datetime:
    seconds = get_settings().rejection_window_seconds
    start = now.timestamp() // seconds * seconds
    return datetime.fromtimestamp(start, UTC)


def admit(session: Session, source: str) -> bool:
    """Count one refused request from ``source`` in the current window (inside the
    caller's write transaction) and answer whether it may be stored. The tally row
    is locked, so concurrent requests cannot pass the cap together."""
    source = source[:100]
    start = _window_start(utcnow())
    query = select(RejectionTally).where(
        RejectionTally.source == source, RejectionTally.window_start == start
    )
    tally = session.exec(query).first()
    if tally is None:
        try:
            with session.begin_nested():
                tally = RejectionTally(source=source, window_start=start)
                session.add(tally)
        except IntegrityError:  # another request opened this window first
            tally = session.exec(query).one()
    tally = lock(session, RejectionTally, pk(tally))
    if tally.stored < get_settings().rejections_per_source:
        tally.stored += 1
        return True
    tally.dropped += 1
    return False

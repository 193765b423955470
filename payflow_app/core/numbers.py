"""Human-facing identifiers: ``ORD-<timestamp>-<random>`` and ``TKT-<timestamp>-<random>``."""

from __future__ import annotations

import secrets
import time

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at a gate


def _number(prefix: str) -> str:
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(6))
    return f"{prefix}-{int(time.time())}-{suffix}"


def order_number() -> str:
    return _number("ORD")


def ticket_number() -> str:
    return _number("TKT")

"""Reading untrusted text safely: every reader answers a value or None / ValueError,
never an exception a caller would not expect (OverflowError, RecursionError).

- Whole numbers are ASCII digits only. ``str.isdigit()`` also accepts ``"²"`` or
  ``"٣"``, which ``int()`` refuses or reads as another digit; and a number beyond 32
  bits overflows PostgreSQL's INTEGER columns (64 bits, SQLite's).
- JSON may not nest deeper than :data:`MAX_JSON_DEPTH` (50,000 ``[`` would otherwise
  end in a RecursionError, here or in any code that walks the result).
- ISO 8601 times must be representable in UTC (``0001-01-01T00:00:00+14:00`` is not).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

# What payflow's INTEGER columns hold on PostgreSQL (32 bits; SQLite's hold 64): ids,
# amounts in minor units, quantities. A larger number is no row and no price.
MAX_INT = 2**31 - 1
MIN_INT = -(2**31)
MAX_ID = MAX_INT
MAX_JSON_DEPTH = 64  # providers' events nest about 8 deep
MAX_TIME_LENGTH = 40
_WHOLE = re.compile(r"-?[0-9]{1,19}")  # more digits than any bound here: refused unread


def ascii_digits(text: str) -> bool:
    """Whether ``text`` is one or more of the digits 0-9 (``"²0"`` and ``"٣"`` are not)."""
    return text.isascii() and text.isdigit()


def whole_number(text: str, *, minimum: int = MIN_INT, maximum: int = MAX_ID) -> int | None:
    """``text`` (surrounding spaces allowed) as an int within ``minimum..maximum``, or None."""
    text = text.strip()
    if not _WHOLE.fullmatch(text):
        return None
    value = int(text)
    return value if minimum <= value <= maximum else None


def bounded_int(value: object, *, minimum: int = MIN_INT, maximum: int = MAX_ID) -> int | None:
    """A JSON value that is an integer (``true`` is not one) within the bounds, or None."""
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return value if minimum <= value <= maximum else None


def json_depth(value: Any) -> int:
    """How deeply ``value`` nests (a scalar is 0, ``[[1]]`` is 2), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in item if isinstance(child, dict | list))
    return deepest


def loads_json(data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that raises ValueError for nesting deeper than ``max_depth`` and
    for ``NaN``/``Infinity`` (as well as for invalid JSON or bytes that are not UTF-8)."""
    try:
        value = json.loads(data, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {max_depth} levels") from None
    if json_depth(value) > max_depth:
        raise ValueError(f"JSON nested deeper than {max_depth} levels")
    return value


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def utc_time(text: object) -> datetime | None:
    """An ISO 8601 time as an aware UTC datetime (a time without offset is UTC), or
    None when it is not one or lies outside what UTC can represent."""
    if not isinstance(text, str) or len(text) > MAX_TIME_LENGTH:
        return None
    try:
        moment = datetime.fromisoformat(text)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None

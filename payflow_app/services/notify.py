"""Order-changed notifications. Services call :func:`order_changed` after each
committed step; the live layer subscribes and pushes to watching tabs. Listeners may be
called from any thread and must not block."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)
Listener = Callable[[int], None]
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> Callable[[], None]:
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def order_changed(order_id: int) -> None:
    for listener in list(_listeners):
        try:
            listener(order_id)
        except Exception:  # a broken listener must never undo a committed step
            log.exception("order-changed listener failed for order %s", order_id)

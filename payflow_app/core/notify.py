"""Change notifications. Services call :func:`order_changed` after each committed
step (and :func:`account_changed` when a customer's balance, plan or galleries
change); the live layer subscribes and pushes to watching tabs. A notification is a
topic string (``order:12``, ``user:3``). Listeners may be called from any thread and
must not block."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)
Listener = Callable[[str], None]
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> Callable[[], None]:
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def order_topic(order_id: int) -> str:
    return f"order:{order_id}"


def user_topic(user_id: int) -> str:
    return f"user:{user_id}"


def publish(topic: str) -> None:
    for listener in list(_listeners):
        try:
            listener(topic)
        except Exception:  # a broken listener must never undo a committed step
            log.exception("listener failed for %s", topic)


def order_changed(order_id: int, *, user_id: int | None = None) -> None:
    publish(order_topic(order_id))
    if user_id is not None:
        publish(user_topic(user_id))


def account_changed(user_id: int) -> None:
    publish(user_topic(user_id))

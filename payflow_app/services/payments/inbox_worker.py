"""The inbox's worker: lanes that claim and process stored webhook events.

Each provider's due events are processed by lanes of their own, up to
``inbox_concurrency_per_provider`` at once per process, so one provider's slow or failing
status API holds only its own events. A lane records its attempt and claims its next event
in one transaction (``inbox.Turn``); the storing, claiming and recording are ``inbox``'s."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Mapping

from payflow_app.models import WebhookEvent, pk
from payflow_app.services.payments.inbox import (
    AttemptResult,
    Turn,
    due_events_by_provider,
    new_wakeup,
    process_event,
    take_turn,
)
from payflow_app.settings import get_settings

log = logging.getLogger(__name__)
_in_hand: set[int] = set()  # events this process's lanes are processing


async def _lane(provider: str, lanes: Counter[str] | None = None) -> int:
    """Claim and process ``provider``'s due events one after another until none is
    left; answers how many. Each attempt is recorded with the next claim, in one
    transaction (``inbox.Turn``). ``lanes`` counts the lanes running per provider
    (this one leaves it as soon as it finds nothing to claim)."""
    count = 0
    finished: tuple[int, AttemptResult] | None = None
    row: WebhookEvent | None = None
    try:
        while True:
            # Never an event this process still has in hand, even if its lease ran out.
            turn = Turn(provider, finished, frozenset(_in_hand))
            try:
                row = await take_turn(turn)
            finally:
                if finished is not None:
                    _in_hand.discard(finished[0])
            finished = None
            if row is None:
                break
            _in_hand.add(pk(row))
            finished = (pk(row), await process_event(row))
            count += 1
    except Exception:
        log.exception("inbox lane for %s failed", provider)
    finally:
        if row is not None:  # cancelled mid-attempt: taken again once its lease runs out
            _in_hand.discard(pk(row))
        if lanes is not None:
            lanes[provider] -= 1
    return count


def _lanes_wanted(due: Mapping[str, int], running: Mapping[str, int]) -> dict[str, int]:
    """New lanes per provider: one per due event, up to the per-provider limit."""
    limit = get_settings().inbox_concurrency_per_provider
    return {provider: min(count, limit - running.get(provider, 0)) for provider, count in due.items()}


async def drain_inbox() -> int:
    """Process the events due now, up to the per-provider limit at once, until the
    providers that had some have none left; answers how many were processed."""
    due = await asyncio.to_thread(due_events_by_provider)
    lanes = [_lane(p) for p, n in _lanes_wanted(due, {}).items() for _ in range(n)]
    return sum(await asyncio.gather(*lanes))


async def run_inbox_worker() -> None:
    """Runs for the app's lifetime: woken at once by a stored webhook, else polls.
    Each provider's due events are processed by lanes of their own, at most
    ``inbox_concurrency_per_provider`` at once (per process), so a provider whose
    status API fails or hangs holds only its own lanes, never another rail's events."""
    wakeup = new_wakeup()
    poll = get_settings().inbox_poll_seconds
    running: Counter[str] = Counter()
    tasks: set[asyncio.Task[int]] = set()
    try:
        while True:
            wakeup.clear()  # before looking, so a webhook stored meanwhile is not missed
            try:
                due = await asyncio.to_thread(due_events_by_provider)
                for provider, wanted in _lanes_wanted(due, running).items():
                    for _ in range(wanted):
                        running[provider] += 1
                        task = asyncio.create_task(_lane(provider, running))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
            except Exception:
                log.exception("inbox worker pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), timeout=poll)
    finally:  # the app stops: an event in hand is taken again once its lease runs out
        for task in tasks:
            task.cancel()

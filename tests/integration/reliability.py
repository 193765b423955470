"""Delivery, waiting and checks of the reliability suite (``test_reliability.py``): a
burst that delivers callbacks duplicated, shuffled and concurrently (retrying, as a
provider does, what the app could not take), the checks that every payment was
fulfilled exactly once, and the app as a process of its own, to be killed."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

import httpx
from sqlmodel import col, select

from payflow_app.core.db import read_session
from payflow_app.models import (
    EmailOutbox,
    LedgerEntry,
    Membership,
    Order,
    Payment,
    ProcessingAttempt,
    StatusChange,
    Ticket,
    Wallet,
    WebhookEvent,
    pk,
)
from tests.conftest import ROOT
from tests.integration.rails import Callback, Purchase, Rail

T = TypeVar("T")
APP_COMMAND = (
    *(sys.executable, "-m", "uvicorn", "tests.integration.server_app:create_app", "--factory"),
    *("--host", "127.0.0.1", "--log-level", "warning"),
)


# --- delivery ----------------------------------------------------------------------------------


@dataclass
class Burst:
    """What a burst delivery saw: every answer the app gave."""

    copies: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    stored: Counter[str] = field(default_factory=Counter)  # event id → first-time stores
    failed_posts: int = 0  # connection errors and 5xx, retried as providers do
    seconds: float = 0.0
    answered: int = 0  # copies done with (readable from another thread while it runs)


async def deliver(
    base_url: str,
    callbacks: Iterable[Callback],
    *,
    copies: int = 3,
    concurrency: int = 32,
    spread_seconds: float = 0.0,
    retry_for_seconds: float = 0.0,
    rng: random.Random | None = None,
    burst: Burst | None = None,
) -> Burst:
    """POST every callback ``copies`` times, all copies shuffled together, at most
    ``concurrency`` at once. With ``spread_seconds`` each copy waits a random moment
    in that window first; with ``retry_for_seconds`` a copy the app could not take
    (no connection, 5xx) is sent again until then, as a provider retries. Pass
    ``burst`` to watch it from another thread while it runs."""
    rng, burst = rng or random.Random(), burst or Burst()
    events = {cb: cb.event_id for cb in callbacks}
    burst_copies = [cb for cb in events for _ in range(copies)]
    rng.shuffle(burst_copies)
    burst.copies = len(burst_copies)
    delays = sorted(rng.uniform(0, spread_seconds) for _ in burst_copies)
    gate = asyncio.Semaphore(concurrency)
    started = time.monotonic()
    give_up_at = started + spread_seconds + retry_for_seconds

    async def send(cb: Callback, delay: float, client: httpx.AsyncClient) -> None:
        await asyncio.sleep(delay)
        while True:
            async with gate:
                try:
                    answer = await client.post(cb.path, content=cb.body, headers=cb.headers())
                except httpx.HTTPError:
                    answer = None
            if answer is not None and answer.status_code < 500:
                burst.statuses[answer.status_code] += 1
                if answer.status_code == 200 and not answer.json()["duplicate"]:
                    burst.stored[events[cb]] += 1
                burst.answered += 1
                return
            burst.failed_posts += 1
            if time.monotonic() > give_up_at:
                burst.statuses[answer.status_code if answer is not None else 0] += 1
                burst.answered += 1
                return
            await asyncio.sleep(0.2)

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await asyncio.gather(*(send(cb, d, client) for cb, d in zip(burst_copies, delays, strict=True)))
    burst.seconds = time.monotonic() - started
    return burst


# --- waiting and checking ------------------------------------------------------------------------


def wait_for(condition: Callable[[], T], *, timeout: float, what: str, every: float = 0.25) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def fulfilled_count(bought: Sequence[Purchase]) -> int:
    with read_session() as session:
        return len(
            session.exec(
                select(Order.id).where(
                    col(Order.id).in_([p.order_id for p in bought]), Order.status == "fulfilled"
                )
            ).all()
        )


def all_fulfilled(bought: Sequence[Purchase]) -> bool:
    return fulfilled_count(bought) == len(bought)


def emails_sent(bought: Sequence[Purchase]) -> bool:
    with read_session() as session:
        unsent = session.exec(
            select(EmailOutbox.id).where(
                col(EmailOutbox.order_id).in_([p.order_id for p in bought]), EmailOutbox.status != "sent"
            )
        ).first()
    return unsent is None


def check_fulfilled_once(rail: Rail, bought: Sequence[Purchase]) -> None:
    """Every order fulfilled once: paid and fulfilled once (the audit trail of status
    changes), its payment succeeded once, its tickets and emails exactly once each."""
    order_ids = [p.order_id for p in bought]
    with read_session() as session:
        orders = session.exec(select(Order).where(col(Order.id).in_(order_ids))).all()
        paid = session.exec(select(Payment).where(col(Payment.order_id).in_(order_ids))).all()
        changes = session.exec(select(StatusChange).where(col(StatusChange.order_id).in_(order_ids))).all()
        tickets = session.exec(select(Ticket).where(col(Ticket.order_id).in_(order_ids))).all()
        emails = session.exec(select(EmailOutbox).where(col(EmailOutbox.order_id).in_(order_ids))).all()
        members = session.exec(select(Membership).where(col(Membership.order_id).in_(order_ids))).all()
        held = session.exec(select(Payment.id).where(Payment.status == "requires_review")).all()

    assert len(orders) == len(bought)
    assert {o.status for o in orders} == {"fulfilled"}
    assert all(o.delivered_at and o.completed_at for o in orders)
    assert sorted(pk(p) for p in paid) == sorted(p.payment_id for p in bought)  # no second attempt
    assert {p.status for p in paid} == {"succeeded"} and held == []
    moves = Counter((c.order_id, c.subject, c.to_status) for c in changes)
    steps = (("order", "paid"), ("order", "fulfilled"), ("payment", "succeeded"))
    not_once = {(o, *step): moves[(o, *step)] for o in order_ids for step in steps if moves[(o, *step)] != 1}
    assert not not_once, f"status changes not made exactly once: {not_once}"

    by_order: dict[int, list[Ticket]] = defaultdict(list)
    for ticket in tickets:
        by_order[ticket.order_id].append(ticket)
    for order_id in order_ids:
        seats = sorted(t.seat_index for t in by_order[order_id])
        assert seats == list(range(rail.seats)), f"order {order_id} has seats {seats}"
    assert all(t.status == "valid" and t.qr_token for t in tickets)
    assert len({t.number for t in tickets}) == len(tickets) == rail.seats * len(bought)

    templates = Counter((e.order_id, e.template) for e in emails)
    assert set(templates) == {(o, t) for o in order_ids for t in rail.emails}
    assert set(templates.values()) == {1}
    if rail.provider == "univapay":
        assert Counter(m.order_id for m in members) == Counter(order_ids)


def check_ledger(user_id: int, bought: Sequence[Purchase], currency: str = "PLN") -> int:
    """The wallet's ledger is exactly one credit per top-up, its running balance adds
    up, and the wallet's balance is the sum. Answers the balance."""
    with read_session() as session:
        wallet = session.exec(
            select(Wallet).where(Wallet.user_id == user_id, Wallet.currency == currency)
        ).one()
        entries = session.exec(
            select(LedgerEntry).where(LedgerEntry.wallet_id == wallet.id).order_by(col(LedgerEntry.id))
        ).all()
    assert sorted(e.payment_id for e in entries) == sorted(p.payment_id for p in bought)
    assert {e.entry_type for e in entries} == {"top_up"}
    assert {e.payment_id: e.amount_minor for e in entries} == {p.payment_id: p.amount_minor for p in bought}
    running = 0
    for entry in entries:
        running += entry.amount_minor
        assert entry.balance_after_minor == running
    assert running == sum(p.amount_minor for p in bought) == wallet.balance_minor
    return running


def attempts_by_event(provider: str) -> dict[str, list[ProcessingAttempt]]:
    """The inbox's attempts for each stored event id of the rail."""
    with read_session() as session:
        rows = session.exec(
            select(WebhookEvent.event_id, ProcessingAttempt)
            .join(ProcessingAttempt, col(ProcessingAttempt.webhook_event_id) == WebhookEvent.id)
            .where(WebhookEvent.provider == provider)
            .order_by(col(ProcessingAttempt.id))
        ).all()
    found: dict[str, list[ProcessingAttempt]] = defaultdict(list)
    for event_id, attempt in rows:
        found[str(event_id)].append(attempt)
    return found


def inbox_statuses(provider: str | None = None) -> Counter[str]:
    """How many stored events (of the rail) are in each status."""
    with read_session() as session:
        query = select(WebhookEvent.status)
        if provider is not None:
            query = query.where(WebhookEvent.provider == provider)
        return Counter(session.exec(query).all())


def all_processed(count: int) -> bool:
    return inbox_statuses() == Counter(processed=count)


def stored_event_ids() -> set[str]:
    with read_session() as session:
        return {str(e) for e in session.exec(select(WebhookEvent.event_id)).all()}


def failed_attempts(provider: str, event_ids: set[str]) -> int:
    """Failed attempts at processing the rail's events among ``event_ids``."""
    return sum(
        a.outcome == "error"
        for event_id, tries in attempts_by_event(provider).items()
        if event_id in event_ids
        for a in tries
    )


def inbox_snapshot() -> tuple[Counter[str], list[int]]:
    """Stored events by status, and those a worker claimed and has not finished (its
    attempt is counted when claimed, kept as a row when finished)."""
    with read_session() as session:
        events = session.exec(select(WebhookEvent)).all()
        finished = Counter(
            session.exec(
                select(ProcessingAttempt.webhook_event_id).where(ProcessingAttempt.kind == "webhook")
            ).all()
        )
    unfinished = [pk(e) for e in events if e.status == "pending" and e.attempts > finished[e.id]]
    return Counter(e.status for e in events), unfinished


# --- the app as a process of its own ----------------------------------------------------------------


class AppProcess:
    """payflow's HTTP side and workers in a process of their own (``server_app``)."""

    def __init__(self, port: int, logs: Path) -> None:
        self.port, self.logs = port, logs
        self.base = f"http://127.0.0.1:{port}"
        self.runs = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        self.runs += 1
        self._log = (self.logs / f"app-{self.runs}.log").open("wb")
        self._process = subprocess.Popen(
            [*APP_COMMAND, "--port", str(self.port)],
            cwd=ROOT,
            env=dict(os.environ),  # the test's PAYFLOW_* settings, its database included
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

        def ready() -> bool:
            assert self._process is not None and self._process.poll() is None, self.log_text()
            try:
                return httpx.get(f"{self.base}/sandbox/faults/stripe", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout=30, what="the app process to serve", every=0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, leases left as they were."""
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        self._process.wait(timeout=10)
        self._close_log()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.logs.glob("app-*.log")))

"""Figures 2 and 5 — a burst of paid orders: ``BENCH_BURST_ORDERS`` (200) M-PESA
orders of ``BENCH_BURST_QUANTITY`` (2) tickets are checked out and paid on their
phones; ``BENCH_BURST_TABS`` (3) of them have a chromium tab waiting on their page;
then PayHero's success callbacks for all of them are POSTed at once.

- Figure 2: per order, from its callback's POST to its tab showing "confirmed" (the
  tabs), and to the status API (``GET /api/orders/<id>/status``, swept by 4 clients)
  first answering ``isFulfilled`` — tickets issued and emails queued (every order).
- Figure 5: paid orders fulfilled per second, end to end: the orders divided by the
  time from the first callback's POST to the last order seen fulfilled.

Correctness, from the database after: every order fulfilled exactly once — its
tickets exactly its quantity, and each of its emails (tickets, receipt) queued once."""

from __future__ import annotations

import asyncio
import os
import threading
import time

from tests.bench import tabs
from tests.bench.client import MpesaOrder, World, limited, paid_orders
from tests.bench.load import Pool
from tests.bench.report import Figure, percentile, summary_ms
from tests.bench.setups import Bench

ORDERS = int(os.environ.get("BENCH_BURST_ORDERS", "200"))
QUANTITY = int(os.environ.get("BENCH_BURST_QUANTITY", "2"))
TABS = int(os.environ.get("BENCH_BURST_TABS", "3"))
SWEEPERS = int(os.environ.get("BENCH_BURST_SWEEPERS", "4"))
EMAILS = {"tickets": 1, "receipt": 1}


async def fire_and_watch(world: World, orders: list[MpesaOrder]) -> tuple[dict[str, float], dict[str, float]]:
    """POST every callback at once, then sweep the status API until every order is
    fulfilled. Answers (epoch ms) when each callback was sent and when each order was
    first seen fulfilled."""
    sent: dict[str, float] = {}
    fulfilled: dict[str, float] = {}
    pool = Pool(world.base)
    callback_path = world.callback_url.removeprefix(world.base)

    async def fire(order: MpesaOrder) -> None:
        sent[order.order_id] = time.time() * 1000
        answer = await pool.post_json(callback_path, order.callback)
        assert answer.status == 200, answer

    async def check(order: MpesaOrder) -> None:
        answer = await pool.request("GET", f"/api/orders/{order.order_id}/status")
        if answer.json()["isFulfilled"]:
            fulfilled.setdefault(order.order_id, time.time() * 1000)

    firing = asyncio.gather(*(fire(order) for order in orders))
    deadline = time.monotonic() + 300
    while len(fulfilled) < len(orders) and time.monotonic() < deadline:
        waiting = [o for o in orders if o.order_id not in fulfilled and o.order_id in sent]
        await limited([lambda o=o: check(o) for o in waiting], SWEEPERS)  # type: ignore[misc]
        await asyncio.sleep(0.01)
    await firing
    pool.close()
    assert len(fulfilled) == len(orders), f"{len(orders) - len(fulfilled)} orders never fulfilled"
    return sent, fulfilled


def _check_fulfilled_once(bench: Bench, orders: list[MpesaOrder]) -> None:
    found = bench.db("orders", stdin=[o.order_id for o in orders])
    for order in orders:
        row = found[order.order_id]
        assert row["status"] == "fulfilled", row
        assert row["tickets"] == row["quantity"] == QUANTITY, row
        assert row["emails"] == EMAILS, row


def run(bench: Bench) -> list[Figure]:
    orders = asyncio.run(paid_orders(bench.world, ORDERS, quantity=QUANTITY))
    watched = orders[:TABS]
    with tabs.chromium() as browser:
        pages = [tabs.open_waiting(browser, bench.base, o.order_id) for o in watched]
        outcome: list[tuple[dict[str, float], dict[str, float]]] = []
        burst = threading.Thread(
            target=lambda: outcome.append(asyncio.run(fire_and_watch(bench.world, orders)))
        )
        burst.start()
        shown = [tabs.confirmed_at(page, timeout_ms=300_000) for page in pages]
        burst.join()
    assert outcome, "the burst failed (see above)"
    sent, fulfilled = outcome[0]
    _check_fulfilled_once(bench, orders)
    tab = [at - sent[o.order_id] for o, at in zip(watched, shown, strict=True)]
    done = [fulfilled[o.order_id] - sent[o.order_id] for o in orders]
    rate = len(orders) / ((max(fulfilled.values()) - min(sent.values())) / 1000)
    return [
        Figure(
            f"2. webhook → tab confirmed, burst of {len(orders)}, p95",
            summary_ms(tab),
            "p95 ≤ 3 s",
            percentile(tab, 95) <= 3000,
        ),
        Figure(
            f"2. webhook → order fulfilled (status API), burst of {len(orders)}, p95",
            summary_ms(done),
            "p95 ≤ 3 s",
            percentile(done, 95) <= 3000,
        ),
        Figure(
            f"5. paid orders fulfilled/s, end to end ({len(orders)} × {QUANTITY} tickets)",
            f"{rate:.0f}/s",
            "≥ 100/s",
            rate >= 100,
        ),
    ]

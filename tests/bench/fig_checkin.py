"""Figure 6 — check-ins per second through the device API with ``BENCH_CHECKIN_CLIENTS``
(16) clients, then the 3-gate rush.

Tickets to scan: every valid ticket of the benchmark's event — the earlier figures'
and ``BENCH_CHECKIN_ORDERS`` (60) more M-PESA orders of 10 tickets, paid and fulfilled
through their callbacks (not timed). The organizer
issues three gate devices (``POST /api/organizer/events/<id>/devices``). Gates scan
what a ticket's QR code holds (its signed token, read from the database: the code
printed on the ticket).

- Check-ins/s: ``BENCH_CHECKIN_SHARE`` (2/3) of the tickets, each scanned once, by
  16 clients at once (``POST /api/checkin``, round-robin over the gates): all admitted.
- The rush: every other ticket scanned at all three gates at once; each must be
  admitted exactly once (the others answered ``already_redeemed``), and the database
  must hold one check-in per ticket."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from typing import Any

from tests.bench.client import World, client, limited, paid_orders, send_callback
from tests.bench.load import Pool
from tests.bench.report import Figure
from tests.bench.setups import Bench

ORDERS = int(os.environ.get("BENCH_CHECKIN_ORDERS", "60"))
QUANTITY = 10
CLIENTS = int(os.environ.get("BENCH_CHECKIN_CLIENTS", "16"))
SHARE = float(os.environ.get("BENCH_CHECKIN_SHARE", "0.667"))
GATES = 3


async def _supply(world: World) -> None:
    """Paid, fulfilled orders on the benchmark's event: their tickets are valid."""
    orders = await paid_orders(world, ORDERS, quantity=QUANTITY)
    async with client(world.base) as http:
        await limited([lambda o=o: send_callback(http, world, o.callback) for o in orders], 8)  # type: ignore[misc]
        for order in orders:
            while not (await http.get(f"/api/orders/{order.order_id}/status")).json()["isFulfilled"]:
                await asyncio.sleep(0.1)


async def _devices(world: World) -> list[str]:
    async with client(world.base) as http:
        tokens = []
        for gate in range(1, GATES + 1):
            answer = await http.post(
                f"/api/organizer/events/{world.event_id}/devices",
                json={"name": f"Gate {gate}"},
                headers={"Origin": world.base, "Cookie": f"payflow_session={world.organizer_session}"},
            )
            assert answer.status_code == 201, answer.text
            tokens.append(answer.json()["token"])
        return tokens


async def _scan(world: World, jobs: list[tuple[str, str]]) -> tuple[list[dict[str, Any]], float]:
    """Each (ticket code, device token) scanned once, ``CLIENTS`` at a time, in order;
    answers the results and the seconds it took."""
    pool = Pool(world.base)

    async def scan(code: str, device: str) -> dict[str, Any]:
        answer = await pool.post_json("/api/checkin", {"code": code}, {"Authorization": f"Bearer {device}"})
        assert answer.status == 200, answer
        return dict(answer.json())

    started = time.perf_counter()
    results = await limited([lambda c=c, d=d: scan(c, d) for c, d in jobs], CLIENTS)  # type: ignore[misc]
    seconds = time.perf_counter() - started
    pool.close()
    return results, seconds


def run(bench: Bench) -> list[Figure]:
    world = bench.world
    asyncio.run(_supply(world))
    devices = asyncio.run(_devices(world))
    codes = bench.db("qr", world.event_id)
    cut = int(len(codes) * SHARE)
    single, rush = codes[:cut], codes[cut:]

    once, seconds = asyncio.run(_scan(world, [(c, devices[i % GATES]) for i, c in enumerate(single)]))
    assert all(r["ok"] for r in once), Counter(r.get("reason") for r in once)
    rate = len(single) / seconds

    at_gates = [(code, device) for code in rush for device in devices]
    answers, rush_seconds = asyncio.run(_scan(world, at_gates))
    admitted = Counter(code for (code, _), r in zip(at_gates, answers, strict=True) if r["ok"])
    assert all(admitted[code] == 1 for code in rush), "a rush ticket was not admitted exactly once"
    assert Counter(r["reason"] for r in answers if not r["ok"]) == {"already_redeemed": len(rush) * 2}
    stored = bench.db("checkins", world.event_id)
    assert stored == {"checkins": len(codes), "tickets": len(codes)}, stored
    return [
        Figure(
            f"6. check-ins/s, device API, {CLIENTS} clients ({len(single)} tickets)",
            f"{rate:.0f}/s",
            "≥ 500/s",
            rate >= 500,
        ),
        Figure(
            f"6. 3-gate rush: {len(rush)} tickets × {GATES} gates",
            f"each admitted once; {len(at_gates) / rush_seconds:.0f} scans/s",
            "exactly once",
            True,  # asserted above: the benchmark stops if it is not
        ),
    ]

"""Figure 3 — webhook ACK latency at a steady rate: ``BENCH_ACK_RATE`` (200) callbacks
a second for ``BENCH_ACK_SECONDS`` (10) s, open loop: request i is sent at
start + i / rate whatever the earlier ones are doing, and its latency runs from that
scheduled moment to the answer (so a stalled server is not hidden by a sender that
waits for it).

Each callback is a valid PayHero success callback (the URL's token) with an event id
of its own, for an order the run already paid: the app stores it, acknowledges it,
and its worker re-checks that payment with PayHero (already fulfilled: nothing more).
Correctness: every acknowledged (200) callback stored, and none stored twice (a 503,
"not stored", is allowed by design and counted)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

from tests.bench.client import MpesaOrder, callback_body, client, paid_orders, send_callback
from tests.bench.load import Pool
from tests.bench.report import Figure, percentile
from tests.bench.setups import Bench

RATE = float(os.environ.get("BENCH_ACK_RATE", "200"))
SECONDS = float(os.environ.get("BENCH_ACK_SECONDS", "10"))


async def _paid(bench: Bench) -> MpesaOrder:
    """One order paid and settled: the target every measured callback names."""
    [order] = await paid_orders(bench.world, 1, quantity=1)
    async with client(bench.base) as http:
        await send_callback(http, bench.world, order.callback)
    return order


async def _open_loop(bench: Bench, order: MpesaOrder, prefix: str) -> tuple[list[float], int]:
    """Answers every request's latency (ms) and how many were acknowledged."""
    count = int(RATE * SECONDS)
    bodies = [
        callback_body(order, checkout_request_id=f"{prefix}{i}", receipt="SBENCHACK1") for i in range(count)
    ]
    latencies: list[float] = []
    acknowledged = 0
    pool = Pool(bench.base)
    path = bench.world.callback_url.removeprefix(bench.base)

    async def send(body: bytes, due: float) -> None:
        nonlocal acknowledged
        answer = await pool.post_json(path, body)
        latencies.append((time.perf_counter() - due) * 1000)
        assert answer.status in (200, 503), answer
        acknowledged += answer.status == 200

    await pool.post_json(path, bodies[0])  # one connection open before the clock starts
    start = time.perf_counter() + 0.1
    sending = []
    for i, body in enumerate(bodies[1:], 1):
        due = start + i / RATE
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        sending.append(asyncio.create_task(send(body, due)))
    await asyncio.gather(*sending)
    pool.close()
    return latencies, acknowledged


def run(bench: Bench) -> list[Figure]:
    order = asyncio.run(_paid(bench))
    prefix = f"ack-{uuid.uuid4().hex[:8]}-"
    latencies, acknowledged = asyncio.run(_open_loop(bench, order, prefix))
    stored = bench.db("events", prefix)
    assert stored["distinct"] == stored["stored"] >= acknowledged, (stored, acknowledged)
    p99 = percentile(latencies, 99)
    return [
        Figure(
            f"3. webhook ACK at {RATE:.0f}/s for {SECONDS:.0f} s, p99",
            f"p99 {p99:.0f} ms (p50 {percentile(latencies, 50):.0f}, max {max(latencies):.0f}; "
            f"{acknowledged}/{len(latencies)} acked)",
            "p99 ≤ 25 ms",
            p99 <= 25,
        )
    ]

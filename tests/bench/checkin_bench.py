"""Benchmark: check-in at the gate on the embedded SQLite default — single scans of
valid tickets, then a rush where every ticket is scanned at three gates at once.

Run with ``make bench``. Prints figures; asserts only correctness (each ticket redeemed
exactly once), never timings.
"""

from __future__ import annotations

import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from tests.bench import fresh_sqlite_database

N_TICKETS = int(os.environ.get("BENCH_TICKETS", "200"))  # the seeded Standard type holds 200
GATES = 3


def main() -> None:
    fresh_sqlite_database("payflow-checkin-bench-")

    from sqlmodel import func, select

    from payflow_app.models import CheckIn
    from payflow_app.seed import seed
    from payflow_app.services import checkin
    from payflow_app.services.db import read_session
    from tests import factories

    seed()
    tokens: list[str] = []
    event_id = factories.ticket_type("Standard").event_id
    for i in range(N_TICKETS // 4):
        order = factories.paid_order(quantity=4, email=f"bench{i}@example.com", reference=f"cs_bench_{i}")
        tokens += [t.qr_token for t in factories.tickets_of(order)]

    half = len(tokens) // 2
    single: list[float] = []
    for token in tokens[:half]:
        started = time.perf_counter()
        result = checkin.check_in(checkin.Gate(event_id=event_id, name="Main", operator="bench"), token)
        single.append((time.perf_counter() - started) * 1000)
        assert result.ok, result

    rush = [(token, gate) for token in tokens[half:] for gate in range(GATES)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(
                lambda job: checkin.check_in(
                    checkin.Gate(event_id=event_id, name=f"Gate {job[1]}", operator="bench"), job[0]
                ),
                rush,
            )
        )
    rush_seconds = time.perf_counter() - started

    with read_session() as session:
        redeemed = session.exec(select(func.count()).select_from(CheckIn)).one()
    assert redeemed == len(tokens), (redeemed, len(tokens))
    assert sum(r.ok for r in results) == len(tokens) - half
    single.sort()
    print(f"check-in bench on SQLite, {len(tokens)} tickets")
    print(
        f"  one scan at a time: p50 {statistics.median(single):.1f} ms, "
        f"p95 {single[int(len(single) * 0.95) - 1]:.1f} ms, max {single[-1]:.1f} ms"
    )
    print(
        f"  rush: {len(rush)} scans ({GATES} gates per ticket, 8 threads) in {rush_seconds:.2f} s "
        f"= {len(rush) / rush_seconds:.0f} scans/s; {len(tokens) - half} valid, "
        f"{len(rush) - (len(tokens) - half)} already redeemed, each ticket redeemed once"
    )


if __name__ == "__main__":
    main()

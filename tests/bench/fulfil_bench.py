"""Benchmark: fulfilment and webhook intake on the embedded SQLite default.

Run with ``make bench``. Prints figures; asserts only correctness (exact counts),
never timings.
"""

from __future__ import annotations

import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from tests.bench import fresh_sqlite_database

N_ORDERS = int(os.environ.get("BENCH_ORDERS", "100"))
DUPLICATES = 4


def main() -> None:
    fresh_sqlite_database("payflow-bench-")

    from sqlmodel import func, select

    from payflow_app.models import Ticket, pk
    from payflow_app.providers.base import ProviderEvent
    from payflow_app.seed import seed
    from payflow_app.services.db import read_session
    from payflow_app.services.fulfilment import fulfil_payment
    from payflow_app.services.inbox import record_webhook
    from tests import factories

    seed()
    jobs = []
    for i in range(N_ORDERS):
        order = factories.order(quantity=2, email=f"bench{i}@example.com")
        payment = factories.pending_payment(order, reference=f"cs_bench_{i}")
        jobs.append((pk(payment), factories.paid_truth(payment)))

    single: list[float] = []
    for payment_id, truth in jobs[: N_ORDERS // 2]:
        started = time.perf_counter()
        fulfil_payment(payment_id=payment_id, truth=truth)
        single.append((time.perf_counter() - started) * 1000)

    # The rest: every payment fulfilled DUPLICATES times at once (webhook, landing, retries).
    rest = [job for job in jobs[N_ORDERS // 2 :] for _ in range(DUPLICATES)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda job: fulfil_payment(payment_id=job[0], truth=job[1]), rest))
    racing_seconds = time.perf_counter() - started

    with read_session() as session:
        tickets = session.exec(select(func.count()).select_from(Ticket)).one()
    assert tickets == 2 * N_ORDERS, f"expected {2 * N_ORDERS} tickets, found {tickets}"

    started = time.perf_counter()
    for i in range(N_ORDERS):
        event = ProviderEvent(
            event_id=f"evt_bench_{i}",
            event_type="checkout.session.completed",
            provider_reference=f"cs_bench_{i}",
            payload={},
        )
        record_webhook(provider="stripe", event=event, headers={"stripe-signature": "t=1,v1=x"}, body=b"{}")
    intake_seconds = time.perf_counter() - started

    q = statistics.quantiles(single, n=20)
    print(
        f"fulfil one order (2 tickets, 4 commits), sequential: p50 {statistics.median(single):.1f} ms, "
        f"p95 {q[18]:.1f} ms over {len(single)} orders"
    )
    print(
        f"fulfil with {DUPLICATES} concurrent duplicates each, 8 threads: {len(rest)} calls in "
        f"{racing_seconds:.2f} s ({len(rest) / racing_seconds:.0f} calls/s), tickets exact: {tickets}"
    )
    print(
        f"webhook inbox intake: {N_ORDERS / intake_seconds:.0f} events/s "
        f"({intake_seconds / N_ORDERS * 1000:.2f} ms each)"
    )


if __name__ == "__main__":
    main()

"""Figure 4 — the most webhooks a second with 16 connections, against the ceiling of the
same server software: ``wrk`` (``BENCH_WRK_SECONDS``, 5 s, 2 threads, 16 connections,
``callbacks.lua``) POSTs valid PayHero callbacks, each with an event id of its own,
first to payflow, then to a bare Starlette endpoint (``bare_app.py``) served by
granian with the same worker count on the next port — the same requests, the same
load tool, in the same run.

Correctness: every acknowledged callback stored, none twice; at most the requests in
flight when wrk stopped (one per connection) stored without wrk counting them."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from tests.bench.client import client, paid_orders, send_callback
from tests.bench.report import Figure
from tests.bench.setups import Bench
from tests.served import ROOT, running

SECONDS = int(os.environ.get("BENCH_WRK_SECONDS", "5"))
CONNECTIONS = 16
SCRIPT = Path(__file__).with_name("callbacks.lua")


def wrk(url: str, env: dict[str, str]) -> dict[str, Any]:
    """One wrk run; answers the script's summary (requests, non-2xx, errors, duration)."""
    wrk_bin = shutil.which("wrk")
    assert wrk_bin, "wrk is missing: `make bench` installs it (apt-get install wrk)"
    done = subprocess.run(
        [wrk_bin, "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "-s", str(SCRIPT), url],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    [line] = [line for line in done.stdout.splitlines() if line.startswith("BENCH ")]
    return dict(json.loads(line.removeprefix("BENCH ")))


def per_second(summary: dict[str, Any]) -> float:
    return float(summary["requests"]) / (summary["duration_us"] / 1e6)


def bare_ceiling(port: int, workers: int, account: str) -> dict[str, Any]:
    """wrk against the bare Starlette endpoint under granian on ``port``."""
    granian = str(Path(sys.executable).parent / "granian")
    command = [granian, "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers), "tests.bench.bare_app:app"]
    url = f"http://127.0.0.1:{port}/api/payhero/callback"
    log = Path(tempfile.mkdtemp(prefix="payflow-bare-")) / "granian.log"
    with running(command, {**os.environ, "PYTHONPATH": str(ROOT)}, log, url):
        return wrk(url, {"BENCH_ID_PREFIX": "bare-", "BENCH_ACCOUNT": account})


def run(bench: Bench) -> list[Figure]:
    async def settled_order() -> str:
        [order] = await paid_orders(bench.world, 1, quantity=1)
        async with client(bench.base) as http:
            await send_callback(http, bench.world, order.callback)
        return order.account

    account = asyncio.run(settled_order())
    prefix = f"wrk-{uuid.uuid4().hex[:8]}-"
    port = int(bench.base.rsplit(":", 1)[1])
    app = wrk(
        f"http://127.0.0.1:{port}/api/payhero/callback?token={bench.world.payhero_callback_token}",
        {"BENCH_ID_PREFIX": prefix, "BENCH_ACCOUNT": account},
    )
    acknowledged = app["requests"] - app["non_2xx"]
    stored = bench.db("events", prefix)
    assert stored["distinct"] == stored["stored"], stored
    assert acknowledged <= stored["stored"] <= app["requests"] + CONNECTIONS, (stored, app)
    bare = bare_ceiling(port + 1, bench.workers, account)
    ours, ceiling = per_second(app), per_second(bare)
    share = ours / ceiling
    return [
        Figure(
            f"4. webhooks/s, {CONNECTIONS} connections (wrk, {SECONDS} s)",
            f"{ours:.0f}/s ({acknowledged} acked, {app['non_2xx']} non-2xx, all stored once)",
            "≥ 25 % of bare",
            share >= 0.25,
            baseline=f"bare Starlette on granian: {ceiling:.0f}/s",
            ratio=f"{share:.0%}",
        )
    ]

"""``make bench`` (``python -m tests.bench``): serve the app in each set-up, measure
every figure of issue 13 against it as an outside client, print one table per set-up.

``BENCH_SETUP`` (``sqlite``, ``pg`` or ``sqlite,pg``: the default) picks the set-ups,
``BENCH_FIGURES`` (e.g. ``push,burst``) the figures, ``BENCH_PORT`` (3300) the app's
port (the bare Starlette baseline takes the next one). Sizes: see each figure's module.
Benchmarks assert correctness (every paid order fulfilled once, every ticket admitted
once, every acknowledged webhook stored once), never timings."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable

from tests.bench import fig_ack, fig_burst, fig_checkin, fig_push, fig_throughput
from tests.bench.report import Figure, table
from tests.bench.setups import SETUPS, Bench, serve

# Quiet first; the sustained load last (its backlog is never waited for).
FIGURES: dict[str, Callable[[Bench], list[Figure]]] = {
    "push": fig_push.run,
    "burst": fig_burst.run,
    "checkin": fig_checkin.run,
    "throughput": fig_throughput.run,
    "ack": fig_ack.run,
}


def machine() -> str:
    return (
        f"{platform.node()}: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    )


def run_setup(setup: str, port: int, figures: list[str]) -> str:
    started = time.monotonic()
    with serve(setup, port) as bench:
        print(f"[{setup}] served at {bench.base} in {time.monotonic() - started:.0f} s", flush=True)
        measured: list[Figure] = []
        for name in figures:
            waited = time.monotonic()
            if not bench.wait_until_inbox_drained():
                print(f"[{setup}] the inbox still has a backlog: {name} starts on a busy system", flush=True)
            begun = time.monotonic()
            if begun - waited > 5:
                print(f"[{setup}] waited {begun - waited:.0f} s for the inbox to drain", flush=True)
            measured += FIGURES[name](bench)
            print(f"[{setup}] {name}: {time.monotonic() - begun:.0f} s", flush=True)
    return table(f"{bench.title} — {machine()}", measured)


def main() -> None:
    setups = os.environ.get("BENCH_SETUP", "sqlite,pg").replace(" ", "").split(",")
    figures = os.environ.get("BENCH_FIGURES", ",".join(FIGURES)).replace(" ", "").split(",")
    unknown = [s for s in setups if s not in SETUPS] + [f for f in figures if f not in FIGURES]
    if unknown:
        raise SystemExit(f"unknown set-up or figure: {', '.join(unknown)}")
    port = int(os.environ.get("BENCH_PORT", "3300"))
    tables = [run_setup(setup, port, figures) for setup in setups]
    print("\n\n".join(tables))


if __name__ == "__main__":
    main()

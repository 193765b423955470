"""The two set-ups the benchmark serves the app in, each from a fresh database:

- ``sqlite``: the embedded default — SQLite, one worker, no Redis (``make run``);
- ``pg``: PostgreSQL + Redis with ``BENCH_PG_WORKERS`` (2) granian workers.

Both are served by ``tests/served.py`` (``reflex run --env prod``) with the sandbox's
own M-PESA callbacks withheld (the benchmark sends them, and so knows when each was
sent) and the reconciler's status queries pushed past the run (so only callbacks
settle payments)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.bench.client import World
from tests.served import ROOT, app_env, postgres_database, served_app

SETUPS = {
    "sqlite": "embedded default: SQLite, 1 worker",
    "pg": "PostgreSQL + Redis, {workers} workers",
}
BENCH_SETTINGS = {
    "PAYFLOW_CHECKOUTS_PER_ADDRESS_PER_HOUR": "1000000",
    "PAYFLOW_CHECKOUTS_PER_EMAIL_PER_HOUR": "1000000",
    "PAYFLOW_SANDBOX_PAYHERO_WITHHOLD_CALLBACKS": "true",
    "PAYFLOW_PENDING_SYNC_FIRST_SECONDS": "3600",
    "PAYFLOW_PENDING_SYNC_MAX_SECONDS": "3600",
    "PAYFLOW_SANDBOX_MPESA_PROMPT_TIMEOUT_SECONDS": "3600",
}
CUSTOMERS = 16


def pg_workers() -> int:
    return int(os.environ.get("BENCH_PG_WORKERS", "2"))


@dataclass(frozen=True)
class Bench:
    """A served app and what the benchmark knows about it."""

    setup: str
    title: str
    workers: int
    world: World
    env: dict[str, str]

    @property
    def base(self) -> str:
        return self.world.base

    def db(self, command: str, argument: object = "", stdin: object = None) -> Any:
        """Ask the app's database (``world.py``), beside the app, as an operator would."""
        done = subprocess.run(
            [sys.executable, "-m", "tests.bench.world", command, str(argument)],
            cwd=ROOT,
            env=self.env,
            input=None if stdin is None else json.dumps(stdin),
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])

    def wait_until_inbox_drained(self, seconds: float = 300) -> bool:
        """Figures start on a quiet system: the previous figure's webhooks processed.
        Answers whether the inbox drained in time."""
        deadline = time.monotonic() + seconds
        while self.db("inbox"):
            if time.monotonic() > deadline:
                return False
            time.sleep(3)  # each look starts a Python process: not too often
        return True


def _flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


@contextmanager
def serve(setup: str, port: int) -> Iterator[Bench]:
    """Serve the app in ``setup`` on ``port`` from a fresh database; answers the bench."""
    work = Path(tempfile.mkdtemp(prefix=f"payflow-bench-{setup}-"))
    with ExitStack() as stack:
        settings = dict(BENCH_SETTINGS)
        workers = 1
        if setup == "pg":
            url = stack.enter_context(postgres_database())
            workers = pg_workers()
            redis_url = f"redis://127.0.0.1:6379/{os.environ.get('BENCH_REDIS_DB', '13')}"
            _flush_redis(redis_url)
            settings |= {"REFLEX_REDIS_URL": redis_url, "GRANIAN_WORKERS": str(workers)}
        else:
            url = f"sqlite:///{work / 'payflow.db'}"
        env = app_env(port, url, work / "data", **settings)
        app = stack.enter_context(served_app(port, env, work / "app.log"))
        title = SETUPS[setup].format(workers=workers)
        bench = Bench(setup, title, workers, World(base=app.base, **_setup_world(env)), env)
        yield bench


def _setup_world(env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.world", "setup", str(CUSTOMERS)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))

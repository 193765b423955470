"""Serve the real app exactly as ``make run`` does (``reflex run --env prod``) on a
port of its own, with its own database: shared by the browser tests (``tests/e2e``)
and the benchmarks (``tests/bench``), which both talk to it only as outside clients."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("PAYFLOW_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass(frozen=True)
class ServedApp:
    base: str
    env: dict[str, str]  # the app's environment: run helpers with it to reach its database
    log: Path
    database_url: str


def app_env(port: int, database_url: str, data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of an app served on ``port``: this venv first on PATH, its own
    database and data folder, no Redis unless ``settings`` names one."""
    venv_bin = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}",
        "REFLEX_USE_NPM": "1",
        "PAYFLOW_DATABASE_URL": database_url,
        "PAYFLOW_DATA_DIR": str(data_dir),
        "PAYFLOW_PORT": str(port),
        "PAYFLOW_PUBLIC_URL": f"http://localhost:{port}",
    }
    env.pop("REFLEX_REDIS_URL", None)
    env.pop("GRANIAN_WORKERS", None)
    env.update(settings)
    return env


def start(command: list[str], *, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Runs ``command`` from the project root in a process group of its own (so
    :func:`stop` ends its workers too), its output in ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_for(url: str, seconds: float, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until ``url`` answers 200; fails with the log's tail if the process exits or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited early:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer in {seconds}s:\n{log.read_text()[-4000:]}")


def stop(process: subprocess.Popen[bytes], first: signal.Signals = signal.SIGTERM) -> None:
    """``first`` (SIGTERM) to the process group, SIGKILL if it has not ended 15 s later."""
    os.killpg(process.pid, first)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@contextmanager
def running(command: list[str], env: Mapping[str, str], log: Path, *ready_urls: str) -> Iterator[None]:
    """Run ``command`` (in its own process group, output to ``log``) until the block
    ends; the block starts once each of ``ready_urls`` answers 200, in turn."""
    process = start(command, env=env, log=log)
    try:
        for url in ready_urls:
            wait_for(url, 240, process, log)
        yield
    finally:
        stop(process)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped after the block); answers its URL."""
    import psycopg

    name = f"payflow_b_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def served_app(port: int, env: dict[str, str], log: Path) -> Iterator[ServedApp]:
    """Migrate and seed the database ``env`` names, then serve the app on ``port``
    (``reflex run --env prod``, as ``make run``) until the block ends."""
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "-m", "payflow_app.seed"], cwd=ROOT, env=env, check=True)
    base = f"http://localhost:{port}"
    reflex = str(Path(sys.executable).parent / "reflex")
    command = [reflex, "run", "--env", "prod", "--frontend-port", str(port), "--backend-port", str(port)]
    with running(command, env, log, f"{base}/ping", f"{base}/"):
        yield ServedApp(base=base, env=env, log=log, database_url=env["PAYFLOW_DATABASE_URL"])

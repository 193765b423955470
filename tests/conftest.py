"""Shared fixtures. Each test gets its own database, migrated by the real Alembic
migrations (SQLite: a migrated template file is copied; PostgreSQL: a fresh database)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.served import PG_ADMIN_URL, ROOT, postgres_database


def migrate(url: str) -> None:
    env = {**os.environ, "PAYFLOW_DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


def use_database(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **settings: str) -> None:
    from payflow_app.core import db
    from payflow_app.settings import reload_settings

    monkeypatch.setenv("PAYFLOW_DATABASE_URL", url)
    monkeypatch.setenv("PAYFLOW_DATA_DIR", str(tmp_path / "data"))
    for key, value in settings.items():
        monkeypatch.setenv(f"PAYFLOW_{key.upper()}", value)
    db.dispose_engines()
    reload_settings()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "payflow.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_db(sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    path = tmp_path / "payflow.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    use_database(url, tmp_path, monkeypatch)
    yield url
    from payflow_app.core import db

    db.dispose_engines()


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=2):
            return True
    except Exception:
        return False


def require_postgres() -> None:
    """Fails the test in CI, skips it elsewhere, when PostgreSQL is not running."""
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is expected at 127.0.0.1:5432 in CI")
        pytest.skip("PostgreSQL is not running")


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new PostgreSQL database migrated to head (its URL), dropped afterwards
    (:func:`require_postgres` first)."""
    require_postgres()
    with postgres_database() as url:
        migrate(url)
        yield url


@pytest.fixture
def postgres_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with fresh_postgres_database() as url:
        use_database(url, tmp_path, monkeypatch)
        yield url
        from payflow_app.core import db

        db.dispose_engines()


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request: pytest.FixtureRequest) -> str:
    """Runs a test on both databases payflow supports."""
    return request.getfixturevalue(f"{request.param}_db")


@pytest.fixture
def seeded(sqlite_db: str) -> str:
    from payflow_app.seed import seed

    seed()
    return sqlite_db

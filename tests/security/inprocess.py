"""payflow's HTTP side in-process (``server_app.create_app`` behind Starlette's
TestClient) on a fresh seeded database: fast enough to send it thousands of requests.
The lifespan workers do not run, so no row changes unless a request changes it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel
from starlette.testclient import TestClient

from payflow_app.core import db
from payflow_app.core.db import read_session
from payflow_app.models import User
from payflow_app.seed import seed
from tests.conftest import use_database
from tests.integration.server_app import create_app

BASE = "http://testserver"  # the TestClient's own origin, configured as the public URL
CUSTOMER, ORGANIZER, ADMIN = "customer@payflow.test", "organizer@payflow.test", "admin@payflow.test"


@pytest.fixture(scope="session")
def seeded_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated and seeded SQLite file, made once (seeding hashes passwords: slow)."""
    path = tmp_path_factory.mktemp("seeded") / "payflow.db"
    shutil.copy(sqlite_template, path)
    with pytest.MonkeyPatch.context() as patch:
        use_database(f"sqlite:///{path}", path.parent, patch)
        seed()
        db.dispose_engines()
    return path


@pytest.fixture
def app_client(
    seeded_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    path = tmp_path / "payflow.db"
    shutil.copy(seeded_template, path)
    use_database(f"sqlite:///{path}", tmp_path, monkeypatch, public_url=BASE)
    client = TestClient(create_app(), base_url=BASE, raise_server_exceptions=False, follow_redirects=False)
    yield client
    client.close()
    db.dispose_engines()


@pytest.fixture
def pg_app_client(postgres_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The same on a fresh migrated PostgreSQL database, seeded."""
    use_database(postgres_db, tmp_path, monkeypatch, public_url=BASE)
    seed()
    client = TestClient(create_app(), base_url=BASE, raise_server_exceptions=False, follow_redirects=False)
    yield client
    client.close()


def sign_in(client: TestClient, email: str) -> None:
    """Give ``client`` the session of ``email`` as the pages get it: the one place the
    security tests sign in (adapt it when sessions change)."""
    try:
        from payflow_app.services.accounts.sessions import SESSION_COOKIE, issue_session_token
    except ImportError:  # before server-side sessions
        from payflow_app.api.auth import SESSION_COOKIE
        from payflow_app.services.accounts.customers import issue_session_token  # type: ignore[attr-defined,no-redef]
    with read_session() as session:
        user = session.execute(select(User).where(User.email == email)).scalar_one()  # type: ignore[arg-type]
    client.cookies.set(SESSION_COOKIE, issue_session_token(user))
    client.headers["Origin"] = BASE  # as our own pages send it


def row_counts() -> dict[str, int]:
    """Rows per table, every table of the models."""
    with read_session() as session:
        return {
            name: int(session.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in SQLModel.metadata.tables.items()
        }

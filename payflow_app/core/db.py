"""Engine and transactions.

``write_transaction`` is the only way services change rows. On PostgreSQL rows are
locked with ``SELECT … FOR UPDATE`` (see :func:`lock`); SQLite has no row locks, so a
write transaction there starts with ``BEGIN IMMEDIATE`` and holds the database write
lock for its (short) life. Either way two fulfilments of one payment run one after
the other, never interleaved. A process's SQLite writers also queue for each other
in the process (:data:`_sqlite_writer`), not in SQLite's busy handler.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlmodel import Session, SQLModel, select

from payflow_app.core import audit  # noqa: F401  (records every status change)
from payflow_app.core.errors import NotFound
from payflow_app.settings import get_settings

_engines: dict[str, Engine] = {}
T = TypeVar("T", bound=SQLModel)


class _WriterTurns:
    """SQLite lets one transaction write at a time. Writers of this process wait for it
    here, woken the moment the last one commits; in SQLite's busy handler they would
    poll with sleeps growing to 100 ms while the lock sits free. Re-entrant: a write
    transaction opened inside another fails as before (SQLite's own lock), not here.

    An *urgent* writer — storing webhooks, whose providers wait for the answer — goes
    before every other writer waiting: it waits only for the transaction in progress,
    not for a queue of fulfilments and inbox turns (they run between its batches).
    Otherwise the lock goes to whoever comes for it first once it is free, as a plain
    lock does (one waiter is woken per release)."""

    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._urgent = 0  # urgent writers waiting

    @contextmanager
    def turn(self, *, urgent: bool = False) -> Iterator[None]:
        me = threading.get_ident()
        with self._changed:
            if self._owner == me:
                self._depth += 1
            else:
                self._urgent += urgent
                try:
                    # The lock is free with an urgent writer waiting only just after a
                    # release that woke every waiter: that writer is about to take it.
                    while self._owner is not None or (self._urgent and not urgent):
                        self._changed.wait()
                finally:
                    self._urgent -= urgent
                self._owner, self._depth = me, 1
        try:
            yield
        finally:
            with self._changed:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
                    if self._urgent:
                        self._changed.notify_all()  # the urgent ones among them must hear it
                    else:
                        self._changed.notify()

    def waiting(self) -> int:
        """Urgent writers waiting."""
        with self._changed:
            return self._urgent


_sqlite_writer = _WriterTurns()


def _make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event below emit BEGIN itself (pysqlite recipe).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("payflow_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def get_engine() -> Engine:
    url = get_settings().database_url
    if url not in _engines:
        if url.startswith("sqlite:///"):
            from pathlib import Path

            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        _engines[url] = _make_engine(url)
    return _engines[url]


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def is_sqlite() -> bool:
    return get_engine().dialect.name == "sqlite"


@contextmanager
def read_session() -> Iterator[Session]:
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


@contextmanager
def write_connection() -> Iterator[Connection]:
    """A Core connection in one write transaction (as :func:`write_transaction`):
    for hot paths — a scan at the gate — where the ORM session's bookkeeping costs
    more than the statements themselves."""
    engine = get_engine()
    with _sqlite_writer.turn() if engine.dialect.name == "sqlite" else nullcontext():
        with engine.execution_options(payflow_write=True).begin() as connection:
            yield connection


@contextmanager
def autocommit_connection() -> Iterator[Connection]:
    """A Core connection where each statement commits on its own (PostgreSQL): no
    BEGIN and COMMIT round trips, for work whose writes are a single statement."""
    with get_engine().connect() as connection:
        yield connection.execution_options(isolation_level="AUTOCOMMIT")


@contextmanager
def write_transaction(*, urgent: bool = False) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on error.
    ``urgent``: on SQLite, ahead of the process's other writers waiting (webhook
    ingest: see :class:`_WriterTurns`)."""
    engine = get_engine()
    with _sqlite_writer.turn(urgent=urgent) if engine.dialect.name == "sqlite" else nullcontext():
        with Session(engine.execution_options(payflow_write=True), expire_on_commit=False) as session:
            with session.begin():
                yield session


def lock(session: Session, model: type[T], row_id: Any) -> T:
    """Load a row for update. Raises NotFound when it does not exist (an id from a
    request that names nothing is the caller's 404, never a crash).

    The locked row's values replace those of an instance the session loaded before
    (``populate_existing``): what was read before waiting for the lock may be stale."""
    pk = model.__table__.primary_key.columns.values()[0]  # type: ignore[attr-defined]
    query = select(model).where(pk == row_id).with_for_update().execution_options(populate_existing=True)
    row = session.exec(query).first()
    if row is None:
        raise NotFound(f"{model.__name__} not found.")
    return row

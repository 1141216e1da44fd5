"""The database: one engine and session factory per app, SQLite or PostgreSQL."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# Naming constraints keeps Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base of every Relais table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """Timezone-aware now, in UTC (every timestamp Relais stores is UTC)."""
    return datetime.now(UTC)


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # On SQLite, writers take the lock at BEGIN; readers must not, or a read inside a
        # write (or two readers) would queue behind each other. On PostgreSQL, reads run in
        # autocommit: a read session would otherwise end in ROLLBACK, and psycopg answers
        # every ROLLBACK by dropping all of the connection's prepared statements (DEALLOCATE
        # ALL), so the hot queries were planned again on every job. Under READ COMMITTED each
        # statement takes its own snapshot anyway, so reads see what they saw before.
        self.read_engine = (
            make_engine(url, echo=echo, immediate=False)
            if url.startswith("sqlite")
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        # Never flushed: a change made to an object read here is not written (it used to be
        # rolled back; in autocommit a flush would be final).
        self.read_sessions = sessionmaker(
            self.read_engine, expire_on_commit=False, autoflush=False
        )
        self._writers: AbstractContextManager[None] = (
            SQLiteWriterQueue(url) if url.startswith("sqlite") else nullcontext()
        )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on error."""
        with self._writers, self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A bare connection inside one transaction, for hot paths that skip the ORM."""
        with self._writers, self.engine.begin() as connection:
            yield connection

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reads, closed at the end."""
        with self.read_sessions() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()


def make_engine(url: str, *, echo: bool = False, immediate: bool = True) -> Engine:
    """Create an engine tuned for the backend behind ``url``."""
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 15, "check_same_thread": False}
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate if immediate else _sqlite_begin)
        return engine
    kwargs["pool_pre_ping"] = True
    kwargs["pool_size"] = 5
    kwargs["max_overflow"] = 10
    # Fail fast when PostgreSQL is down so the webhook answers 503 instead of hanging.
    kwargs["connect_args"] = {"connect_timeout": 3}
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event open transactions (see _sqlite_begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets the web processes write while the worker reads; NORMAL is durable in WAL mode
    # against application crashes, which is what a webhook's 200 promises.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def _sqlite_begin_immediate(connection: Any) -> None:
    # Take SQLite's write lock at the start: a transaction that reads then writes would
    # otherwise fail with "database is locked" instead of waiting its turn.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class SQLiteWriterQueue:
    """Queue SQLite writers of every process on a file lock before they BEGIN.

    SQLite makes a writer that finds the database locked poll with growing sleeps, which
    turns two busy web processes into latency spikes of tens of milliseconds; a blocking
    ``flock`` wakes the next writer the moment the previous one has committed.
    """

    def __init__(self, url: str) -> None:
        database = url.split("///", 1)[-1].split("?", 1)[0]
        self.path = f"{database}.writers" if database and database != ":memory:" else None
        self._thread_lock = threading.Lock()
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        if self.path is None:
            return
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except OSError:
            # The folder is missing or read-only: SQLite's own locking still holds.
            self._fd = None

    def __exit__(self, *_exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

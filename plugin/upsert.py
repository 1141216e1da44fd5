"""Dialect-aware INSERT ... ON CONFLICT DO NOTHING: the one way Relais writes "create once"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_once(
    session: Session | Connection,
    model: type[Any],
    values: Mapping[str, Any],
    *,
    conflict_columns: Sequence[str],
) -> Any | None:
    """Insert a row unless one with the same unique key exists.

    Returns the new row's primary key, or None when the row was already there (so the
    result reads as "inserted?" in a condition).

    One statement on PostgreSQL and SQLite, so two workers racing cannot both insert (no
    check-then-act). The answer comes from RETURNING, which both databases report reliably
    (``rowcount`` is -1 on PostgreSQL for this statement). Works on an ORM session or on a
    bare connection (the webhook intake's fast path).
    """
    bind = session.get_bind() if isinstance(session, Session) else session
    stmt = _statement(bind.dialect.name, model.__table__, tuple(conflict_columns))
    row = session.execute(stmt, dict(values)).first()
    return None if row is None else row[0]


def insert_many_once(
    connection: Session | Connection,
    model: type[Any],
    rows: Sequence[Mapping[str, Any]],
    *,
    key: str,
) -> dict[Any, Any]:
    """:func:`insert_once` for many rows in one statement, ``key`` being their unique column.

    Returns ``{key value: new primary key}`` for the rows inserted; a key missing from the
    answer was there already (or came twice in ``rows``: the first one is inserted).
    """
    if not rows:
        return {}
    bind = connection.get_bind() if isinstance(connection, Session) else connection
    stmt = _many_statement(bind.dialect.name, model.__table__, key)
    result = connection.execute(stmt, [dict(row) for row in rows])
    return {row[1]: row[0] for row in result}


@lru_cache(maxsize=16)
def _many_statement(dialect: str, table: Table, key: str) -> Any:
    # RETURNING the key after the primary key: the rows the conflict clause skips return
    # nothing, so the answer cannot be matched to the parameters by position.
    return _statement(dialect, table, (key,)).returning(table.c[key])


@lru_cache(maxsize=64)
def _statement(dialect: str, table: Table, conflict_columns: tuple[str, ...]) -> Any:
    # Built once per table: the values travel as parameters, so SQLAlchemy's compiled
    # cache is hit on every call.
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:  # pragma: no cover - only the two supported databases
        raise NotImplementedError(f"no upsert for {dialect}")
    primary_key = list(table.primary_key.columns)
    return stmt.on_conflict_do_nothing(index_elements=list(conflict_columns)).returning(
        *primary_key
    )

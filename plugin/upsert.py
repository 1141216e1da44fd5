"""Dialect-aware INSERT ... ON CONFLICT, the one way Relais writes "create once" rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignore(
    session: Session,
    model: type[Any],
    values: Mapping[str, Any],
    *,
    conflict_columns: Sequence[str],
) -> Any:
    """An INSERT that does nothing when a row with the same unique key exists.

    Execute it and read ``result.rowcount`` (1 inserted, 0 already there); on PostgreSQL
    and SQLite this is one statement, so two workers racing cannot both insert.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt = postgresql.insert(model).values(**values)
    elif dialect == "sqlite":
        stmt = sqlite.insert(model).values(**values)
    else:  # pragma: no cover - only the two supported databases
        raise NotImplementedError(f"no upsert for {dialect}")
    return stmt.on_conflict_do_nothing(index_elements=list(conflict_columns))

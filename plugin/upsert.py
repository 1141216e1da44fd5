"""Dialect-aware INSERT ... ON CONFLICT DO NOTHING: the one way Relais writes "create once"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_once(
    session: Session,
    model: type[Any],
    values: Mapping[str, Any],
    *,
    conflict_columns: Sequence[str],
) -> bool:
    """Insert a row unless one with the same unique key exists; True if this call inserted it.

    One statement on PostgreSQL and SQLite, so two workers racing cannot both insert (no
    check-then-act). The answer comes from RETURNING, which both databases report reliably
    (``rowcount`` is -1 on PostgreSQL for this statement).
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(model).values(**values)
    elif dialect == "sqlite":
        stmt = sqlite.insert(model).values(**values)
    else:  # pragma: no cover - only the two supported databases
        raise NotImplementedError(f"no upsert for {dialect}")
    primary_key = list(model.__table__.primary_key.columns)
    stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict_columns)).returning(
        *primary_key
    )
    return session.execute(stmt).first() is not None

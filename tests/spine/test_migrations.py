"""`relais db upgrade` builds exactly the schema the models describe, on either database."""

from __future__ import annotations

import uuid

from alembic import command
from sqlalchemy import create_engine, inspect, text

import plugin.model_registry  # noqa: F401
from plugin.db import Base
from plugin.migrate import alembic_config, upgrade


def _fresh_url(database_url: str, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    # PostgreSQL: a schema of its own, empty.
    base = database_url.split("?", 1)[0]
    schema = f"m_{uuid.uuid4().hex[:10]}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return f"{base}?options=-csearch_path%3D{schema}"


def test_migrations_create_every_table_and_match_the_models(database_url, tmp_path):
    url = _fresh_url(database_url, tmp_path)
    upgrade(url)
    engine = create_engine(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert set(Base.metadata.tables) <= tables
    # Alembic compares the migrated database with the models: any drift raises.
    command.check(alembic_config(url))

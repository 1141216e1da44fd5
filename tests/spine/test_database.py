"""The database's two kinds of session: reads that never write, transactions that do.

Runs on SQLite, and on PostgreSQL when ``TEST_DATABASE_URL`` is set (CI's second pass).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select, text

from plugin.db import Database
from plugin.models import Shop


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def _add_shop(db: Database, domain: str) -> None:
    with db.transaction() as session:
        session.add(Shop(domain=domain, primary_locale="fr", iana_timezone="Europe/Paris"))


def test_a_change_made_in_a_read_session_is_never_written(db: Database) -> None:
    _add_shop(db, "read-only.myshopify.com")
    with db.session() as session:
        shop = session.scalars(select(Shop)).one()
        shop.name = "Changed by a reader"
        # A query after the change: with autoflush this would write it.
        session.scalars(select(Shop)).all()
    with db.session() as session:
        assert session.scalars(select(Shop.name)).one() is None


def test_a_transaction_commits_on_success_and_rolls_back_on_error(db: Database) -> None:
    _add_shop(db, "kept.myshopify.com")
    with pytest.raises(RuntimeError), db.transaction() as session:
        session.add(Shop(domain="lost.myshopify.com", primary_locale="fr"))
        session.flush()
        raise RuntimeError("the job failed half way")
    with db.session() as session:
        assert session.scalars(select(Shop.domain)).all() == ["kept.myshopify.com"]


def test_reads_keep_postgresql_prepared_statements(db: Database) -> None:
    """psycopg drops every prepared statement of a connection at each ROLLBACK; reads must
    not cause one, or the hot queries of every job are planned again each time."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's (runs in the PostgreSQL pass)")
    _add_shop(db, "prepared.myshopify.com")
    # psycopg prepares a statement from its fifth execution on a connection.
    for _ in range(6):
        with db.transaction() as session:
            session.scalars(select(Shop.id)).one()
    prepared_before = _prepared_statements(db)
    assert prepared_before, "the repeated query should have been prepared"
    for _ in range(3):
        with db.session() as session:
            session.scalars(select(Shop.domain)).one()
    assert _prepared_statements(db) >= prepared_before


def _prepared_statements(db: Database) -> int:
    # pg_prepared_statements is per connection: one at a time here, so the pool hands back
    # the connection the reads used.
    with db.transaction() as session:
        return int(session.scalar(text("SELECT count(*) FROM pg_prepared_statements")) or 0)

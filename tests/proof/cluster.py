"""What a test that starts its own cluster (PostgreSQL, redis-server, gunicorn, workers)
needs before it runs."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

import pytest

from ops.services import postgres_bin, redis_server_bin

Test = TypeVar("Test", bound=Callable[..., object])


def own_cluster(*, timeout: int) -> list[pytest.MarkDecorator]:
    """The marks of such a test: slow, run once (in the SQLite pass, since the cluster brings
    its own PostgreSQL), skipped without the servers, stopped after ``timeout`` seconds."""
    return [
        pytest.mark.slow,
        pytest.mark.skipif(
            bool(os.environ.get("TEST_DATABASE_URL")),
            reason="runs its own PostgreSQL cluster: once, in the SQLite pass, is enough",
        ),
        pytest.mark.skipif(postgres_bin() is None, reason="PostgreSQL server not installed"),
        pytest.mark.skipif(redis_server_bin() is None, reason="redis-server not installed"),
        pytest.mark.timeout(timeout),
    ]


def on_own_cluster(*, timeout: int) -> Callable[[Test], Test]:
    """:func:`own_cluster` as a decorator, for one test in a module of others."""

    def mark(test: Test) -> Test:
        for decorator in own_cluster(timeout=timeout):
            test = decorator(test)
        return test

    return mark

"""Relais under gunicorn on 127.0.0.1, for tests that must go through a real HTTP server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine

import plugin.model_registry  # noqa: F401  (every table in the metadata)
from ops.services import free_port, wait_for_port
from plugin.db import Base
from plugin.server import WEB_THREADS, WORKER_CLASS
from tests.conftest import TEST_API_KEY, TEST_API_SECRET

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class LiveServer:
    url: str
    database_url: str
    secret_key: str


@contextmanager
def live_server(folder: Path, redis_url: str, *, workers: int = 2) -> Iterator[LiveServer]:
    """gunicorn with ``workers`` processes of the worker class ``relais serve`` runs (threads,
    group commit) on a fresh SQLite file; stopped afterwards."""
    database_url = f"sqlite:///{folder / 'relais.sqlite3'}"
    engine = create_engine(database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "DATABASE_"))},
        "SHOPIFY_API_KEY": TEST_API_KEY,
        "SHOPIFY_API_SECRET": TEST_API_SECRET,
        "APP_URL": f"http://127.0.0.1:{port}",
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "RELAIS_INSTANCE_DIR": str(folder / "instance"),
        "LOG_LEVEL": "WARNING",
    }
    log = (folder / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", WORKER_CLASS,
         "--threads", str(WEB_THREADS), "-b", f"127.0.0.1:{port}", "plugin:create_app()"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, timeout=60)
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30)
        yield LiveServer(f"http://127.0.0.1:{port}", database_url, "test-secret-key")
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()

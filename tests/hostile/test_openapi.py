"""schemathesis against docs/openapi.yaml, on Relais under gunicorn on 127.0.0.1.

Generated requests are signed the way their caller signs them (Shopify's webhook HMAC,
the app proxy's query signature with a fresh timestamp) half of the time, and carry a valid
order token half of the time, so that generation reaches the code behind the checks and
not only the 401s. The check: no 5xx, whatever is sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, select

from plugin.links import make_order_token
from plugin.models import Order
from plugin.shopify_payloads import Item, Shopper, fulfillment_payload, order_payload
from tests.conftest import DEMO_SHOP, TEST_API_SECRET, sign
from tests.hostile.live_server import LiveServer, live_server
from tests.hostile.strategies import T0

# schemathesis comes from PyPI as a development dependency; without it, say so and skip.
schemathesis = pytest.importorskip("schemathesis")
not_a_server_error = pytest.importorskip("schemathesis.checks").not_a_server_error

ANSWERS: Counter[tuple[str, int]] = Counter()
SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
schema = schemathesis.openapi.from_path(SPEC)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("openapi"), redis_url) as live:
        _REDIS[live.url] = redis_url
        yield live


@pytest.fixture(scope="module")
def order_token(server: LiveServer) -> str:
    """A real order of the demo shop, created through signed webhooks, and its token."""
    session = requests.Session()
    shopper = Shopper("Camille", "Martin", "c@example.org", None, "Lyon", "69003", "FR", "fr")
    items = [Item("Bougie", "32.00")]
    for topic, payload in (
        ("shop/update", {"name": "Maison", "domain": "maison.fr", "email": "s@maison.fr"}),
        ("orders/create",
         order_payload(order_id=77, number=1077, shopper=shopper, items=items, created_at=T0)),
        ("fulfillments/create",
         fulfillment_payload(fulfillment_id=78, order_id=77, name="#1077.1", items=items,
                             created_at=T0)),
    ):
        body = json.dumps(payload).encode()
        answer = session.post(
            f"{server.url}/webhooks", data=body, headers=_webhook_headers(topic, body), timeout=10
        )
        assert answer.status_code == 200
    _apply_queued(server)
    engine = create_engine(server.database_url)
    with engine.connect() as conn:
        public_id = conn.scalar(select(Order.public_id).where(Order.shopify_id == 77))
    engine.dispose()
    assert public_id, "the order was not applied"
    return make_order_token(server.secret_key, DEMO_SHOP, public_id)


def _apply_queued(server: LiveServer) -> None:
    """Apply the queued deliveries in this process, as a worker would."""
    from plugin import create_app
    from plugin.config import Config
    from plugin.worker import run_worker

    config = Config(
        shopify_api_key="k", shopify_api_secret=TEST_API_SECRET, app_url=server.url,
        secret_key=server.secret_key, database_url=server.database_url,
        redis_url=_redis_url_of(server), testing=True,
    )
    app = create_app(config)
    with app.app_context():
        run_worker(app, burst=True)


_REDIS: dict[str, str] = {}


def _redis_url_of(server: LiveServer) -> str:
    return _REDIS[server.url]




def _webhook_headers(topic: str, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": DEMO_SHOP,
        "X-Shopify-Webhook-Id": hashlib.sha256(body + topic.encode()).hexdigest()[:40],
        "X-Shopify-Hmac-Sha256": sign(body),
    }


def _sign_proxy(params: dict[str, Any]) -> dict[str, Any]:
    signed = {k: str(v) for k, v in params.items() if k != "signature"}
    signed.update(shop=DEMO_SHOP, timestamp=str(int(time.time())))
    message = "".join(f"{k}={v}" for k, v in sorted(signed.items()))
    signed["signature"] = hmac.new(
        TEST_API_SECRET.encode(), message.encode(), hashlib.sha256
    ).hexdigest()
    return signed


def _prepare(case: Any, base_url: str, token: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = case.as_transport_kwargs(base_url=base_url)
    # Half of the cases go past the signature checks (decided by the case, reproducibly).
    signed = int(hashlib.sha256(repr(kwargs).encode()).hexdigest(), 16) % 2 == 0
    if signed and "{token}" in case.operation.path:
        kwargs["url"] = base_url + case.operation.path.replace("{token}", token)
    if signed and case.operation.path.startswith("/proxy"):
        kwargs["params"] = _sign_proxy(kwargs.get("params") or {})
    if signed and case.operation.path == "/webhooks" and "json" in kwargs:
        body = json.dumps(kwargs.pop("json")).encode()
        topic = str((kwargs.get("headers") or {}).get("X-Shopify-Topic") or "orders/create")
        kwargs["data"] = body
        kwargs["headers"] = {**(kwargs.get("headers") or {}), **_webhook_headers(topic, body)}
        if not topic.isascii():
            kwargs["headers"]["X-Shopify-Topic"] = "orders/create"
    return kwargs


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_whatever_is_sent(case: Any, server: LiveServer, order_token: str) -> None:
    kwargs = _prepare(case, server.url, order_token)
    response = requests.request(**kwargs, timeout=15, allow_redirects=False)
    ANSWERS[(case.operation.path, response.status_code)] += 1
    case.validate_response(response, checks=[not_a_server_error])


def test_generation_reached_past_the_signature_checks() -> None:
    """Guards the test above against passing on nothing but 401s."""
    if not ANSWERS:
        pytest.skip("run together with test_no_server_error_whatever_is_sent")
    assert ANSWERS[("/webhooks", 200)] > 0
    assert sum(n for (path, status), n in ANSWERS.items() if path == "/webhooks" and status == 401)
    for path in ("/proxy/lookup", "/proxy/o/{token}"):
        reached = sum(n for (p, status), n in ANSWERS.items() if p == path and status != 401)
        assert reached > 0, path

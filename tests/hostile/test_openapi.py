"""schemathesis against docs/openapi.yaml, on Relais under gunicorn on 127.0.0.1.

Generated requests are signed the way their caller signs them (Shopify's webhook HMAC,
the app proxy's query signature with a fresh timestamp) half of the time, and carry a valid
order token half of the time, so that generation reaches the code behind the checks and
not only the 401s. The check: no 5xx, whatever is sent.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

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


@pytest.fixture(scope="module")
def genuine(server: LiveServer, order_token: str) -> dict[str, str]:
    """A genuine value for every path parameter and Wallet header, for the half of the cases
    that go past the checks: the order's links, and its pass and Wallet order as a device
    holds them (downloaded from the server)."""
    from plugin.config import Config
    from plugin.links import click_link, rating_link, read_order_token, short_tracking_link
    from plugin.models import Shipment

    config = Config(
        shopify_api_key="k", shopify_api_secret=TEST_API_SECRET, app_url=server.url,
        secret_key=server.secret_key, database_url=server.database_url,
        redis_url=_redis_url_of(server),
    )
    ref = read_order_token(server.secret_key, order_token)
    assert ref is not None
    engine = create_engine(server.database_url)
    with engine.connect() as conn:
        shipment_id = conn.scalar(select(Shipment.id).where(Shipment.shopify_fulfillment_id == 78))
    engine.dispose()
    assert shipment_id is not None
    values = {
        "token": order_token,
        "click_token": click_link(
            config, DEMO_SHOP, f"https://{DEMO_SHOP}/products/bougie", channel="email",
            milestone="delivered",
        ).rsplit("/", 1)[1],
        "rating_token": rating_link(
            config, DEMO_SHOP, ref.public_id, shipment_id, 5, channel="email"
        ).rsplit("/", 1)[1].split("?")[0],
        "code": short_tracking_link(config, ref.public_id).rsplit("/", 1)[1],
        "device": "a1b2c3d4e5f6",
    }
    for prefix, path, document, identifier, type_key in (
        ("pass", f"/wallet/passes/{order_token}.pkpass", "pass.json", "serialNumber",
         "passTypeIdentifier"),
        ("order", f"/wallet/orders/{order_token}.order", "order.json", "orderIdentifier",
         "orderTypeIdentifier"),
    ):
        answer = requests.get(server.url + path, timeout=30)
        assert answer.status_code == 200, (path, answer.status_code)
        content = json.loads(zipfile.ZipFile(io.BytesIO(answer.content)).read(document))
        values[f"{prefix}_serial"] = str(content[identifier])
        values[f"{prefix}_type"] = str(content[type_key])
        values[f"{prefix}_auth"] = str(content["authenticationToken"])
    return values


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


def _genuine_path(template: str, genuine: dict[str, str], generated: dict[str, Any]) -> str:
    """The path with genuine values in place of the generated ones (Wallet serials and type
    identifiers are the pass's or the Wallet order's, by the path's prefix)."""
    kind = "order" if template.startswith("/wallet/orders/") else "pass"
    values = {
        **{k: quote(str(v), safe="") for k, v in generated.items()},
        **genuine,
        "serial": genuine[f"{kind}_serial"],
        "type_identifier": genuine[f"{kind}_type"],
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


def _prepare(case: Any, base_url: str, genuine: dict[str, str]) -> dict[str, Any]:
    kwargs: dict[str, Any] = case.as_transport_kwargs(base_url=base_url)
    # Half of the cases go past the signature checks (decided by the case, reproducibly).
    signed = int(hashlib.sha256(repr(kwargs).encode()).hexdigest(), 16) % 2 == 0
    template = case.operation.path
    if signed:
        # Many shoppers rather than one address: the per-IP limit of the shopper pages
        # (120 a minute) would otherwise answer 429 before the code behind it is reached.
        digest = hashlib.sha256(repr(kwargs).encode()).digest()
        kwargs["headers"] = {
            **(kwargs.get("headers") or {}), "X-Forwarded-For": f"10.{digest[0]}.{digest[1]}.7"
        }
    if signed and "{" in template:
        kwargs["url"] = base_url + _genuine_path(template, genuine, case.path_parameters or {})
    if signed and template.startswith("/wallet/") and "{serial}" in template:
        kind, scheme = (
            ("order", "AppleOrder") if template.startswith("/wallet/orders/") else
            ("pass", "ApplePass")
        )
        kwargs["headers"] = {
            **(kwargs.get("headers") or {}), "Authorization": f"{scheme} {genuine[kind + '_auth']}"
        }
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
def test_no_server_error_whatever_is_sent(
    case: Any, server: LiveServer, genuine: dict[str, str]
) -> None:
    kwargs = _prepare(case, server.url, genuine)
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
    # Genuine tokens reached the Wallet web service, the redirector, short links and ratings.
    for path, status in (
        ("/wallet/passes/{token}.pkpass", 200),
        ("/wallet/v1/passes/{type_identifier}/{serial}", 200),
        ("/wallet/orders/v1/orders/{type_identifier}/{serial}", 200),
        ("/r/{click_token}", 302),
        ("/s/{code}", 302),
        ("/f/{rating_token}", 200),
    ):
        seen = sorted((s, n) for (p, s), n in ANSWERS.items() if p == path)
        assert ANSWERS[(path, status)] > 0, (path, status, seen)

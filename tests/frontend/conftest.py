"""Storefront fixtures: orders built through the webhook intake, and signed proxy requests."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from plugin.links import make_order_token
from plugin.models import Order, Shop
from plugin.runtime import Runtime
from plugin.shopify_payloads import (
    Item,
    Shopper,
    fulfillment_event_payload,
    fulfillment_payload,
    next_id,
    order_payload,
)
from tests.conftest import DEMO_SHOP, TEST_API_SECRET

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)


def proxy_query(
    shop: str = DEMO_SHOP,
    *,
    timestamp: int | None = None,
    secret: str = TEST_API_SECRET,
    path_prefix: str = "/apps/track",
    logged_in_customer_id: str = "",
    extra: dict[str, str] | None = None,
) -> str:
    """The query string Shopify's app proxy adds, signed as Shopify signs it."""
    params = {
        "shop": shop,
        "path_prefix": path_prefix,
        "timestamp": str(int(time.time()) if timestamp is None else timestamp),
        "logged_in_customer_id": logged_in_customer_id,
        **(extra or {}),
    }
    message = "".join(f"{k}={v}" for k, v in sorted(params.items()))
    signature = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return urlencode({**params, "signature": signature})


@dataclass
class StoreOrder:
    """An order of the demo shop, driven through Shopify webhooks."""

    post: Callable[..., Any]
    run: Callable[[], int]
    runtime: Runtime
    number: int = 1001
    shopper: Shopper = field(
        default_factory=lambda: Shopper(
            "Camille",
            "Martin",
            "camille@example.fr",
            "+33612345678",
            "Lyon",
            "69003",
            "FR",
            "fr",
            email_consent=True,
        )
    )
    items: list[Item] = field(
        default_factory=lambda: [
            Item("Bougie Figuier", "32.00", product_id=9001),
            Item("Plaid en lin sauge", "89.00", product_id=9003),
        ]
    )
    order_id: int = field(default_factory=next_id)
    pickup: dict[str, str] | None = None

    def create(self, **kw: Any) -> StoreOrder:
        payload = order_payload(
            order_id=self.order_id,
            number=self.number,
            shopper=self.shopper,
            items=self.items,
            created_at=T0,
            pickup=self.pickup,
            **kw,
        )
        assert self.post("orders/create", payload).status_code == 200
        self.run()
        return self

    def ship(self, fid: int, items: list[Item] | None = None, **kw: Any) -> StoreOrder:
        kw.setdefault("created_at", T0 + timedelta(hours=5))
        payload = fulfillment_payload(
            fulfillment_id=fid,
            order_id=self.order_id,
            name=f"#{self.number}.{fid % 10}",
            items=items or self.items,
            **kw,
        )
        assert self.post("fulfillments/create", payload).status_code == 200
        self.run()
        return self

    def event(self, fid: int, status: str, hours: float, **kw: Any) -> StoreOrder:
        payload = fulfillment_event_payload(
            event_id=next_id(),
            fulfillment_id=fid,
            order_id=self.order_id,
            status=status,
            happened_at=T0 + timedelta(hours=hours),
            **kw,
        )
        assert self.post("fulfillment_events/create", payload).status_code == 200
        self.run()
        return self

    @property
    def row(self) -> Order:
        with self.runtime.db.session() as session:
            order = session.scalar(select(Order).where(Order.shopify_id == self.order_id))
            assert order is not None
            return order

    @property
    def token(self) -> str:
        return make_order_token(self.runtime.config.secret_key, DEMO_SHOP, self.row.public_id)


@pytest.fixture
def store_order(post_webhook, run_jobs, runtime, shop) -> Callable[..., StoreOrder]:
    def make(**kw: Any) -> StoreOrder:
        return StoreOrder(post=post_webhook, run=run_jobs, runtime=runtime, **kw)

    return make


@pytest.fixture
def set_shop_settings(runtime) -> Callable[[dict[str, Any]], None]:
    def apply(settings: dict[str, Any]) -> None:
        with runtime.db.transaction() as session:
            shop = session.scalar(select(Shop).where(Shop.domain == DEMO_SHOP))
            assert shop is not None
            shop.settings = settings

    return apply

"""Per-shop fairness: a shop's burst waits behind other shops' webhooks, not the reverse.

Each shop may put RELAIS_SHOP_BURST_PER_MINUTE deliveries a minute in the "webhooks" lane;
past that, its deliveries go to the "webhooks_bulk" lane, which workers serve after every
other queue. The measured figure (100,000 orders in a burst on a real cluster) is in
benchmarks/README.md (``python benchmarks/scaleout.py fairness``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from plugin.config import Config
from plugin.models import WebhookDelivery
from plugin.runtime import Runtime
from tests.hostile.strategies import SHOPPER, T0

BIG, SMALL = "big-shop.myshopify.com", "small-shop.myshopify.com"
BUDGET = 20


@pytest.fixture
def config(config: Config) -> Config:
    return config.with_overrides(shop_burst_per_minute=BUDGET)


def _order(order_id: int) -> dict[str, Any]:
    from plugin.shopify_payloads import Item, order_payload

    return order_payload(
        order_id=order_id, number=1000 + order_id, shopper=SHOPPER,
        items=[Item("Bougie", "32.00")], created_at=T0,
    )


@pytest.mark.slow
def test_a_small_shop_is_served_before_a_big_shops_backlog(
    post_webhook: Callable[..., Any], run_jobs: Callable[[], int], runtime: Runtime
) -> None:
    for n in range(1, 151):
        assert post_webhook("orders/create", _order(n), shop_domain=BIG).status_code == 200
    assert post_webhook("orders/create", _order(9999), shop_domain=SMALL).status_code == 200
    assert runtime.queues["webhooks"].count == BUDGET + 1
    assert runtime.queues["webhooks_bulk"].count == 150 - BUDGET
    run_jobs()
    with runtime.db.session() as session:
        order = list(
            session.scalars(
                select(WebhookDelivery.shop_domain).order_by(WebhookDelivery.processed_at)
            )
        )
    assert len(order) == 151
    # Served after at most the big shop's in-budget deliveries, not after its whole burst.
    assert order.index(SMALL) <= BUDGET


def test_the_budget_is_per_shop_and_per_minute(
    post_webhook: Callable[..., Any], runtime: Runtime
) -> None:
    for n in range(1, BUDGET + 3):
        post_webhook("orders/create", _order(n), shop_domain=BIG)
    for n in range(1, 4):
        post_webhook("orders/create", _order(100 + n), shop_domain=SMALL)
    assert runtime.queues["webhooks_bulk"].count == 2  # only the big shop's excess
    # The next minute starts a new budget.
    for key in runtime.redis.scan_iter("relais:intake:*"):
        runtime.redis.delete(key)
    post_webhook("orders/create", _order(500), shop_domain=BIG)
    assert runtime.queues["webhooks_bulk"].count == 2

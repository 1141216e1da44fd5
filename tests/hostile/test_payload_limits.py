"""Values that fit JSON but not Relais' columns or Python's calendar are refused as payload
errors (the delivery fails once, visibly) instead of raising in the job, which RQ would
retry and the sweeper would queue again, forever."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from plugin.models import Order, WebhookDelivery
from plugin.runtime import Runtime
from tests.hostile.strategies import BASE_PAYLOADS
from webhooks.jobs import process_delivery

OUT_OF_RANGE = [
    ("orders/create", "id", 2**64),
    ("orders/create", "id", "gid://shopify/Order/" + "9" * 25),
    ("orders/create", "order_number", 2**63),
    ("orders/create", "updated_at", "9999-12-31T23:59:59-01:00"),
    ("orders/create", "created_at", "0001-01-01T00:00:00+01:00"),
    ("fulfillments/create", "id", -(2**63) - 1),
    ("fulfillment_events/create", "happened_at", "9999-12-31T23:30:00-05:00"),
    ("customers/redact", "orders_to_redact", [2**70]),
]


@pytest.mark.parametrize(("topic", "field", "value"), OUT_OF_RANGE)
def test_out_of_range_value_fails_the_delivery_once(
    post_webhook: Callable[..., Any], runtime: Runtime, topic: str, field: str, value: Any
) -> None:
    payload = BASE_PAYLOADS[topic]()
    payload[field] = value
    delivery_id = post_webhook(topic, payload).get_json()["id"]
    result = process_delivery(delivery_id)
    with runtime.db.session() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        assert delivery is not None
        assert (delivery.status, result) == ("failed", f"failed: {delivery.error}")
        assert "out of range" in (delivery.error or "")


@pytest.mark.parametrize(
    ("field", "value", "stored"),
    [
        ("total_price", "1e30", None),
        ("total_price", "NaN", None),
        ("total_price", "-Infinity", None),
        ("total_price", "1000000000000", None),
        ("total_price", "999999999999.99", "999999999999.99"),
        ("email", "shop\x00per@example.org", "shopper@example.org"),
    ],
)
def test_values_that_do_not_fit_a_column_are_dropped_or_cleaned(
    post_webhook: Callable[..., Any], runtime: Runtime, field: str, value: str, stored: Any
) -> None:
    payload = BASE_PAYLOADS["orders/create"]()
    payload[field] = value
    delivery_id = post_webhook("orders/create", payload).get_json()["id"]
    assert not process_delivery(delivery_id).startswith("failed")
    with runtime.db.session() as session:
        order = session.query(Order).one()
        kept = getattr(order, field)
        assert (str(kept) if kept is not None else None) == stored


def test_triggered_at_past_the_calendar_is_ignored_not_500(
    post_webhook: Callable[..., Any],
) -> None:
    response = post_webhook(
        "orders/create",
        BASE_PAYLOADS["orders/create"](),
        headers={"X-Shopify-Triggered-At": "9999-12-31T23:59:59-01:00"},
    )
    assert response.status_code == 200

"""The GraphQL Admin API client against the stand-in: costs, throttling, 5xx, bad queries."""

from __future__ import annotations

import pytest

from plugin.shopify.admin_api import (
    API_VERSION,
    AccessDenied,
    AdminUnavailable,
    QueryRejected,
)
from plugin.shopify.graphql_shapes import SHOP_QUERY, shop_snapshot

PRODUCTS = (
    "query RelaisProducts($first: Int!, $query: String) "
    "{ products(first: $first) { nodes { id } } }"
)


def test_a_query_returns_data_and_records_the_cost(installed, connection, standin):
    data = connection.admin.query(installed.domain, SHOP_QUERY)

    snapshot = shop_snapshot(installed.domain, data)
    assert snapshot.name == "Maison Lumière"
    assert snapshot.primary_locale == "fr"
    assert snapshot.iana_timezone == "Europe/Paris"
    assert snapshot.currency == "EUR"
    status = connection.admin.throttle.read(installed.domain)
    assert status is not None
    assert status.currently_available == pytest.approx(998, abs=1)
    assert status.maximum_available == 1000


def test_the_api_version_is_pinned(installed, connection, standin):
    standin.api_version = "2099-01"  # Shopify answers 404 for a version it does not serve
    with pytest.raises(QueryRejected):
        connection.admin.query(installed.domain, SHOP_QUERY)
    assert API_VERSION == "2026-07"


def test_waits_before_being_throttled_when_the_bucket_is_low(
    installed, connection, standin, sleeps
):
    bucket = standin.shop(installed.domain).bucket
    bucket.maximum, bucket.available, bucket.restore_rate = 100.0, 100.0, 50.0
    connection.admin.query(installed.domain, SHOP_QUERY)  # learns the bucket: 98 left
    document = PRODUCTS
    bucket.available = 10.0  # another process spent the bucket
    connection.admin.throttle.write(
        installed.domain,
        connection.admin.throttle.read(installed.domain).__class__(
            maximum_available=100.0,
            currently_available=10.0,
            restore_rate=50.0,
            observed_at=connection.admin.clock(),
        ),
    )

    connection.admin.query(installed.domain, document, {"first": 40}, expected_cost=42)

    # It waited for (42 - 10) / 50 s before asking, and was never throttled.
    assert sleeps.waits and sleeps.waits[0] == pytest.approx(0.64, abs=0.05)
    assert not [c for c in standin.graphql_calls() if "throttled" in c.detail]


def test_a_throttled_answer_is_retried_after_waiting_for_the_bucket(
    installed, connection, standin, sleeps
):
    standin.throttle_next()

    data = connection.admin.query(installed.domain, SHOP_QUERY)

    assert data["shop"]["name"] == "Maison Lumière"
    details = [c.detail for c in standin.graphql_calls()]
    assert details == ["RelaisShop throttled", "RelaisShop"]
    # Throttled with 0 points left at 100 points/s: about 2/100 s for a 2-point query.
    assert sleeps.waits and 0 < sleeps.waits[0] < 1


def test_server_errors_are_retried_with_a_cap(installed, connection, standin, sleeps):
    standin.fail_next(503, times=2)
    assert connection.admin.query(installed.domain, SHOP_QUERY)["shop"]
    assert [c.status for c in standin.graphql_calls()] == [503, 503, 200]
    assert sleeps.waits == [0.05, 0.1]  # exponential backoff

    standin.calls.clear()
    standin.fail_next(500, times=10)
    with pytest.raises(AdminUnavailable):
        connection.admin.query(installed.domain, SHOP_QUERY)
    assert len(standin.graphql_calls()) == connection.admin.policy.max_attempts


def test_a_bad_query_is_never_retried(installed, connection, standin):
    with pytest.raises(QueryRejected, match="doesn't exist"):
        connection.admin.query(installed.domain, "query RelaisNoSuchThing { nope }")
    assert len(standin.graphql_calls()) == 1


def test_a_revoked_token_is_forgotten(installed, connection, standin):
    standin.tokens.clear()  # Shopify no longer knows the token (merchant uninstalled)
    with pytest.raises(AccessDenied):
        connection.admin.query(installed.domain, SHOP_QUERY)
    assert connection.tokens.get(installed.domain) is None
    assert len(standin.graphql_calls()) == 1


def test_a_query_costlier_than_the_bucket_is_rejected_not_retried(installed, connection, standin):
    bucket = standin.shop(installed.domain).bucket
    bucket.maximum = bucket.available = 50.0
    document = PRODUCTS
    with pytest.raises(QueryRejected, match="split"):
        connection.admin.query(installed.domain, document, {"first": 200})
    assert len(standin.graphql_calls()) == 1

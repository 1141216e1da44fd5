"""Pytest fixtures around the Shopify stand-in: the stand-in, the app's connection to it, and
an installed shop. Test folders import them into their conftest.py."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask import Flask
from shopify_app.types import TokenExchangeAccessToken

from plugin.models import Shop
from plugin.runtime import Runtime
from plugin.shopify.admin_api import RetryPolicy
from plugin.shopify.connection import EXTENSION, ShopifyConnection, connect
from plugin.shopify.tokens import store_token
from tests.standins.shopify_server import ShopifyStandIn

TEST_API_KEY = "test-api-key"
TEST_API_SECRET = "test-api-secret"


class Sleeps:
    """Sleeps like ``time.sleep`` and remembers every wait the Admin API client chose."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)


# Short backoffs so that retry tests take milliseconds; the shape of the policy is unchanged.
TEST_RETRY_POLICY = RetryPolicy(max_attempts=4, base_delay=0.05, max_delay=0.4, max_wait=5.0)


@pytest.fixture
def standin() -> Iterator[ShopifyStandIn]:
    with ShopifyStandIn(TEST_API_KEY, TEST_API_SECRET) as server:
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def connection(
    app: Flask, runtime: Runtime, standin: ShopifyStandIn, sleeps: Sleeps
) -> ShopifyConnection:
    """The app's Shopify connection, its HTTP client reaching the stand-in."""
    conn = connect(
        runtime, http_client=standin.http_client(), sleep=sleeps, policy=TEST_RETRY_POLICY
    )
    app.extensions[EXTENSION] = conn
    return conn


def install_token(
    connection: ShopifyConnection,
    runtime: Runtime,
    standin: ShopifyStandIn,
    shop: Shop,
    *,
    expires_in: float = 3600,
) -> str:
    """Store a token pair the stand-in issued, as if a token exchange had happened."""
    issued = standin.issue_token(shop.domain, expires_in=expires_in)
    from datetime import UTC, datetime, timedelta

    expires = datetime.now(UTC) + timedelta(seconds=expires_in)
    token = TokenExchangeAccessToken(
        shop=shop.domain.removesuffix(".myshopify.com"),
        token=issued.access_token,
        expires=expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        scope="read_orders",
        access_mode="offline",
        refresh_token=issued.refresh_token,
        refresh_token_expires=(datetime.now(UTC) + timedelta(days=90)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ),
        user=None,
    )
    with runtime.db.transaction() as session:
        store_token(session, connection.box, shop.id, token)
    return issued.access_token


@pytest.fixture
def installed(
    connection: ShopifyConnection, runtime: Runtime, standin: ShopifyStandIn, shop: Shop
) -> Shop:
    """The demo shop with a valid token, known to the stand-in."""
    standin.add_shop(shop.domain)
    install_token(connection, runtime, standin, shop)
    return shop

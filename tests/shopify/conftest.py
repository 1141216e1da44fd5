"""Shopify connection tests run against the local Shopify stand-in."""

from tests.standins.shopify_fixtures import (  # noqa: F401 - fixtures
    connection,
    installed,
    sleeps,
    standin,
)

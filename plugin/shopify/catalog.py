"""Products, collections and discount codes of a shop, through the Admin API."""

from __future__ import annotations

from datetime import datetime

from plugin.shopify import graphql_shapes as shapes
from plugin.shopify.admin_api import AdminApi
from plugin.shopify.graphql_shapes import (
    CollectionSummary,
    DiscountCreated,
    DiscountSummary,
    ProductSummary,
)


def best_sellers(admin: AdminApi, shop_domain: str, *, first: int = 8) -> list[ProductSummary]:
    """The shop's active best-selling products (upsell candidates)."""
    data = admin.query(
        shop_domain, shapes.PRODUCTS_QUERY, {"first": first, "query": "status:active"}
    )
    return shapes.products(data)


def find_collection(admin: AdminApi, shop_domain: str, handle: str) -> CollectionSummary | None:
    """The collection with this handle, or None."""
    return shapes.collection(admin.query(shop_domain, shapes.COLLECTION_QUERY, {"handle": handle}))


def find_discount(admin: AdminApi, shop_domain: str, code: str) -> DiscountSummary | None:
    """The code discount with this code, or None."""
    data = admin.query(shop_domain, shapes.DISCOUNT_CODE_QUERY, {"code": code})
    return shapes.discount(code, data)


def create_percentage_code(
    admin: AdminApi,
    shop_domain: str,
    *,
    title: str,
    code: str,
    percentage: int,
    starts_at: datetime,
) -> DiscountCreated:
    """Create a code for ``percentage`` % off every item (``discountCodeBasicCreate``)."""
    variables = {
        "basicCodeDiscount": shapes.basic_code_input(
            title=title, code=code, percentage=percentage, starts_at=starts_at
        )
    }
    return shapes.discount_created(admin.query(shop_domain, shapes.DISCOUNT_CODE_CREATE, variables))

"""Realistic Shopify webhook payloads (API 2026-07 shapes) for the demo, benchmarks and tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

_ids = itertools.count(5_000_000_000_001)


def next_id() -> int:
    """A fresh Shopify-like numeric id."""
    return next(_ids)


def _ts(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


@dataclass
class Shopper:
    first_name: str
    last_name: str
    email: str
    phone: str | None
    city: str
    zip: str
    country_code: str
    locale: str
    address1: str = "12 rue des Lilas"
    province_code: str | None = None
    email_consent: bool = False
    sms_consent: bool = False


@dataclass
class Item:
    title: str
    price: str
    quantity: int = 1
    sku: str | None = None
    id: int = field(default_factory=next_id)
    product_id: int = field(default_factory=next_id)
    variant_id: int = field(default_factory=next_id)


def order_payload(
    *,
    order_id: int,
    number: int,
    shopper: Shopper,
    items: list[Item],
    created_at: datetime,
    updated_at: datetime | None = None,
    currency: str = "EUR",
    shipping_title: str = "Colissimo Domicile",
    pickup: dict[str, str] | None = None,
    cancelled_at: datetime | None = None,
    fulfillments: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An order as `orders/create` (and `orders/updated`, `orders/cancelled`) sends it."""
    total = sum(float(i.price) * i.quantity for i in items)
    home = {
        "first_name": shopper.first_name,
        "last_name": shopper.last_name,
        "name": f"{shopper.first_name} {shopper.last_name}",
        "address1": shopper.address1,
        "address2": None,
        "city": shopper.city,
        "zip": shopper.zip,
        "province": None,
        "province_code": shopper.province_code,
        "country": shopper.country_code,
        "country_code": shopper.country_code,
        "phone": shopper.phone,
        "company": None,
        "latitude": None,
        "longitude": None,
    }
    shipping = dict(home)
    if pickup:
        shipping.update(
            company=pickup["name"],
            address1=pickup["address1"],
            zip=pickup["zip"],
            city=pickup["city"],
        )
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{number}",
        "number": number - 1000,
        "order_number": number,
        "email": shopper.email,
        "contact_email": shopper.email,
        "phone": shopper.phone,
        "customer_locale": shopper.locale,
        "currency": currency,
        "presentment_currency": currency,
        "total_price": f"{total:.2f}",
        "financial_status": "paid",
        "fulfillment_status": None,
        "buyer_accepts_marketing": shopper.email_consent,
        "cancel_reason": "customer" if cancelled_at else None,
        "cancelled_at": _ts(cancelled_at) if cancelled_at else None,
        "created_at": _ts(created_at),
        "processed_at": _ts(created_at),
        "updated_at": _ts(updated_at or created_at),
        "test": False,
        "customer": {
            "id": 7_000_000_000_000 + number,
            "first_name": shopper.first_name,
            "last_name": shopper.last_name,
            "email": shopper.email,
            "phone": shopper.phone,
            "state": "enabled",
            "email_marketing_consent": {
                "state": "subscribed" if shopper.email_consent else "not_subscribed",
                "opt_in_level": "single_opt_in",
            },
            "sms_marketing_consent": {
                "state": "subscribed" if shopper.sms_consent else "not_subscribed",
                "opt_in_level": "single_opt_in",
            }
            if shopper.phone
            else None,
        },
        "billing_address": home,
        "shipping_address": shipping,
        "shipping_lines": [
            {
                "id": next_id(),
                "title": shipping_title,
                "code": shipping_title,
                "source": "shopify",
                "price": "4.90",
            }
        ],
        "line_items": [
            {
                "id": i.id,
                "admin_graphql_api_id": f"gid://shopify/LineItem/{i.id}",
                "title": i.title,
                "name": i.title,
                "quantity": i.quantity,
                "price": i.price,
                "sku": i.sku,
                "product_id": i.product_id,
                "variant_id": i.variant_id,
                "variant_title": None,
                "requires_shipping": True,
                "fulfillable_quantity": i.quantity,
            }
            for i in items
        ],
        "fulfillments": fulfillments or [],
        "refunds": [],
    }


def fulfillment_payload(
    *,
    fulfillment_id: int,
    order_id: int,
    name: str,
    items: list[Item],
    created_at: datetime,
    updated_at: datetime | None = None,
    status: str = "success",
    shipment_status: str | None = None,
    carrier: str = "Colissimo",
    tracking_number: str = "6A12345678901",
    tracking_url: str | None = None,
) -> dict[str, Any]:
    """A fulfillment as `fulfillments/create` and `fulfillments/update` send it."""
    url = tracking_url or f"https://www.laposte.fr/outils/suivre-vos-envois?code={tracking_number}"
    return {
        "id": fulfillment_id,
        "admin_graphql_api_id": f"gid://shopify/Fulfillment/{fulfillment_id}",
        "order_id": order_id,
        "name": name,
        "status": status,
        "shipment_status": shipment_status,
        "created_at": _ts(created_at),
        "updated_at": _ts(updated_at or created_at),
        "service": "manual",
        "tracking_company": carrier,
        "tracking_number": tracking_number,
        "tracking_numbers": [tracking_number],
        "tracking_url": url,
        "tracking_urls": [url],
        "location_id": None,
        "origin_address": None,
        "receipt": {},
        "line_items": [
            {
                "id": i.id,
                "title": i.title,
                "name": i.title,
                "quantity": i.quantity,
                "price": i.price,
                "product_id": i.product_id,
                "variant_id": i.variant_id,
                "sku": i.sku,
            }
            for i in items
        ],
    }


def fulfillment_event_payload(
    *,
    event_id: int,
    fulfillment_id: int,
    order_id: int,
    status: str,
    happened_at: datetime,
    message: str | None = None,
    city: str | None = None,
    estimated_delivery_at: datetime | None = None,
    shop_id: int = 548380009,
) -> dict[str, Any]:
    """A carrier event as `fulfillment_events/create` sends it."""
    return {
        "id": event_id,
        "admin_graphql_api_id": f"gid://shopify/FulfillmentEvent/{event_id}",
        "fulfillment_id": fulfillment_id,
        "order_id": order_id,
        "shop_id": shop_id,
        "status": status,
        "message": message,
        "happened_at": _ts(happened_at),
        "created_at": _ts(happened_at),
        "updated_at": _ts(happened_at),
        "city": city,
        "province": None,
        "country": "FR",
        "zip": None,
        "address1": None,
        "latitude": None,
        "longitude": None,
        "estimated_delivery_at": _ts(estimated_delivery_at) if estimated_delivery_at else None,
    }


def shop_payload(
    *,
    name: str,
    domain: str,
    email: str,
    locale: str = "fr",
    timezone: str = "Europe/Paris",
    currency: str = "EUR",
    updated_at: datetime | None = None,
) -> dict[str, Any]:
    """A shop as `shop/update` sends it."""
    return {
        "id": 548380009,
        "name": name,
        "email": email,
        "customer_email": email,
        "domain": domain,
        "primary_locale": locale,
        "iana_timezone": timezone,
        "timezone": "(GMT+01:00) Europe/Paris",
        "currency": currency,
        "country_code": "FR",
        "updated_at": _ts(updated_at) if updated_at else None,
    }


def later(start: datetime, hours: float) -> datetime:
    return start + timedelta(hours=hours)

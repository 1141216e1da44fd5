"""Bulk sample data for the storefront benchmarks: one shop and N orders with their
shipments and timelines, written straight into the tables (fast enough for a million)."""

from __future__ import annotations

import random
import secrets
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert

import plugin.model_registry  # noqa: F401  (every table)
from plugin.db import Base, Database
from plugin.models import Order, Shipment, Shop, TrackingEvent

SHOP_DOMAIN = "bench-shop.myshopify.com"
FIRST_NAMES = ["Camille", "Léa", "Hugo", "Louis", "Chloé", "Jules", "Alex", "Emma"]
CITIES = ["Lyon", "Paris", "Nantes", "Lille", "Bordeaux", "Marseille", "London", "Bruxelles"]
JOURNEY = ["shipped", "in_transit", "in_transit", "out_for_delivery", "delivered"]
T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)


def seed(db: Database, orders: int, *, batch: int = 20_000, seed_value: int = 7) -> list[str]:
    """Create the schema and ``orders`` orders; return a sample of their public ids."""
    rng = random.Random(seed_value)
    Base.metadata.create_all(db.engine)
    with db.transaction() as session:
        shop = Shop(
            domain=SHOP_DOMAIN,
            name="Maison Lumière",
            primary_domain="maison-lumiere.fr",
            contact_email="bonjour@maison-lumiere.fr",
            primary_locale="fr",
            iana_timezone="Europe/Paris",
            currency="EUR",
            country_code="FR",
            settings={
                "upsell": {"discount_code": "MERCI10", "fallback_collection": "best-sellers"},
                "branding": {"primary_color": "#5b3a29", "accent_color": "#2e7d5b"},
            },
        )
        session.add(shop)
        session.flush()
        shop_id = shop.id
    sample: list[str] = []
    shipment_id = 0
    started = time.perf_counter()
    for first in range(1, orders + 1, batch):
        order_rows: list[dict[str, Any]] = []
        shipment_rows: list[dict[str, Any]] = []
        event_rows: list[dict[str, Any]] = []
        for i in range(first, min(first + batch, orders + 1)):
            public_id = secrets.token_urlsafe(16)
            created = T0 + timedelta(minutes=i % 50_000)
            order_rows.append(_order(i, shop_id, public_id, created, rng))
            event_rows.append(_event(shop_id, i, None, f"o{i}", "ordered", created))
            for parcel in range(2 if i % 5 == 0 else 1):
                shipment_id += 1
                stage = rng.randrange(len(JOURNEY))
                shipment_rows.append(_shipment(shipment_id, shop_id, i, parcel, stage, created))
                for step in range(stage + 1):
                    event_rows.append(
                        _event(
                            shop_id,
                            i,
                            shipment_id,
                            f"s{shipment_id}-{step}",
                            JOURNEY[step],
                            created + timedelta(hours=6 + 14 * step),
                            city=rng.choice(CITIES),
                        )
                    )
            if rng.random() < 2_000 / orders:
                sample.append(public_id)
        with db.transaction() as session:
            session.execute(insert(Order), order_rows)
            session.execute(insert(Shipment), shipment_rows)
            session.execute(insert(TrackingEvent), event_rows)
        done = min(first + batch - 1, orders)
        print(f"  seeded {done:>9,} orders ({time.perf_counter() - started:.0f} s)", flush=True)
    return sample


def _order(i: int, shop_id: int, public_id: str, created: datetime, rng: random.Random) -> dict:
    return {
        "id": i,
        "shop_id": shop_id,
        "shopify_id": 10_000_000 + i,
        "is_complete": True,
        "name": f"#{1000 + i}",
        "order_number": 1000 + i,
        "locale": "fr" if i % 3 else "en-GB",
        "currency": "EUR",
        "total_price": Decimal("121.00"),
        "customer_shopify_id": 7_000_000 + i,
        "email": f"shopper{i}@example.fr",
        "phone": f"+336{i:08d}"[:12],
        "first_name": rng.choice(FIRST_NAMES),
        "ship_city": rng.choice(CITIES),
        "ship_zip": "69003",
        "ship_country_code": "FR",
        "delivery_method": "Colissimo Domicile",
        "line_items": [
            {
                "id": i * 10 + 1,
                "title": "Bougie Figuier",
                "quantity": 1,
                "price": "32.00",
                "product_id": 9001,
                "variant_id": 1,
                "sku": "BF-1",
            },
            {
                "id": i * 10 + 2,
                "title": "Plaid en lin sauge",
                "quantity": 1,
                "price": "89.00",
                "product_id": 9003,
                "variant_id": 2,
                "sku": "PL-1",
            },
        ],
        "email_marketing_consent": i % 2 == 0,
        "sms_marketing_consent": False,
        "financial_status": "paid",
        "shopify_created_at": created,
        "shopify_updated_at": created,
        "public_id": public_id,
        "created_at": created,
        "updated_at": created,
    }


def _shipment(
    sid: int, shop_id: int, order_id: int, parcel: int, stage: int, created: datetime
) -> dict:
    milestone = JOURNEY[stage]
    return {
        "id": sid,
        "shop_id": shop_id,
        "order_id": order_id,
        "shopify_fulfillment_id": sid,
        "name": f"#{1000 + order_id}.{parcel + 1}",
        "fulfillment_status": "success",
        "milestone": milestone,
        "milestone_at": created + timedelta(hours=6 + 14 * stage),
        "tracking_company": "Colissimo" if parcel == 0 else "Chronopost",
        "tracking_number": f"6A{sid:011d}",
        "tracking_url": f"https://www.laposte.fr/outils/suivre-vos-envois?code=6A{sid:011d}",
        "estimated_delivery_at": created + timedelta(days=3),
        "line_items": [{"id": order_id * 10 + 1 + parcel, "quantity": 1}],
        "shipped_at": created + timedelta(hours=6),
        "delivered_at": created + timedelta(hours=62) if milestone == "delivered" else None,
        "created_at": created,
        "updated_at": created,
    }


def _event(
    shop_id: int,
    order_id: int,
    shipment_id: int | None,
    key: str,
    milestone: str,
    at: datetime,
    *,
    city: str | None = None,
) -> dict:
    return {
        "shop_id": shop_id,
        "order_id": order_id,
        "shipment_id": shipment_id,
        "dedupe_key": key,
        "source": "fulfillment_event" if shipment_id else "order",
        "milestone": milestone,
        "raw_status": milestone,
        "message": None,
        "city": city,
        "happened_at": at,
        "created_at": at,
    }

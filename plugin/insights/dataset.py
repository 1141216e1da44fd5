"""A generated dataset for one shop: orders, shipments, messages, clicks, views, ratings and
attributions over ``days`` days (tests and the benchmark)."""

from __future__ import annotations

import random
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from frontend.models import ShipmentFeedback
from plugin.insights.models import InsightEvent, OrderAttribution
from plugin.models import Order, Shipment
from plugin.notifications.models import NotificationMessage

CHANNELS = ("email", "sms", "whatsapp", "wallet")
STATUSES = (None, "delivered", "opened", "clicked", "read", "bounced")
MILESTONES = (
    "shipped",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "ready_for_pickup",
    "attempted_delivery",
)


def _batches(conn: Connection, table: Any, rows: list[dict[str, Any]], size: int = 5000) -> None:
    for i in range(0, len(rows), size):
        conn.execute(insert(table), rows[i : i + size])


def generate(
    conn: Connection,
    shop_id: int,
    *,
    now: datetime,
    days: int = 90,
    orders: int = 200,
    messages: int = 2000,
    seed: int = 7,
) -> dict[str, int]:
    rnd = random.Random(seed)
    start = now - timedelta(days=days)

    def when() -> datetime:
        return start + timedelta(seconds=rnd.randrange(int((now - start).total_seconds())))

    order_rows, shipment_rows = [], []
    base_id = rnd.randrange(10**9, 10**10)
    for i in range(orders):
        created = when()
        order_rows.append(
            {
                "shop_id": shop_id,
                "shopify_id": base_id + i,
                "is_complete": True,
                "name": f"#{1000 + i}",
                "currency": "EUR",
                "total_price": Decimal(rnd.randrange(1000, 30000)) / 100,
                "public_id": secrets.token_urlsafe(12),
                "shopify_created_at": created,
                "line_items": [],
                "created_at": created,
                "updated_at": created,
            }
        )
    _batches(conn, Order.__table__, order_rows)
    ids = [
        r[0]
        for r in conn.execute(
            Order.__table__.select().with_only_columns(Order.id).where(Order.shop_id == shop_id)
        )
    ]
    for n, order_id in enumerate(ids):
        at = when()
        shipment_rows.append(
            {
                "shop_id": shop_id,
                "order_id": order_id,
                "shopify_fulfillment_id": base_id + n,
                "milestone": rnd.choice(MILESTONES),
                "milestone_at": at,
                "estimated_delivery_at": at + timedelta(days=rnd.randrange(-3, 5)),
                "tracking_company": "Colissimo",
                "tracking_number": f"6A{n:09d}",
                "line_items": [],
                "created_at": at,
                "updated_at": at,
            }
        )
    _batches(conn, Shipment.__table__, shipment_rows)
    shipment_ids = [
        r[0]
        for r in conn.execute(
            Shipment.__table__.select()
            .with_only_columns(Shipment.id, Shipment.order_id)
            .where(Shipment.shop_id == shop_id)
        )
    ]
    shipments = list(
        conn.execute(
            Shipment.__table__.select()
            .with_only_columns(Shipment.id, Shipment.order_id)
            .where(Shipment.shop_id == shop_id)
        )
    )
    del shipment_ids
    message_rows = []
    for n in range(messages):
        created = when()
        message_rows.append(
            {
                "shop_id": shop_id,
                "dedupe_key": f"gen:{seed}:{shop_id}:{n}",
                "kind": "milestone",
                "milestone": rnd.choice(MILESTONES),
                "channel": rnd.choice(CHANNELS),
                "locale": "fr",
                "state": rnd.choice(("sent", "sent", "sent", "failed", "skipped")),
                "delivery_status": rnd.choice(STATUSES),
                "not_before": created,
                "attempts": 1,
                "created_at": created,
                "updated_at": created,
            }
        )
        if len(message_rows) >= 20000:
            _batches(conn, NotificationMessage.__table__, message_rows, 20000)
            message_rows = []
    _batches(conn, NotificationMessage.__table__, message_rows, 20000)
    first_message = conn.execute(
        NotificationMessage.__table__.select()
        .with_only_columns(NotificationMessage.id)
        .where(NotificationMessage.shop_id == shop_id)
        .order_by(NotificationMessage.id)
        .limit(1)
    ).scalar_one()
    events = []
    for _ in range(max(messages // 10, 50)):
        kind = rnd.choice(("click", "click", "page_view", "upsell_view"))
        events.append(
            {
                "shop_id": shop_id,
                "kind": kind,
                "happened_at": when(),
                "message_id": first_message + rnd.randrange(messages) if kind == "click" else None,
                "channel": rnd.choice(CHANNELS),
                "campaign": rnd.choice(("shipped", "delivered", "upsell")),
            }
        )
    _batches(conn, InsightEvent.__table__, events)
    feedback, attributions = [], []
    for shipment_id, order_id in shipments:
        if rnd.random() < 0.5:
            at = when()
            feedback.append(
                {
                    "shop_id": shop_id,
                    "order_id": order_id,
                    "shipment_id": shipment_id,
                    "rating": rnd.randint(1, 5),
                    "scale": "stars",
                    "created_at": at,
                    "updated_at": at,
                }
            )
        if rnd.random() < 0.3:
            code = rnd.random() < 0.5
            attributions.append(
                {
                    "order_id": order_id,
                    "shop_id": shop_id,
                    "source": "discount_code" if code else "link",
                    "channel": None if code else rnd.choice(CHANNELS),
                    "campaign": "upsell" if code else rnd.choice(("shipped", "delivered")),
                    "discount_code": "MERCI10" if code else None,
                    "currency": "EUR",
                    "revenue": Decimal(rnd.randrange(1000, 30000)) / 100,
                    "ordered_at": when(),
                    "created_at": now,
                }
            )
    _batches(conn, ShipmentFeedback.__table__, feedback)
    _batches(conn, OrderAttribution.__table__, attributions)
    return {"orders": len(ids), "messages": messages, "events": len(events)}


def utc(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)

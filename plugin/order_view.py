"""An order as Relais sees it, for support and operators (``relais order show``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from plugin.digits import ascii_int
from plugin.links import (
    standalone_tracking_link,
    tracking_link,
    wallet_order_link,
    wallet_pass_link,
)
from plugin.models import Order, Shipment, Shop, TrackingEvent
from plugin.runtime import Runtime


class OrderNotFound(LookupError):
    """No such shop or order."""


def describe_order(runtime: Runtime, shop_domain: str, order_ref: str) -> dict[str, Any]:
    """Everything Relais holds about one order, as plain JSON-ready data."""
    domain = shop_domain if "." in shop_domain else f"{shop_domain}.myshopify.com"
    with runtime.db.session() as session:
        shop = session.scalar(select(Shop).where(Shop.domain == domain))
        if shop is None:
            raise OrderNotFound(f"no shop {domain}")
        ref = order_ref.strip()
        conditions = [Order.name == ref, Order.name == f"#{ref.lstrip('#')}"]
        number = ascii_int(ref)
        if number is not None:
            conditions.append(Order.shopify_id == number)
        order = session.scalar(
            select(Order).where(Order.shop_id == shop.id, or_(*conditions)).limit(1)
        )
        if order is None:
            raise OrderNotFound(f"no order {order_ref} in {domain}")
        shipments = list(
            session.scalars(
                select(Shipment).where(Shipment.order_id == order.id).order_by(Shipment.id)
            )
        )
        events = list(
            session.scalars(
                select(TrackingEvent)
                .where(TrackingEvent.order_id == order.id)
                .order_by(TrackingEvent.happened_at, TrackingEvent.id)
            )
        )
        view: dict[str, Any] = {
            "shop": shop.domain,
            "order": {
                "name": order.name,
                "shopify_id": order.shopify_id,
                "complete": order.is_complete,
                "locale": order.locale,
                "currency": order.currency,
                "total_price": str(order.total_price) if order.total_price is not None else None,
                "first_name": order.first_name,
                "city": order.ship_city,
                "delivery_method": order.delivery_method,
                "pickup_point": order.pickup_point,
                "cancelled_at": _iso(order.cancelled_at),
                "redacted": order.redacted_at is not None,
                "items": [
                    {"title": i.get("title"), "quantity": i.get("quantity")}
                    for i in order.line_items
                ],
            },
            "shipments": [
                {
                    "name": s.name,
                    "fulfillment_id": s.shopify_fulfillment_id,
                    "milestone": s.milestone,
                    "milestone_at": _iso(s.milestone_at),
                    "shopify_status": s.shipment_status or s.fulfillment_status,
                    "carrier": s.tracking_company,
                    "tracking_number": s.tracking_number,
                    "tracking_url": s.tracking_url,
                    "estimated_delivery_at": _iso(s.estimated_delivery_at),
                    "delivered_at": _iso(s.delivered_at),
                }
                for s in shipments
            ],
            "timeline": [
                {
                    "at": _iso(e.happened_at),
                    "shipment": next((s.name for s in shipments if s.id == e.shipment_id), None),
                    "milestone": e.milestone,
                    "shopify_status": e.raw_status,
                    "message": e.message,
                    "source": e.source,
                }
                for e in events
            ],
            "messages": [],
            "links": shopper_links(runtime, shop, order),
        }
        for section in runtime.order_sections:
            view[section.name] = section.describe(session, order.id)
    return view


def shopper_links(runtime: Runtime, shop: Shop, order: Order) -> dict[str, str]:
    """The links a shopper receives for this order."""
    config = runtime.config
    return {
        "tracking_page": tracking_link(
            config, shop.domain, order.public_id, host=shop.primary_domain
        ),
        "tracking_page_standalone": standalone_tracking_link(config, shop.domain, order.public_id),
        "wallet_pass": wallet_pass_link(config, shop.domain, order.public_id),
        "wallet_order": wallet_order_link(config, shop.domain, order.public_id),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def render_text(view: dict[str, Any]) -> str:
    """A human-readable rendering of :func:`describe_order`."""
    order = view["order"]
    lines = [
        f"Order {order['name'] or order['shopify_id']} — {view['shop']}",
        f"  customer: {order['first_name'] or '-'} ({order['city'] or '-'}),"
        f" locale {order['locale'] or '-'}",
        f"  delivery: {order['delivery_method'] or '-'}"
        + (f" → pickup at {order['pickup_point']['name']}" if order["pickup_point"] else ""),
    ]
    if order["cancelled_at"]:
        lines.append(f"  CANCELLED at {order['cancelled_at']}")
    if order["redacted"]:
        lines.append("  personal data redacted")
    lines.append(f"  shipments ({len(view['shipments'])}):")
    for s in view["shipments"]:
        lines.append(
            f"    {s['name'] or s['fulfillment_id']}: {s['milestone']}"
            f" since {s['milestone_at'] or '-'}"
            f" · {s['carrier'] or '-'} {s['tracking_number'] or ''}".rstrip()
        )
    lines.append("  timeline:")
    for e in view["timeline"]:
        label = e["milestone"] or f"(unknown status {e['shopify_status']})"
        lines.append(f"    {e['at']}  {e['shipment'] or 'order':<10} {label}")
    messages = view.get("messages") or []
    lines.append(f"  messages sent: {len(messages)}")
    for m in messages:
        if isinstance(m, dict):
            m = "  ".join(f"{k}={v}" for k, v in m.items() if v not in (None, "", [], {}))
        lines.append(f"    {m}")
    wallet = view.get("wallet")
    if wallet:
        devices = ", ".join(f"{n} {kind}" for kind, n in wallet["registrations"].items())
        lines.append(
            f"  wallet: pass {wallet['serial_number']}, devices {devices},"
            f" last update {wallet['last_update']}"
        )
    lines.append("  links:")
    for name, url in view["links"].items():
        lines.append(f"    {name}: {url}")
    return "\n".join(lines)

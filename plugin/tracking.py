"""The tracking domain: apply what Shopify says about orders and shipments.

Every function takes a session inside a transaction and plain snapshots (dataclasses), never
a payload dict or a request: webhooks, the Admin API backfill and the tests all come
through here. Deliveries arrive late, twice and out of order, so every write is guarded by
the timestamp of what it applies and by unique keys.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from plugin.events import announce_again, record_milestone
from plugin.milestones import (
    PROGRESS,
    Milestone,
    from_fulfillment_status,
    from_shopify_status,
)
from plugin.models import Order, Shipment, Shop, TrackingEvent
from plugin.upsert import insert_once

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LineItem:
    shopify_id: int | None
    title: str
    quantity: int
    variant_title: str | None = None
    price: str | None = None
    product_id: int | None = None
    variant_id: int | None = None
    sku: str | None = None
    image_url: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.shopify_id,
            "title": self.title,
            "variant_title": self.variant_title,
            "quantity": self.quantity,
            "price": self.price,
            "product_id": self.product_id,
            "variant_id": self.variant_id,
            "sku": self.sku,
            "image_url": self.image_url,
        }


@dataclass(frozen=True)
class PickupPoint:
    """Where a parcel waits for the shopper (a relay shop, a locker)."""

    name: str
    address1: str | None
    zip: str | None
    city: str | None
    country_code: str | None
    hours: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "address1": self.address1,
            "zip": self.zip,
            "city": self.city,
            "country_code": self.country_code,
            "hours": self.hours,
        }


@dataclass(frozen=True)
class FulfillmentSnapshot:
    """What one payload says about a fulfillment (a shipment)."""

    shopify_id: int
    order_shopify_id: int
    status: str | None
    shipment_status: str | None
    updated_at: datetime
    created_at: datetime | None = None
    name: str | None = None
    tracking_company: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    estimated_delivery_at: datetime | None = None
    line_items: tuple[LineItem, ...] = ()


@dataclass(frozen=True)
class OrderSnapshot:
    """What one payload says about an order (personal data already reduced)."""

    shopify_id: int
    updated_at: datetime
    name: str | None = None
    order_number: int | None = None
    created_at: datetime | None = None
    locale: str | None = None
    currency: str | None = None
    total_price: Decimal | None = None
    customer_shopify_id: int | None = None
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    ship_city: str | None = None
    ship_zip: str | None = None
    ship_province_code: str | None = None
    ship_country_code: str | None = None
    delivery_method: str | None = None
    pickup_point: PickupPoint | None = None
    line_items: tuple[LineItem, ...] = ()
    email_marketing_consent: bool = False
    sms_marketing_consent: bool = False
    financial_status: str | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    fulfillments: tuple[FulfillmentSnapshot, ...] = field(default=())
    # Where the shopper came from and the codes used: attribution reads them, not stored.
    landing_site: str | None = None
    referring_site: str | None = None
    discount_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class FulfillmentEventSnapshot:
    """One carrier event of a fulfillment."""

    shopify_id: int
    fulfillment_shopify_id: int
    order_shopify_id: int
    status: str | None
    happened_at: datetime
    message: str | None = None
    city: str | None = None
    country_code: str | None = None
    estimated_delivery_at: datetime | None = None


@dataclass(frozen=True)
class ShopSnapshot:
    """What `shop/update` (or the Admin API) says about a shop."""

    domain: str
    updated_at: datetime | None
    shopify_id: int | None = None
    name: str | None = None
    primary_domain: str | None = None
    contact_email: str | None = None
    primary_locale: str | None = None
    iana_timezone: str | None = None
    currency: str | None = None
    country_code: str | None = None


@dataclass
class Outcome:
    """What applying one snapshot changed, for logs and tests."""

    order_id: int | None = None
    applied: bool = False
    milestones: list[tuple[int | None, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --- shops -------------------------------------------------------------------------------


def ensure_shop(session: Session, domain: str) -> Shop:
    """The shop row for ``domain``, created on first sight (installs arrive as webhooks too)."""
    insert_once(session, Shop, {"domain": domain, "settings": {}}, conflict_columns=["domain"])
    shop = session.scalar(select(Shop).where(Shop.domain == domain))
    assert shop is not None
    return shop


def apply_shop(session: Session, snapshot: ShopSnapshot) -> Shop:
    """Update a shop's details unless a newer update was already applied."""
    shop = ensure_shop(session, snapshot.domain)
    if snapshot.updated_at and shop.shop_updated_at and snapshot.updated_at < shop.shop_updated_at:
        return shop
    for name in (
        "shopify_id",
        "name",
        "primary_domain",
        "contact_email",
        "primary_locale",
        "iana_timezone",
        "currency",
        "country_code",
    ):
        value = getattr(snapshot, name)
        if value is not None:
            setattr(shop, name, value)
    if snapshot.updated_at:
        shop.shop_updated_at = snapshot.updated_at
    return shop


def mark_uninstalled(session: Session, shop: Shop, at: datetime) -> None:
    shop.uninstalled_at = at


def mark_installed(session: Session, shop: Shop) -> None:
    shop.uninstalled_at = None


# --- orders ------------------------------------------------------------------------------


def _lock_order(session: Session, shop: Shop, order_shopify_id: int) -> tuple[Order, bool]:
    """The order row, created as a placeholder if unknown, locked for this transaction; and
    whether this call created it."""
    created = insert_once(
        session,
        Order,
        {
            "shop_id": shop.id,
            "shopify_id": order_shopify_id,
            "is_complete": False,
            "public_id": secrets.token_urlsafe(16),
            "line_items": [],
        },
        conflict_columns=["shop_id", "shopify_id"],
    )
    order = session.scalar(
        select(Order)
        .where(Order.shop_id == shop.id, Order.shopify_id == order_shopify_id)
        .with_for_update()
    )
    assert order is not None
    return order, created is not None


def apply_order(session: Session, shop: Shop, snapshot: OrderSnapshot) -> Outcome:
    """Apply an order payload (create, update, cancel, fulfilled...) and its fulfillments."""
    order, created = _lock_order(session, shop, snapshot.shopify_id)
    # A placeholder from an earlier transaction: a fulfillment's webhook came first.
    came_after_its_fulfillment = not created and not order.is_complete
    outcome = Outcome(order_id=order.id)
    is_older = (
        order.shopify_updated_at is not None and snapshot.updated_at < order.shopify_updated_at
    )
    if is_older:
        outcome.notes.append("order payload older than the stored one: order fields kept")
    else:
        _copy_order_fields(order, snapshot)
        outcome.applied = True
        if came_after_its_fulfillment:
            announce_again(session, order.id)
        ordered_at = snapshot.created_at or snapshot.updated_at
        if _add_timeline(
            session,
            order,
            None,
            dedupe_key="order:ordered",
            source="order",
            milestone=Milestone.ORDERED,
            raw_status="ordered",
            happened_at=ordered_at,
        ):
            _announce(session, order, None, Milestone.ORDERED, ordered_at, "order:ordered", outcome)
        if snapshot.cancelled_at is not None:
            _cancel(session, order, snapshot.cancelled_at, outcome)
    for fulfillment in snapshot.fulfillments:
        outcome.milestones += apply_fulfillment(session, shop, fulfillment, order=order).milestones
    return outcome


def _copy_order_fields(order: Order, snapshot: OrderSnapshot) -> None:
    order.is_complete = True
    order.name = snapshot.name
    order.order_number = snapshot.order_number
    order.locale = snapshot.locale
    order.currency = snapshot.currency
    order.total_price = snapshot.total_price
    order.customer_shopify_id = snapshot.customer_shopify_id
    order.email = snapshot.email
    order.phone = snapshot.phone
    order.first_name = snapshot.first_name
    order.ship_city = snapshot.ship_city
    order.ship_zip = snapshot.ship_zip
    order.ship_province_code = snapshot.ship_province_code
    order.ship_country_code = snapshot.ship_country_code
    order.delivery_method = snapshot.delivery_method
    order.pickup_point = snapshot.pickup_point.as_json() if snapshot.pickup_point else None
    order.line_items = [item.as_json() for item in snapshot.line_items]
    order.email_marketing_consent = snapshot.email_marketing_consent
    order.sms_marketing_consent = snapshot.sms_marketing_consent
    order.financial_status = snapshot.financial_status
    order.cancel_reason = snapshot.cancel_reason
    order.shopify_created_at = snapshot.created_at
    order.shopify_updated_at = snapshot.updated_at
    if snapshot.cancelled_at is None:
        order.cancelled_at = None


def _cancel(session: Session, order: Order, at: datetime, outcome: Outcome) -> None:
    order.cancelled_at = at
    if _add_timeline(
        session,
        order,
        None,
        dedupe_key="order:cancelled",
        source="order",
        milestone=Milestone.CANCELLED,
        raw_status="cancelled",
        happened_at=at,
    ):
        _announce(session, order, None, Milestone.CANCELLED, at, "order:cancelled", outcome)


# --- shipments ---------------------------------------------------------------------------


def apply_fulfillment(
    session: Session,
    shop: Shop,
    snapshot: FulfillmentSnapshot,
    *,
    order: Order | None = None,
) -> Outcome:
    """Create or update the shipment of one fulfillment; move its milestone if newer."""
    if order is None:
        order, _ = _lock_order(session, shop, snapshot.order_shopify_id)
    outcome = Outcome(order_id=order.id)
    shipment = _ensure_shipment(session, shop, order, snapshot.shopify_id)
    is_older = (
        shipment.shopify_updated_at is not None
        and snapshot.updated_at < shipment.shopify_updated_at
    )
    if is_older:
        outcome.notes.append("fulfillment payload older than the stored one: ignored")
        return outcome
    outcome.applied = True
    shipment.shopify_updated_at = snapshot.updated_at
    shipment.name = snapshot.name or shipment.name
    shipment.fulfillment_status = snapshot.status
    shipment.shipment_status = snapshot.shipment_status
    shipment.tracking_company = snapshot.tracking_company or shipment.tracking_company
    shipment.tracking_number = snapshot.tracking_number or shipment.tracking_number
    shipment.tracking_url = snapshot.tracking_url or shipment.tracking_url
    if snapshot.estimated_delivery_at:
        shipment.estimated_delivery_at = snapshot.estimated_delivery_at
    if snapshot.line_items:
        shipment.line_items = [item.as_json() for item in snapshot.line_items]

    # A cancelled fulfillment trumps the carrier status; otherwise the carrier's word wins.
    fulfillment_milestone = from_fulfillment_status(snapshot.status)
    if fulfillment_milestone == Milestone.CANCELLED or not snapshot.shipment_status:
        milestone, raw = fulfillment_milestone, snapshot.status
    else:
        milestone, raw = from_shopify_status(snapshot.shipment_status), snapshot.shipment_status
    happened_at = (
        snapshot.created_at
        if shipment.milestone_at is None and snapshot.created_at and not snapshot.shipment_status
        else snapshot.updated_at
    )
    if milestone is None:
        outcome.notes.append(f"unknown status {raw!r} kept on the shipment")
        _add_timeline(
            session,
            order,
            shipment,
            dedupe_key=f"fulfillment:{snapshot.shopify_id}:{raw}:{happened_at.isoformat()}",
            source="fulfillment",
            milestone=None,
            raw_status=raw,
            happened_at=happened_at,
        )
        return outcome
    # A fulfillment update that repeats the shipment's current milestone (Shopify sends one
    # with every carrier event) adds no line to the timeline.
    if milestone != shipment.milestone or shipment.milestone_at is None:
        key = f"fulfillment:{snapshot.shopify_id}:{milestone.value}:{happened_at.isoformat()}"
        _move_shipment(session, order, shipment, milestone, raw, happened_at, key, outcome)
    return outcome


def _ensure_shipment(session: Session, shop: Shop, order: Order, fulfillment_id: int) -> Shipment:
    insert_once(
        session,
        Shipment,
        {
            "shop_id": shop.id,
            "order_id": order.id,
            "shopify_fulfillment_id": fulfillment_id,
            "milestone": Milestone.LABEL_CREATED.value,
            "line_items": [],
        },
        conflict_columns=["shop_id", "shopify_fulfillment_id"],
    )
    shipment = session.scalar(
        select(Shipment).where(
            Shipment.shop_id == shop.id, Shipment.shopify_fulfillment_id == fulfillment_id
        )
    )
    assert shipment is not None
    return shipment


def apply_fulfillment_event(
    session: Session, shop: Shop, snapshot: FulfillmentEventSnapshot
) -> Outcome:
    """Add a carrier event to the timeline (once) and move the shipment if it is the newest."""
    order, _ = _lock_order(session, shop, snapshot.order_shopify_id)
    outcome = Outcome(order_id=order.id, applied=True)
    shipment = _ensure_shipment(session, shop, order, snapshot.fulfillment_shopify_id)
    milestone = from_shopify_status(snapshot.status)
    key = f"event:{snapshot.shopify_id}"
    added = _add_timeline(
        session,
        order,
        shipment,
        dedupe_key=key,
        source="fulfillment_event",
        milestone=milestone,
        raw_status=snapshot.status,
        happened_at=snapshot.happened_at,
        shopify_event_id=snapshot.shopify_id,
        message=snapshot.message,
        city=snapshot.city,
        country_code=snapshot.country_code,
        estimated_delivery_at=snapshot.estimated_delivery_at,
    )
    if not added:
        outcome.applied = False
        outcome.notes.append("event already on the timeline")
        return outcome
    if milestone is None:
        outcome.notes.append(f"unknown status {snapshot.status!r} kept on the timeline")
        return outcome
    if _is_newer(shipment, milestone, snapshot.happened_at):
        if snapshot.estimated_delivery_at:
            shipment.estimated_delivery_at = snapshot.estimated_delivery_at
        _move_shipment(
            session,
            order,
            shipment,
            milestone,
            snapshot.status,
            snapshot.happened_at,
            key,
            outcome,
            add_line=False,
        )
    else:
        outcome.notes.append("older event: timeline updated, shipment milestone kept")
    return outcome


def delete_fulfillment_event(
    session: Session, shop: Shop, *, event_shopify_id: int, order_shopify_id: int
) -> Outcome:
    """Remove a carrier event Shopify deleted; the shipment falls back to its newest event."""
    order, _ = _lock_order(session, shop, order_shopify_id)
    outcome = Outcome(order_id=order.id)
    event = session.scalar(
        select(TrackingEvent).where(
            TrackingEvent.order_id == order.id, TrackingEvent.shopify_event_id == event_shopify_id
        )
    )
    if event is None:
        outcome.notes.append("event not on the timeline")
        return outcome
    shipment_id = event.shipment_id
    session.execute(delete(TrackingEvent).where(TrackingEvent.id == event.id))
    outcome.applied = True
    if shipment_id is not None:
        shipment = session.get(Shipment, shipment_id)
        if shipment is not None:
            _recompute_milestone(session, shipment)
    return outcome


def _recompute_milestone(session: Session, shipment: Shipment) -> None:
    latest = session.scalar(
        select(TrackingEvent)
        .where(TrackingEvent.shipment_id == shipment.id, TrackingEvent.milestone.is_not(None))
        .order_by(TrackingEvent.happened_at.desc(), TrackingEvent.id.desc())
        .limit(1)
    )
    if latest is not None and latest.milestone is not None:
        shipment.milestone = latest.milestone
        shipment.milestone_at = latest.happened_at
        return
    fallback = from_shopify_status(shipment.shipment_status) or from_fulfillment_status(
        shipment.fulfillment_status
    )
    shipment.milestone = (fallback or Milestone.LABEL_CREATED).value
    shipment.milestone_at = None


def _is_newer(shipment: Shipment, milestone: Milestone, at: datetime) -> bool:
    if shipment.milestone_at is None:
        return True
    if at != shipment.milestone_at:
        return at > shipment.milestone_at
    # Same instant (Shopify rounds to the second): the further step of the journey wins.
    return PROGRESS.get(milestone, 0) > PROGRESS.get(Milestone(shipment.milestone), 0)


def _move_shipment(
    session: Session,
    order: Order,
    shipment: Shipment,
    milestone: Milestone,
    raw_status: str | None,
    happened_at: datetime,
    key: str,
    outcome: Outcome,
    *,
    add_line: bool = True,
) -> None:
    if not _is_newer(shipment, milestone, happened_at):
        outcome.notes.append(f"{milestone.value} older than the shipment's milestone: kept")
        # A late status still belongs in the history, once.
        if add_line and not _has_line(session, shipment, milestone):
            _add_timeline(
                session,
                order,
                shipment,
                dedupe_key=key,
                source="fulfillment",
                milestone=milestone,
                raw_status=raw_status,
                happened_at=happened_at,
            )
        return
    if add_line:
        _add_timeline(
            session,
            order,
            shipment,
            dedupe_key=key,
            source="fulfillment",
            milestone=milestone,
            raw_status=raw_status,
            happened_at=happened_at,
        )
    changed = milestone.value != shipment.milestone or shipment.milestone_at is None
    shipment.milestone = milestone.value
    shipment.milestone_at = happened_at
    reached_shipping = PROGRESS.get(milestone, 0) >= PROGRESS[Milestone.SHIPPED]
    if reached_shipping and milestone != Milestone.CANCELLED and shipment.shipped_at is None:
        shipment.shipped_at = happened_at
    if milestone == Milestone.DELIVERED:
        shipment.delivered_at = happened_at
    if changed:
        _announce(session, order, shipment, milestone, happened_at, key, outcome)


def _has_line(session: Session, shipment: Shipment, milestone: Milestone) -> bool:
    return (
        session.scalar(
            select(TrackingEvent.id)
            .where(
                TrackingEvent.shipment_id == shipment.id,
                TrackingEvent.milestone == milestone.value,
            )
            .limit(1)
        )
        is not None
    )


def _add_timeline(
    session: Session,
    order: Order,
    shipment: Shipment | None,
    *,
    dedupe_key: str,
    source: str,
    milestone: Milestone | None,
    raw_status: str | None,
    happened_at: datetime,
    shopify_event_id: int | None = None,
    message: str | None = None,
    city: str | None = None,
    country_code: str | None = None,
    estimated_delivery_at: datetime | None = None,
) -> bool:
    """Insert one timeline line unless its dedupe key is there; True if inserted."""
    new_id = insert_once(
        session,
        TrackingEvent,
        {
            "shop_id": order.shop_id,
            "order_id": order.id,
            "shipment_id": shipment.id if shipment else None,
            "dedupe_key": dedupe_key[:128],
            "source": source,
            "shopify_event_id": shopify_event_id,
            "milestone": milestone.value if milestone else None,
            "raw_status": (raw_status or "")[:64] or None,
            "message": message,
            "city": city,
            "country_code": (country_code or "")[:2] or None,
            "estimated_delivery_at": estimated_delivery_at,
            "happened_at": happened_at,
        },
        conflict_columns=["order_id", "dedupe_key"],
    )
    return new_id is not None


def _announce(
    session: Session,
    order: Order,
    shipment: Shipment | None,
    milestone: Milestone,
    at: datetime,
    key: str,
    outcome: Outcome,
) -> None:
    record_milestone(
        session,
        shop_id=order.shop_id,
        order_id=order.id,
        shipment_id=shipment.id if shipment else None,
        milestone=milestone,
        happened_at=at,
        dedupe_key=f"{order.id}:{shipment.id if shipment else '-'}:{key}",
    )
    outcome.milestones.append((shipment.id if shipment else None, milestone.value))

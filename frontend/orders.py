"""Reading orders for the storefront: by signed reference, by number and contact, and
recording the shopper's delivery rating."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

import phonenumbers
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from frontend.models import ShipmentFeedback
from frontend.page import DELIVERED, LoadedOrder, as_milestone
from plugin.db import utcnow
from plugin.links import OrderRef
from plugin.models import Order, Shipment, Shop, TrackingEvent
from plugin.upsert import insert_once

# Compared against when no order matches, so that a miss costs what a wrong contact costs.
_DUMMY_DIGEST = hashlib.sha256(b"relais:no-such-order").digest()


@dataclass(frozen=True)
class _Contact:
    email: str | None
    phone: str | None
    ship_country_code: str | None


_STAND_IN = _Contact("no-such-order@relais.invalid", "+33100000000", "FR")
_ORDER_NUMBER = re.compile(r"^#?\s*([A-Za-z0-9-]{1,40})$")
MAX_CANDIDATES = 5


def installed_shop(session: Session, shop_domain: str) -> Shop | None:
    """The shop for ``shop_domain`` while Relais is installed there."""
    return session.scalar(
        select(Shop).where(Shop.domain == shop_domain, Shop.uninstalled_at.is_(None))
    )


def load_order(session: Session, ref: OrderRef) -> LoadedOrder | None:
    """The order a token names, with its shipments, timeline and ratings (four queries)."""
    row = session.execute(
        select(Order, Shop)
        .join(Shop, Shop.id == Order.shop_id)
        .where(
            Order.public_id == ref.public_id,
            Shop.domain == ref.shop_domain,
            Shop.uninstalled_at.is_(None),
            Order.redacted_at.is_(None),
        )
    ).first()
    if row is None:
        return None
    order, shop = row
    shipments = list(
        session.scalars(select(Shipment).where(Shipment.order_id == order.id).order_by(Shipment.id))
    )
    events = list(
        session.scalars(
            select(TrackingEvent)
            .where(TrackingEvent.order_id == order.id)
            .order_by(TrackingEvent.happened_at.desc())
            .limit(200)
        )
    )
    ratings: dict[int, int] = {}
    if any(as_milestone(s.milestone) in DELIVERED for s in shipments):
        rows = session.execute(
            select(ShipmentFeedback.shipment_id, ShipmentFeedback.rating).where(
                ShipmentFeedback.order_id == order.id
            )
        )
        ratings = {shipment_id: rating for shipment_id, rating in rows}
    return LoadedOrder(order=order, shop=shop, shipments=shipments, events=events, ratings=ratings)


@dataclass(frozen=True)
class LookupQuery:
    order_number: str
    contact: str


def normalise_order_names(raw: str) -> list[str]:
    """The names an order number may be stored under: ``1001`` → ``#1001``, ``1001``."""
    match = _ORDER_NUMBER.match(raw.strip())
    if not match:
        return []
    bare = match.group(1)
    return [f"#{bare}", bare]


def contact_digests(contact: str, default_region: str | None) -> list[bytes]:
    """Digests of the ways a shopper may type their email or phone, for constant-time checks."""
    value = contact.strip()
    if not value:
        return []
    if "@" in value:
        return [_digest(value.casefold())]
    digests = []
    phone = _e164(value, default_region)
    if phone:
        digests.append(_digest(phone))
    return digests


def _e164(raw: str, region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(raw, (region or "FR").upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


def find_order(session: Session, shop: Shop, query: LookupQuery) -> Order | None:
    """The order of ``shop`` with this number whose email or phone matches ``query.contact``.

    The same query runs and the same comparisons are made whether the order exists or not,
    and every comparison is constant-time, so the answer's timing tells nothing.
    """
    names = normalise_order_names(query.order_number) or ["#"]
    candidates = list(
        session.scalars(
            select(Order)
            .where(
                Order.shop_id == shop.id,
                Order.name.in_(names),
                Order.redacted_at.is_(None),
            )
            .limit(MAX_CANDIDATES)
        )
    )
    given = contact_digests(query.contact, shop.country_code)
    probes = given or [_DUMMY_DIGEST]
    found: Order | None = None
    rows: list[Order | None] = list(candidates) or [None]
    for order in rows:
        # A miss hashes a stand-in contact, so it costs what a real order costs.
        stored = _stored_digests(order or _STAND_IN, shop.country_code) or [_DUMMY_DIGEST]
        match = False
        for probe in probes:
            for digest in stored:
                match |= hmac.compare_digest(probe, digest)
        if match and given and order is not None and found is None:
            found = order
    return found


def _stored_digests(order: Order | _Contact, region: str | None) -> list[bytes]:
    digests = []
    if order.email:
        digests.append(_digest(order.email.strip().casefold()))
    if order.phone:
        phone = _e164(order.phone, order.ship_country_code or region)
        if phone:
            digests.append(_digest(phone))
    return digests


def record_rating(session: Session, order: Order, shipment_id: int, rating: int) -> bool:
    """Store a 1 to 5 rating of a delivered shipment of ``order``; a new tap replaces it."""
    return record_answer(session, order, shipment_id, rating, scale="stars") is not None


def record_answer(
    session: Session,
    order: Order,
    shipment_id: int,
    rating: int,
    *,
    scale: str,
    channel: str | None = None,
    comment: str | None = None,
) -> ShipmentFeedback | None:
    """Store the shopper's answer for a delivered shipment of ``order``; a new tap replaces it.

    ``scale`` is ``stars`` (1 to 5) or ``nps`` (0 to 10). A comment, when given, replaces the
    previous one. None when the shipment is not one of the order's delivered shipments or
    the rating is outside the scale.
    """
    from plugin.insights.feedback import COMMENT_MAX, valid_score

    if not valid_score(scale, rating) or not 0 <= shipment_id < 2**63:
        return None
    shipment = session.scalar(
        select(Shipment).where(Shipment.id == shipment_id, Shipment.order_id == order.id)
    )
    if shipment is None or as_milestone(shipment.milestone) not in DELIVERED:
        return None
    now = utcnow()
    text = (comment or "").strip()[:COMMENT_MAX] or None
    values = {"rating": rating, "scale": scale, "updated_at": now}
    if channel:
        values["channel"] = channel[:16]
    if text:
        values["comment"] = text
    inserted = insert_once(
        session,
        ShipmentFeedback,
        {
            "shop_id": order.shop_id,
            "order_id": order.id,
            "shipment_id": shipment.id,
            "created_at": now,
            "comment": text,
            "channel": channel[:16] if channel else None,
            **values,
        },
        conflict_columns=["shipment_id"],
    )
    if not inserted:
        session.execute(
            update(ShipmentFeedback)
            .where(ShipmentFeedback.shipment_id == shipment.id)
            .values(**values)
        )
    return session.scalar(
        select(ShipmentFeedback)
        .where(ShipmentFeedback.shipment_id == shipment.id)
        .execution_options(populate_existing=True)
    )


def order_for_ref(session: Session, ref: OrderRef) -> Order | None:
    """Just the order a token names (for writes), under the same rules as :func:`load_order`."""
    return session.scalar(
        select(Order)
        .join(Shop, Shop.id == Order.shop_id)
        .where(
            Order.public_id == ref.public_id,
            Shop.domain == ref.shop_domain,
            Shop.uninstalled_at.is_(None),
            Order.redacted_at.is_(None),
        )
    )

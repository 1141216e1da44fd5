"""Shopify's compliance topics: export, redact a customer, erase a shop.

Other packages that keep personal data (messages, Wallet registrations, feedback) take part
through :class:`PersonalDataHolder`; the app factory lists them in the runtime.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.models import DataExport, Order, Shipment, Shop, TrackingEvent, WebhookDelivery
from plugin.upsert import insert_once

REDACTED = None


@dataclass(frozen=True)
class CustomerRef:
    """Who a compliance request is about."""

    shop_domain: str
    customer_shopify_id: int | None
    email: str | None
    phone: str | None
    order_shopify_ids: tuple[int, ...] = ()

    def identifying_values(self) -> list[str]:
        values = [self.email, self.phone]
        if self.customer_shopify_id is not None:
            values.append(str(self.customer_shopify_id))
        return [v for v in values if v]


class PersonalDataHolder(Protocol):
    """A package that stores personal data tied to orders."""

    name: str

    def export(self, session: Session, shop_id: int, order_ids: Sequence[int]) -> Any:
        """JSON-ready data held about these orders."""

    def redact(self, session: Session, shop_id: int, order_ids: Sequence[int]) -> None:
        """Erase personal data tied to these orders."""


def customer_order_ids(session: Session, shop_id: int, ref: CustomerRef) -> list[int]:
    """Relais ids of every order of this customer: by customer id, email, phone or order id."""
    conditions = []
    if ref.customer_shopify_id is not None:
        conditions.append(Order.customer_shopify_id == ref.customer_shopify_id)
    if ref.email:
        conditions.append(Order.email == ref.email)
    if ref.phone:
        conditions.append(Order.phone == ref.phone)
    if ref.order_shopify_ids:
        conditions.append(Order.shopify_id.in_(ref.order_shopify_ids))
    if not conditions:
        return []
    return list(session.scalars(select(Order.id).where(Order.shop_id == shop_id, or_(*conditions))))


def export_customer(
    session: Session,
    shop: Shop,
    ref: CustomerRef,
    data_request_id: int,
    holders: Sequence[PersonalDataHolder] = (),
) -> int:
    """Store an export of everything held about a customer; returns the export's id."""
    order_ids = customer_order_ids(session, shop.id, ref)
    orders = session.scalars(select(Order).where(Order.id.in_(order_ids)).order_by(Order.id))
    content: dict[str, Any] = {
        "shop": shop.domain,
        "customer": {"id": ref.customer_shopify_id, "email": ref.email, "phone": ref.phone},
        "generated_at": utcnow().isoformat(),
        "orders": [_order_export(session, order) for order in orders],
    }
    for holder in holders:
        content[holder.name] = holder.export(session, shop.id, order_ids)
    insert_once(
        session,
        DataExport,
        {
            "shop_id": shop.id,
            "data_request_id": data_request_id,
            "customer_shopify_id": ref.customer_shopify_id,
            "content": content,
            "created_at": utcnow(),
        },
        conflict_columns=["shop_id", "data_request_id"],
    )
    export_id = session.scalar(
        select(DataExport.id).where(
            DataExport.shop_id == shop.id, DataExport.data_request_id == data_request_id
        )
    )
    assert export_id is not None
    return export_id


def _order_export(session: Session, order: Order) -> dict[str, Any]:
    shipments = session.scalars(select(Shipment).where(Shipment.order_id == order.id))
    events = session.scalars(
        select(TrackingEvent)
        .where(TrackingEvent.order_id == order.id)
        .order_by(TrackingEvent.happened_at)
    )
    return {
        "id": order.shopify_id,
        "name": order.name,
        "email": order.email,
        "phone": order.phone,
        "first_name": order.first_name,
        "city": order.ship_city,
        "zip": order.ship_zip,
        "country_code": order.ship_country_code,
        "locale": order.locale,
        "pickup_point": order.pickup_point,
        "email_marketing_consent": order.email_marketing_consent,
        "sms_marketing_consent": order.sms_marketing_consent,
        "line_items": order.line_items,
        "shipments": [
            {
                "name": s.name,
                "milestone": s.milestone,
                "carrier": s.tracking_company,
                "tracking_number": s.tracking_number,
            }
            for s in shipments
        ],
        "timeline": [
            {"milestone": e.milestone, "status": e.raw_status, "at": e.happened_at.isoformat()}
            for e in events
        ],
    }


def redact_customer(
    session: Session,
    shop: Shop,
    ref: CustomerRef,
    holders: Sequence[PersonalDataHolder] = (),
) -> int:
    """Erase a customer's personal data everywhere; orders stay, anonymised. Returns count."""
    order_ids = customer_order_ids(session, shop.id, ref)
    if order_ids:
        session.execute(
            update(Order)
            .where(Order.id.in_(order_ids))
            .values(
                email=REDACTED,
                phone=REDACTED,
                first_name=REDACTED,
                customer_shopify_id=REDACTED,
                ship_city=REDACTED,
                ship_zip=REDACTED,
                ship_province_code=REDACTED,
                pickup_point=REDACTED,
                redacted_at=utcnow(),
            )
        )
        session.execute(
            update(TrackingEvent)
            .where(TrackingEvent.order_id.in_(order_ids))
            .values(city=REDACTED, message=REDACTED)
        )
        for holder in holders:
            holder.redact(session, shop.id, order_ids)
    if ref.customer_shopify_id is not None:
        session.execute(
            delete(DataExport).where(
                DataExport.shop_id == shop.id,
                DataExport.customer_shopify_id == ref.customer_shopify_id,
            )
        )
    _scrub_stored_payloads(session, shop.domain, ref.identifying_values())
    return len(order_ids)


def _scrub_stored_payloads(session: Session, shop_domain: str, values: Sequence[str]) -> None:
    """Drop unprocessed or failed payloads that mention the customer (kept only for replay)."""
    if not values:
        return
    mentions = or_(*[WebhookDelivery.payload.contains(value) for value in values])
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.shop_domain == shop_domain,
            WebhookDelivery.payload.is_not(None),
            mentions,
        )
        .values(payload=None, error="payload erased by customers/redact")
    )


def redact_shop(
    session: Session, shop_domain: str, holders: Sequence[PersonalDataHolder] = ()
) -> bool:
    """Delete everything Relais holds about a shop (48 hours after uninstall, per Shopify)."""
    shop = session.scalar(select(Shop).where(Shop.domain == shop_domain))
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.shop_domain == shop_domain)
        .values(payload=None)
    )
    if shop is None:
        return False
    # Holders erase what the cascade below does not reach (the notification outbox).
    order_ids = list(session.scalars(select(Order.id).where(Order.shop_id == shop.id)))
    for holder in holders:
        holder.redact(session, shop.id, order_ids)
    # Tables reference shops with ON DELETE CASCADE, so one delete erases the shop's data.
    session.execute(delete(Shop).where(Shop.id == shop.id))
    return True

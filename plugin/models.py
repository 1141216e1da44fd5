"""The tables of Relais.

Personal data is kept to what the product needs: how to reach the shopper (email, phone),
how to greet them (first name), where the parcel goes at city level (for time zones and the
tracking page), their language and consents. Street addresses, last names and raw payloads
are not kept once a webhook is processed.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plugin.db import Base, BigIntPK, UTCDateTime, utcnow


class Shop(Base):
    """A Shopify shop that installed Relais."""

    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)  # x.myshopify.com
    shopify_id: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str | None] = mapped_column(String(255))
    primary_domain: Mapped[str | None] = mapped_column(String(255))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    primary_locale: Mapped[str] = mapped_column(String(16), default="fr")
    iana_timezone: Mapped[str] = mapped_column(String(64), default="Europe/Paris")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    country_code: Mapped[str | None] = mapped_column(String(2))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shop_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def is_installed(self) -> bool:
        return self.uninstalled_at is None


class Order(Base):
    """A Shopify order as Relais needs it."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("shop_id", "shopify_id"),
        Index("ix_orders_shop_name", "shop_id", "name"),
        Index("ix_orders_shop_customer", "shop_id", "customer_shopify_id"),
        Index("ix_orders_shop_email", "shop_id", "email"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    shopify_id: Mapped[int] = mapped_column(BigInteger)
    # False while only a fulfillment has told us the order exists (webhooks arrive out of order).
    is_complete: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str | None] = mapped_column(String(64))
    order_number: Mapped[int | None] = mapped_column(BigInteger)
    locale: Mapped[str | None] = mapped_column(String(16))
    currency: Mapped[str | None] = mapped_column(String(3))
    total_price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    customer_shopify_id: Mapped[int | None] = mapped_column(BigInteger)
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    first_name: Mapped[str | None] = mapped_column(String(128))
    ship_city: Mapped[str | None] = mapped_column(String(128))
    ship_zip: Mapped[str | None] = mapped_column(String(32))
    ship_province_code: Mapped[str | None] = mapped_column(String(16))
    ship_country_code: Mapped[str | None] = mapped_column(String(2))
    delivery_method: Mapped[str | None] = mapped_column(String(255))
    # Pickup point (a shop or locker, not the shopper's home): name, address, hours.
    pickup_point: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    line_items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    email_marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    sms_marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    financial_status: Mapped[str | None] = mapped_column(String(32))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(64))
    shopify_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The `updated_at` of the newest order payload applied: older ones are ignored.
    shopify_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Random, public and stable: names the order in links without revealing its number.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    shop: Mapped[Shop] = relationship()
    shipments: Mapped[list[Shipment]] = relationship(
        back_populates="order", order_by="Shipment.id", cascade="all, delete-orphan"
    )


class Shipment(Base):
    """One Shopify fulfillment: a parcel (or a pickup) with its own milestones."""

    __tablename__ = "shipments"
    __table_args__ = (
        UniqueConstraint("shop_id", "shopify_fulfillment_id"),
        Index("ix_shipments_order", "order_id"),
        Index("ix_shipments_shop_milestone", "shop_id", "milestone"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    shopify_fulfillment_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str | None] = mapped_column(String(64))
    fulfillment_status: Mapped[str | None] = mapped_column(String(32))
    shipment_status: Mapped[str | None] = mapped_column(String(64))  # Shopify's raw value
    milestone: Mapped[str] = mapped_column(String(32), default="label_created")
    # When the current milestone happened: an older status never replaces a newer one.
    milestone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shopify_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tracking_company: Mapped[str | None] = mapped_column(String(128))
    tracking_number: Mapped[str | None] = mapped_column(String(128))
    tracking_url: Mapped[str | None] = mapped_column(Text)
    estimated_delivery_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    line_items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    order: Mapped[Order] = relationship(back_populates="shipments")
    events: Mapped[list[TrackingEvent]] = relationship(
        order_by="TrackingEvent.happened_at", viewonly=True
    )


class TrackingEvent(Base):
    """One line of an order's timeline; ``dedupe_key`` makes a repeated event one line."""

    __tablename__ = "tracking_events"
    __table_args__ = (
        UniqueConstraint("order_id", "dedupe_key"),
        Index("ix_tracking_events_shipment", "shipment_id", "happened_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(32))  # order | fulfillment | fulfillment_event
    shopify_event_id: Mapped[int | None] = mapped_column(BigInteger)
    milestone: Mapped[str | None] = mapped_column(String(32))  # None when the status is unknown
    raw_status: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(String(128))
    country_code: Mapped[str | None] = mapped_column(String(2))
    estimated_delivery_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    happened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """Every webhook Shopify delivered, deduplicated on its webhook id.

    The payload is kept only until it is processed (or while it failed, for a replay):
    afterwards the row keeps only what an operator needs to follow a delivery.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_status", "status", "received_at"),
        Index("ix_webhook_deliveries_shop", "shop_domain", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(String(128), unique=True)
    topic: Mapped[str] = mapped_column(String(64))
    shop_domain: Mapped[str] = mapped_column(String(255))
    api_version: Mapped[str | None] = mapped_column(String(16))
    event_id: Mapped[str | None] = mapped_column(String(128))
    triggered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="received")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[str | None] = mapped_column(Text)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    payload_bytes: Mapped[int] = mapped_column(Integer)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DomainEvent(Base):
    """ "This shipment reached this milestone", recorded in the same transaction as the change.

    Subscribers (notifications, Wallet, analytics) get a job per event; ``dispatched_at``
    is set once those jobs are queued, and the sweeper queues the ones a crash left behind.
    """

    __tablename__ = "domain_events"
    __table_args__ = (
        UniqueConstraint("dedupe_key"),
        Index("ix_domain_events_pending", "dispatched_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    milestone: Mapped[str] = mapped_column(String(32))
    happened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    dedupe_key: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DataExport(Base):
    """What Relais holds about one customer, built for a `customers/data_request`."""

    __tablename__ = "data_exports"
    __table_args__ = (UniqueConstraint("shop_id", "data_request_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    data_request_id: Mapped[int] = mapped_column(BigInteger)
    customer_shopify_id: Mapped[int | None] = mapped_column(BigInteger)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

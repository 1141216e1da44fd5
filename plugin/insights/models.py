"""The tables of insights: what shoppers did with Relais's links and pages, and the orders
those links and codes brought in."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Index, Numeric, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, BigIntPK, UTCDateTime, utcnow


class EventKind:
    CLICK = "click"  # a Relais link went through the redirect
    PAGE_VIEW = "page_view"  # the tracking page was shown
    UPSELL_VIEW = "upsell_view"  # the upsell block was shown with products


class InsightEvent(Base):
    """One click, tracking page view or upsell view (append-only, counted on the dashboard)."""

    __tablename__ = "insight_events"
    __table_args__ = (
        Index("ix_insight_events_shop_kind_at", "shop_id", "kind", "happened_at"),
        Index("ix_insight_events_message", "message_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(BigInteger)  # the notification message
    channel: Mapped[str | None] = mapped_column(String(16))  # utm_medium
    campaign: Mapped[str | None] = mapped_column(String(32))  # utm_campaign (milestone)
    happened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OrderAttribution(Base):
    """An order that came from a Relais link or used a Relais discount code (one per order)."""

    __tablename__ = "order_attributions"
    __table_args__ = (Index("ix_order_attributions_shop_at", "shop_id", "ordered_at"),)

    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))  # link | discount_code
    channel: Mapped[str | None] = mapped_column(String(16))
    campaign: Mapped[str | None] = mapped_column(String(32))
    discount_code: Mapped[str | None] = mapped_column(String(255))
    currency: Mapped[str] = mapped_column(String(3))
    revenue: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RelaisDiscountCode(Base):
    """A discount code Relais created in the shop through the Admin API."""

    __tablename__ = "relais_discount_codes"
    __table_args__ = (Index("ix_relais_discount_codes_shop_code", "shop_id", "code", unique=True),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(255))
    shopify_gid: Mapped[str | None] = mapped_column(String(255))
    percentage: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FeedbackAlert(Base):
    """A low score told to the merchant's support inbox (once per answer and score)."""

    __tablename__ = "feedback_alerts"
    __table_args__ = (Index("ix_feedback_alerts_once", "feedback_id", "rating", unique=True),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    feedback_id: Mapped[int] = mapped_column(ForeignKey("shipment_feedback.id", ondelete="CASCADE"))
    rating: Mapped[int] = mapped_column(SmallInteger)
    recipient: Mapped[str | None] = mapped_column(String(320))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

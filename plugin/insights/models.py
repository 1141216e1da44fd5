"""The tables of insights: what shoppers did with Relais's links and pages, and the orders
those links and codes brought in."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
)
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


class DiscountCodeState:
    """pending (queued, or waiting for a retry) → created | refused (Shopify said why)."""

    PENDING = "pending"
    CREATED = "created"
    REFUSED = "refused"


class RelaisDiscountCode(Base):
    """A discount code Relais creates in the shop through the Admin API: one per campaign."""

    __tablename__ = "relais_discount_codes"
    __table_args__ = (
        Index("ix_relais_discount_codes_shop_code", "shop_id", "code", unique=True),
        Index("ix_relais_discount_codes_shop_campaign", "shop_id", "campaign", unique=True),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    campaign: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(255))
    shopify_gid: Mapped[str | None] = mapped_column(String(255))
    percentage: Mapped[int | None] = mapped_column(SmallInteger)
    state: Mapped[str] = mapped_column(String(16), default=DiscountCodeState.PENDING)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DailyEvents(Base):
    """Clicks and views of one local day of a shop; its row marks the day as computed.

    The dashboard's rollup (this table, :class:`DailyMessageFigures`, :class:`DailyRatings`)
    is recomputed from the raw rows for any day they changed since the last refresh (see
    :mod:`plugin.insights.rollup`), so it always equals them.
    """

    __tablename__ = "insight_daily_events"

    shop_id: Mapped[int] = mapped_column(
        ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    link_clicks: Mapped[int] = mapped_column(Integer, default=0)
    page_views: Mapped[int] = mapped_column(Integer, default=0)
    upsell_views: Mapped[int] = mapped_column(Integer, default=0)
    upsell_clicks: Mapped[int] = mapped_column(Integer, default=0)


class DailyRatings(Base):
    """Answers first given one local day, per scale and (latest) score."""

    __tablename__ = "insight_daily_ratings"

    shop_id: Mapped[int] = mapped_column(
        ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    scale: Mapped[str] = mapped_column(String(8), primary_key=True)
    rating: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    answers: Mapped[int] = mapped_column(Integer, default=0)


class DailyMessageFigures(Base):
    """Messages created one local day on one channel and sent: sent, delivered, opened,
    clicked (channels without a sent message have no row)."""

    __tablename__ = "insight_daily_messages"

    shop_id: Mapped[int] = mapped_column(
        ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    opened: Mapped[int] = mapped_column(Integer, default=0)
    clicked: Mapped[int] = mapped_column(Integer, default=0)


class RollupWatermark(Base):
    """Per shop: the time zone its daily rollup is keyed in, and when it was last refreshed."""

    __tablename__ = "insight_rollup_watermarks"

    shop_id: Mapped[int] = mapped_column(
        ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    timezone: Mapped[str] = mapped_column(String(64))
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


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

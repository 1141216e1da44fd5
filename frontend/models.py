"""Tables owned by the storefront: the shopper's delivery rating."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, BigIntPK, UTCDateTime, utcnow


class ShipmentFeedback(Base):
    """The shopper's rating of one delivered shipment (1 to 5 stars, or 0 to 10 for NPS) with an
    optional comment; a second answer replaces the first."""

    __tablename__ = "shipment_feedback"
    __table_args__ = (
        UniqueConstraint("shipment_id"),
        Index("ix_shipment_feedback_shop", "shop_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    rating: Mapped[int] = mapped_column(SmallInteger)
    scale: Mapped[str] = mapped_column(String(8), default="stars")  # stars | nps
    comment: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(16))  # where the answer came from
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

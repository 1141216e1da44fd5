"""The tables of notifications: messages and their states, settings, copy, opt-outs, outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, BigIntPK, UTCDateTime, utcnow


class MessageState:
    """queued → sending → sent | failed | skipped (with the reason)."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    FINAL = frozenset({SENT, FAILED, SKIPPED})


class MessageKind:
    MILESTONE = "milestone"  # a shipment or an order reached a milestone
    FORWARD = "forward"  # a shopper's reply, forwarded to the merchant's support inbox
    ACKNOWLEDGEMENT = "ack"  # "we got your message", to the shopper


class NotificationMessage(Base):
    """One message on one channel; ``dedupe_key`` makes it exist once however often jobs run.

    For milestones the key is order, shipment, milestone and channel: at most one message
    per shipment, milestone and channel.
    """

    __tablename__ = "notification_messages"
    __table_args__ = (
        UniqueConstraint("dedupe_key"),
        Index("ix_notification_messages_due", "state", "not_before"),
        # INCLUDE: the dashboard's daily rollup counts a day's messages from the index alone.
        Index(
            "ix_notification_messages_shop_state",
            "shop_id",
            "state",
            "created_at",
            postgresql_include=["channel", "delivery_status", "id"],
        ),
        # The dashboard's rollup finds the days whose messages changed since its refresh.
        Index("ix_notification_messages_shop_updated", "shop_id", "updated_at"),
        Index("ix_notification_messages_order", "order_id"),
        Index("ix_notification_messages_provider", "provider_id"),
        Index("ix_notification_messages_recipient", "shop_id", "recipient"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(BigInteger)  # the DomainEvent behind it
    dedupe_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default=MessageKind.MILESTONE)
    milestone: Mapped[str | None] = mapped_column(String(32))
    # When the milestone happened: a newer one on the shipment overtakes this message.
    milestone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str | None] = mapped_column(String(320))  # email or E.164 phone
    promotional: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default=MessageState.QUEUED)
    reason: Mapped[str | None] = mapped_column(Text)  # why skipped or failed (or last error)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # While "sending", the attempt owns the row until then; past it, the attempt is presumed
    # dead and the next one first asks the provider whether the message was accepted.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempt_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    in_doubt: Mapped[bool] = mapped_column(Boolean, default=False)
    provider: Mapped[str | None] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(String(128))
    # What the provider said afterwards: delivered, opened, clicked, bounced, spam_report...
    delivery_status: Mapped[str | None] = mapped_column(String(32))
    delivery_detail: Mapped[str | None] = mapped_column(Text)
    delivery_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    subject: Mapped[str | None] = mapped_column(Text)
    body_text: Mapped[str | None] = mapped_column(Text)  # the SMS, or the email's text part
    segments: Mapped[int | None] = mapped_column(Integer)
    encoding: Mapped[str | None] = mapped_column(String(8))  # GSM-7 | UCS-2
    # For forwards and acknowledgements: what the shopper wrote (until redacted).
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class NotificationSuppression(Base):
    """An address that must not get more messages from a shop: STOP, bounce, spam report."""

    __tablename__ = "notification_suppressions"
    __table_args__ = (UniqueConstraint("shop_id", "channel", "address"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))  # email | sms | whatsapp
    address: Mapped[str] = mapped_column(String(320))  # lower-cased email or E.164 phone
    reason: Mapped[str] = mapped_column(String(32))  # stop | bounce | spam_report | ...
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationSettingsRow(Base):
    """A shop's notification settings as JSON (see :mod:`plugin.notifications.settings`)."""

    __tablename__ = "notification_settings"

    shop_id: Mapped[int] = mapped_column(
        ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class NotificationTemplate(Base):
    """The merchant's own copy for one milestone, channel and language (checked when saved)."""

    __tablename__ = "notification_templates"
    __table_args__ = (UniqueConstraint("shop_id", "milestone", "channel", "locale"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    milestone: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str | None] = mapped_column(Text)  # email only
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class OutboxEntry(Base):
    """What an outbox transport captured instead of sending (development, demo, tests)."""

    __tablename__ = "notification_outbox"
    __table_args__ = (Index("ix_notification_outbox_created", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    provider_id: Mapped[str] = mapped_column(String(40))  # "outbox-…", as a provider's id
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(320))
    sender: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

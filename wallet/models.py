"""The Wallet tables: one pass per order, the devices registered for it, and the update
counter whose value is the tag devices send back when they ask what changed.

An order has one :class:`WalletPass` row, created the first time its pass or its Wallet
order is downloaded. The row serves both documents: ``serial_number`` is the pass's
serial number and the order's ``orderIdentifier``, ``authentication_token`` authenticates
the device for both, ``update_seq`` and ``updated_at`` move forward together on every
change. Neither the serial number nor the token ever changes: Wallet refuses an update
that does.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, BigIntPK, UTCDateTime, utcnow

PASS = "pass"  # noqa: S105 - a kind of document, not a secret
ORDER = "order"
KINDS = (PASS, ORDER)


class WalletPass(Base):
    """The Wallet identity of one order (see the module docstring)."""

    __tablename__ = "wallet_passes"
    __table_args__ = (
        UniqueConstraint("order_id"),
        UniqueConstraint("serial_number"),
        Index("ix_wallet_passes_update_seq", "update_seq"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    serial_number: Mapped[str] = mapped_column(String(64))
    authentication_token: Mapped[str] = mapped_column(String(64))
    # The value of the update counter when this row last changed: what "updated since
    # tag" compares. Taken from one counter row, so commits happen in counter order.
    update_seq: Mapped[int] = mapped_column(BigInteger)
    # The order's `updatedAt` and the packages' Last-Modified: whole seconds, strictly
    # increasing (wallet.orders.next_updated_at).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WalletRegistration(Base):
    """A device that asked to hear about one pass (``kind="pass"``) or order (``"order"``).

    ``push_token`` is personal data tied to the order: exported and erased with it.
    """

    __tablename__ = "wallet_registrations"
    __table_args__ = (
        UniqueConstraint("kind", "device_identifier", "wallet_pass_id"),
        Index("ix_wallet_registrations_pass", "wallet_pass_id"),
        Index("ix_wallet_registrations_shop", "shop_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    wallet_pass_id: Mapped[int] = mapped_column(ForeignKey("wallet_passes.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    device_identifier: Mapped[str] = mapped_column(String(255))
    push_token: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WalletUpdateCounter(Base):
    """One row whose value grows by one on every Wallet update (see ``wallet.service``)."""

    __tablename__ = "wallet_update_counter"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)

"""Tables of the merchant's admin: channel credentials (encrypted) and set-up checks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, UTCDateTime, utcnow


class ShopChannelCredentials(Base):
    """A shop's own account on one channel (SendGrid, Twilio SMS, WhatsApp, Wallet).

    ``secrets_encrypted`` holds the API keys, tokens and private keys (JSON, encrypted with
    the token key); ``details`` holds what is not secret and shows in the admin (sender,
    template ids, certificate expiry).
    """

    __tablename__ = "shop_channel_credentials"

    shop_id: Mapped[int] = mapped_column(
        ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    secrets_encrypted: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ShopSetupCheck(Base):
    """The last result of a set-up check that needs an outside call (app proxy, sender)."""

    __tablename__ = "shop_setup_checks"

    shop_id: Mapped[int] = mapped_column(
        ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    # A message key of plugin.admin.i18n and its arguments: shown in the merchant's language.
    detail: Mapped[str] = mapped_column(String(64))
    detail_args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

"""The channels a message can go out on."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """Where a shopper hears from the shop."""

    WALLET = "wallet"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    EMAIL = "email"


# SMS and WhatsApp reach a phone in a pocket: they respect quiet hours and STOP.
PHONE_CHANNELS = frozenset({Channel.SMS, Channel.WHATSAPP})

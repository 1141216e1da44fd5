"""Operator settings of notifications (not the merchant's: those are in settings.py), taken
from :class:`~plugin.config.Config` (``NOTIFICATIONS_FROM_EMAIL``, ``TWILIO_SMS_FROM``,
``TWILIO_WHATSAPP_FROM``, ``SENDGRID_WEBHOOK_PUBLIC_KEY``, ``NOTIFICATIONS_SEND_TIMEOUT``,
``NOTIFICATIONS_LEASE_SECONDS``, ``NOTIFICATIONS_MAX_ATTEMPTS``; see README.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from plugin.config import Config
from plugin.errors import ConfigError

# Waits between attempts after a transient failure (a 429's Retry-After can ask for more).
BACKOFF_SECONDS = (10, 60, 300, 900, 3600)


@dataclass(frozen=True)
class NotificationOptions:
    from_email: str
    sms_sender: str | None = None
    whatsapp_sender: str | None = None
    sendgrid_webhook_public_key: str | None = None
    send_timeout: float = 10.0
    lease_seconds: float = 30.0
    max_attempts: int = 6

    @classmethod
    def from_config(cls, config: Config) -> NotificationOptions:
        """The options of ``config`` (checked by :meth:`Config.validate`)."""
        host = urlsplit(config.app_url).hostname or "localhost"
        options = cls(
            from_email=config.notifications_from_email or f"notifications@{host}",
            sms_sender=config.twilio_sms_from,
            whatsapp_sender=config.twilio_whatsapp_from,
            sendgrid_webhook_public_key=config.sendgrid_webhook_public_key,
            send_timeout=config.notifications_send_timeout,
            lease_seconds=config.notifications_lease_seconds,
            max_attempts=config.notifications_max_attempts,
        )
        if options.lease_seconds <= options.send_timeout:
            raise ConfigError("NOTIFICATIONS_LEASE_SECONDS must exceed NOTIFICATIONS_SEND_TIMEOUT")
        return options

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1`` after a transient failure."""
        return float(BACKOFF_SECONDS[min(max(attempt, 1), len(BACKOFF_SECONDS)) - 1])

"""Operator settings of notifications (not the merchant's: those are in settings.py).

Read from ``Config.extra`` first, then from the environment (not in tests):

- ``NOTIFICATIONS_FROM_EMAIL``: default sender address (default ``notifications@<APP_URL host>``)
- ``TWILIO_SMS_FROM``: default SMS sender (a number, an alphanumeric id or an ``MG…`` service)
- ``TWILIO_WHATSAPP_FROM``: default WhatsApp sender number
- ``SENDGRID_WEBHOOK_PUBLIC_KEY``: the Event Webhook verification key (base64 DER)
- ``NOTIFICATIONS_SEND_TIMEOUT``: seconds allowed to each provider call (default 10)
- ``NOTIFICATIONS_LEASE_SECONDS``: how long a send attempt owns its message (default 30)
- ``NOTIFICATIONS_MAX_ATTEMPTS``: attempts before a message is marked failed (default 6)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
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
        source: Mapping[str, str] = (
            dict(config.extra) if config.testing else {**os.environ, **config.extra}
        )
        host = urlsplit(config.app_url).hostname or "localhost"
        try:
            options = cls(
                from_email=source.get("NOTIFICATIONS_FROM_EMAIL") or f"notifications@{host}",
                sms_sender=source.get("TWILIO_SMS_FROM") or None,
                whatsapp_sender=source.get("TWILIO_WHATSAPP_FROM") or None,
                sendgrid_webhook_public_key=source.get("SENDGRID_WEBHOOK_PUBLIC_KEY") or None,
                send_timeout=float(source.get("NOTIFICATIONS_SEND_TIMEOUT") or 10.0),
                lease_seconds=float(source.get("NOTIFICATIONS_LEASE_SECONDS") or 30.0),
                max_attempts=int(source.get("NOTIFICATIONS_MAX_ATTEMPTS") or 6),
            )
        except ValueError as exc:
            raise ConfigError(f"invalid notifications setting: {exc}") from exc
        if options.lease_seconds <= options.send_timeout:
            raise ConfigError("NOTIFICATIONS_LEASE_SECONDS must exceed NOTIFICATIONS_SEND_TIMEOUT")
        return options

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1`` after a transient failure."""
        return float(BACKOFF_SECONDS[min(max(attempt, 1), len(BACKOFF_SECONDS)) - 1])

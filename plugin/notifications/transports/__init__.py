"""Transports: one interface per kind of channel, one implementation per provider.

Email: SendGrid, SMTP, outbox. SMS and WhatsApp: Twilio, outbox. ``EMAIL_BACKEND`` and
``SMS_BACKEND`` choose; the outbox stores messages in a table for development and the demo.
"""

from __future__ import annotations

from plugin.config import Config
from plugin.db import Database
from plugin.notifications.transports.base import (
    Accepted,
    EmailTransport,
    OutgoingEmail,
    OutgoingText,
    PermanentSendError,
    SendError,
    TextTransport,
    TransientSendError,
)

__all__ = [
    "Accepted",
    "EmailTransport",
    "OutgoingEmail",
    "OutgoingText",
    "PermanentSendError",
    "SendError",
    "TextTransport",
    "TransientSendError",
    "build_email_transport",
    "build_text_transport",
]


def build_email_transport(config: Config, db: Database, *, timeout: float) -> EmailTransport:
    """The email transport ``EMAIL_BACKEND`` names."""
    if config.email_backend == "sendgrid":
        from plugin.notifications.transports.sendgrid import SendGridTransport

        assert config.sendgrid_api_key  # Config.validate() insists
        return SendGridTransport(
            config.sendgrid_api_key, host=config.sendgrid_host, timeout=timeout
        )
    if config.email_backend == "smtp":
        from plugin.notifications.transports.smtp import SmtpTransport

        assert config.smtp_url
        return SmtpTransport(config.smtp_url, timeout=timeout)
    from plugin.notifications.transports.outbox import OutboxEmailTransport

    return OutboxEmailTransport(db)


def build_text_transport(config: Config, db: Database, *, timeout: float) -> TextTransport:
    """The SMS and WhatsApp transport ``SMS_BACKEND`` names."""
    if config.sms_backend == "twilio":
        from plugin.notifications.transports.twilio import TwilioTransport

        assert config.twilio_account_sid and config.twilio_auth_token
        return TwilioTransport(
            config.twilio_account_sid,
            config.twilio_auth_token,
            base_url=config.twilio_base_url,
            timeout=timeout,
        )
    from plugin.notifications.transports.outbox import OutboxTextTransport

    return OutboxTextTransport(db)

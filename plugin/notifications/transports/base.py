"""What every transport takes, returns and raises: one interface per kind of channel.

A transport only talks to its provider. Deciding what to send, when and to whom, and
recording the outcome belong to the callers (:mod:`plugin.notifications.delivery`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class OutgoingEmail:
    """An email ready to leave: both parts rendered, addresses checked."""

    message_id: int  # Relais' message id, echoed back by the provider's events
    to: str
    from_email: str
    from_name: str
    reply_to: str | None
    subject: str
    html: str
    text: str
    categories: tuple[str, ...] = ()
    custom_args: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OutgoingText:
    """An SMS or a WhatsApp message ready to leave.

    WhatsApp messages that open a conversation name an approved template (``content_sid``
    and its ``content_variables``); a reply inside the 24-hour window may be free text.
    """

    message_id: int
    channel: str  # "sms" | "whatsapp"
    to: str  # E.164
    sender: str | None  # a number, an alphanumeric sender id or a messaging service (MG...)
    body: str | None = None
    content_sid: str | None = None
    content_variables: Mapping[str, str] = field(default_factory=dict)
    status_callback: str | None = None
    preview: str | None = None  # the template's text filled in, for the outbox; never sent


@dataclass(frozen=True)
class Accepted:
    """The provider took the message; ``provider_id`` names it in its callbacks."""

    provider_id: str | None


class SendError(Exception):
    """A send did not go through; ``reason`` is short enough to show a merchant."""

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class TransientSendError(SendError):
    """Worth trying again later: a timeout, a 5xx, a 429.

    ``retry_after`` is the provider's own hint in seconds (429 Retry-After). When
    ``maybe_accepted`` is true the request may have reached the provider (the answer was
    lost), so the next attempt must first ask whether it was accepted.
    """

    def __init__(
        self,
        reason: str,
        *,
        code: str | None = None,
        retry_after: float | None = None,
        maybe_accepted: bool = False,
    ) -> None:
        super().__init__(reason, code=code)
        self.retry_after = retry_after
        self.maybe_accepted = maybe_accepted


class PermanentSendError(SendError):
    """Trying again will not help: a 4xx, an invalid number, an unsubscribed recipient."""

    def __init__(self, reason: str, *, code: str | None = None, unsubscribed: bool = False) -> None:
        super().__init__(reason, code=code)
        self.unsubscribed = unsubscribed


class EmailTransport(Protocol):
    """Sends emails (SendGrid, SMTP, the outbox)."""

    name: str

    def send(self, email: OutgoingEmail) -> Accepted:
        """Hand the email to the provider, within a bounded time, or raise a SendError."""

    def find_accepted(self, email: OutgoingEmail, since: datetime) -> Accepted | None:
        """After a crash or a lost answer: did the provider accept this email? None if unknown."""


class TextTransport(Protocol):
    """Sends SMS and WhatsApp messages (Twilio, the outbox)."""

    name: str

    def send(self, text: OutgoingText) -> Accepted:
        """Hand the message to the provider, within a bounded time, or raise a SendError."""

    def find_accepted(self, text: OutgoingText, since: datetime) -> Accepted | None:
        """After a crash or a lost answer: did the provider accept this message?"""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from plugin.db import utcnow

    return max(0.0, (when - utcnow()).total_seconds())

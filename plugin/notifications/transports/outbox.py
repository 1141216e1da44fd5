"""Outbox transports: capture messages in a table instead of sending them.

Used in development, the demo and tests. The table is shared by every process, so
``relais outbox`` shows what a worker "sent".
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from plugin.db import Database, utcnow
from plugin.notifications.models import OutboxEntry
from plugin.notifications.transports.base import Accepted, OutgoingEmail, OutgoingText

_INSERT = insert(OutboxEntry)


class OutboxEmailTransport:
    """Stores each email (both parts) in ``notification_outbox``."""

    name = "outbox"

    def __init__(self, db: Database) -> None:
        self.db = db

    def send(self, email: OutgoingEmail) -> Accepted:
        with self.db.transaction() as session:
            return self.send_in_session(session, email)

    def send_in_session(self, session: Session, email: OutgoingEmail) -> Accepted:
        """Capture within the caller's transaction (the message is marked sent with it)."""
        provider_id = f"outbox-{uuid.uuid4().hex[:20]}"
        session.connection().execute(
            _INSERT,
            {
                "provider_id": provider_id,
                "message_id": email.message_id,
                "channel": "email",
                "recipient": email.to,
                "sender": f"{email.from_name} <{email.from_email}>",
                "subject": email.subject,
                "text": email.text,
                "html": email.html,
                "meta": {
                    "reply_to": email.reply_to,
                    "categories": list(email.categories),
                    "custom_args": dict(email.custom_args),
                },
                "created_at": utcnow(),
            },
        )
        return Accepted(provider_id=provider_id)

    def find_accepted(self, email: OutgoingEmail, since: datetime) -> Accepted | None:
        return _find(self.db, email.message_id)


class OutboxTextTransport:
    """Stores each SMS or WhatsApp message in ``notification_outbox``."""

    name = "outbox"

    def __init__(self, db: Database) -> None:
        self.db = db

    def send(self, text: OutgoingText) -> Accepted:
        with self.db.transaction() as session:
            return self.send_in_session(session, text)

    def send_in_session(self, session: Session, text: OutgoingText) -> Accepted:
        """Capture within the caller's transaction (the message is marked sent with it)."""
        provider_id = f"outbox-{uuid.uuid4().hex[:20]}"
        session.connection().execute(
            _INSERT,
            {
                "provider_id": provider_id,
                "message_id": text.message_id,
                "channel": text.channel,
                "recipient": text.to,
                "sender": text.sender,
                "subject": None,
                "text": text.body or text.preview,
                "html": None,
                "meta": {
                    "content_sid": text.content_sid,
                    "content_variables": dict(text.content_variables),
                    "status_callback": text.status_callback,
                },
                "created_at": utcnow(),
            },
        )
        return Accepted(provider_id=provider_id)

    def find_accepted(self, text: OutgoingText, since: datetime) -> Accepted | None:
        return _find(self.db, text.message_id)


def _find(db: Database, message_id: int) -> Accepted | None:
    with db.session() as session:
        provider_id = session.scalar(
            select(OutboxEntry.provider_id).where(OutboxEntry.message_id == message_id).limit(1)
        )
    return Accepted(provider_id=provider_id) if provider_id is not None else None

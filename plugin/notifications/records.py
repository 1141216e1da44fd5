"""Messages as part of an order's record: ``relais order show`` and the compliance topics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from plugin.models import Order
from plugin.notifications.models import MessageState, NotificationMessage, OutboxEntry


class MessageRecords:
    """The messages of an order: described for operators, exported and erased on request."""

    name = "messages"

    def describe(self, session: Session, order_id: int) -> list[dict[str, Any]]:
        messages = session.scalars(
            select(NotificationMessage)
            .where(NotificationMessage.order_id == order_id)
            .order_by(NotificationMessage.created_at, NotificationMessage.id)
        )
        return [
            {
                "at": (m.sent_at or m.created_at).isoformat(),
                "what": m.milestone or m.kind,
                "channel": m.channel,
                "locale": m.locale,
                "state": m.state,
                "reason": m.reason,
                "delivery": m.delivery_status,
                "to": m.recipient,
                "subject": m.subject,
                "attempts": m.attempts,
            }
            for m in messages
        ]

    def export(self, session: Session, shop_id: int, order_ids: Sequence[int]) -> Any:
        if not order_ids:
            return []
        messages = session.scalars(
            select(NotificationMessage)
            .where(
                NotificationMessage.shop_id == shop_id,
                NotificationMessage.order_id.in_(list(order_ids)),
            )
            .order_by(NotificationMessage.id)
        )
        return [
            {
                "created_at": m.created_at.isoformat(),
                "sent_at": m.sent_at.isoformat() if m.sent_at else None,
                "what": m.milestone or m.kind,
                "channel": m.channel,
                "to": m.recipient,
                "state": m.state,
                "subject": m.subject,
                "text": m.body_text,
                "delivery": m.delivery_status,
                "shopper_message": (m.context or {}).get("body"),
            }
            for m in messages
        ]

    def redact(self, session: Session, shop_id: int, order_ids: Sequence[int]) -> None:
        """Erase addresses and texts; the rows stay (without personal data) for the counts.

        Opt-outs (STOP, bounces) are kept: honouring them is the shopper's own request.
        """
        if not order_ids:
            return
        ids = list(
            session.scalars(
                select(NotificationMessage.id).where(
                    NotificationMessage.shop_id == shop_id,
                    NotificationMessage.order_id.in_(list(order_ids)),
                )
            )
        )
        if not ids:
            return
        session.execute(
            update(NotificationMessage)
            .where(NotificationMessage.id.in_(ids))
            .values(recipient=None, subject=None, body_text=None, context=None)
        )
        session.execute(delete(OutboxEntry).where(OutboxEntry.message_id.in_(ids)))


@dataclass(frozen=True)
class MessageProblem:
    """A message that did not reach the shopper, for the merchant to see (with why)."""

    message_id: int
    at: datetime
    order_name: str | None
    what: str
    channel: str
    recipient: str | None
    state: str
    reason: str | None
    delivery_status: str | None


PROBLEM_DELIVERY = ("bounced", "dropped", "spam_report", "failed", "undelivered")


def messages_needing_attention(
    session: Session, shop_id: int, *, limit: int = 50
) -> list[MessageProblem]:
    """Failed messages, and sent ones the provider could not deliver, newest first."""
    rows = session.execute(
        select(NotificationMessage, Order.name)
        .outerjoin(Order, Order.id == NotificationMessage.order_id)
        .where(
            NotificationMessage.shop_id == shop_id,
            or_(
                NotificationMessage.state == MessageState.FAILED,
                NotificationMessage.delivery_status.in_(PROBLEM_DELIVERY),
            ),
        )
        .order_by(NotificationMessage.updated_at.desc(), NotificationMessage.id.desc())
        .limit(limit)
    )
    return [
        MessageProblem(
            message_id=m.id,
            at=m.updated_at,
            order_name=name,
            what=m.milestone or m.kind,
            channel=m.channel,
            recipient=m.recipient,
            state=m.state,
            reason=m.reason or m.delivery_detail,
            delivery_status=m.delivery_status,
        )
        for m, name in rows
    ]

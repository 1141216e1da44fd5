"""Domain announcements: "this shipment reached this milestone".

The domain records a :class:`~plugin.models.DomainEvent` row in the same transaction as the
change. After the commit, :func:`dispatch` queues one job per subscriber and marks the event
dispatched; a crash in between leaves the row pending, and the sweeper dispatches it later.
Subscribers must therefore accept the same event twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plugin.db import Database, utcnow
from plugin.milestones import Milestone
from plugin.models import DomainEvent
from plugin.queues import JobQueues
from plugin.upsert import insert_once

log = logging.getLogger(__name__)

MILESTONE_REACHED = "milestone_reached"


@dataclass(frozen=True)
class Subscriber:
    """A job (dotted path, called with the event id) queued for every domain event."""

    name: str
    job: str
    queue: str = "events"


def record_milestone(
    session: Session,
    *,
    shop_id: int,
    order_id: int,
    shipment_id: int | None,
    milestone: Milestone,
    happened_at: datetime,
    dedupe_key: str,
) -> None:
    """Record that a shipment (or the order, when ``shipment_id`` is None) reached a milestone.

    ``dedupe_key`` names the fact (for example the timeline entry that caused it), so that
    processing the same webhook twice announces it once.
    """
    insert_once(
        session,
        DomainEvent,
        {
            "shop_id": shop_id,
            "order_id": order_id,
            "shipment_id": shipment_id,
            "kind": MILESTONE_REACHED,
            "milestone": milestone.value,
            "happened_at": happened_at,
            "dedupe_key": dedupe_key[:160],
            "created_at": utcnow(),
        },
        conflict_columns=["dedupe_key"],
    )


def pending_event_ids(session: Session, *, order_ids: Iterable[int] | None = None) -> list[int]:
    """Events not yet handed to subscribers, oldest first."""
    query = select(DomainEvent.id).where(DomainEvent.dispatched_at.is_(None))
    if order_ids is not None:
        query = query.where(DomainEvent.order_id.in_(list(order_ids)))
    return list(session.scalars(query.order_by(DomainEvent.id).limit(1000)))


def dispatch(
    db: Database,
    queues: JobQueues,
    subscribers: Sequence[Subscriber],
    event_ids: Sequence[int],
) -> int:
    """Queue every subscriber's job for each event, then mark the events dispatched.

    Job ids are derived from the event and the subscriber, so dispatching twice (after a
    crash between queueing and marking) does not queue a job twice.
    """
    for event_id in event_ids:
        for subscriber in subscribers:
            queues.enqueue(
                subscriber.queue,
                subscriber.job,
                event_id,
                job_id=f"event-{event_id}-{subscriber.name}",
            )
    if event_ids:
        with db.transaction() as session:
            session.execute(
                update(DomainEvent)
                .where(DomainEvent.id.in_(list(event_ids)))
                .values(dispatched_at=utcnow())
            )
    return len(event_ids)

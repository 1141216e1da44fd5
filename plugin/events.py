"""Domain announcements: "this shipment reached this milestone".

The domain records a :class:`~plugin.models.DomainEvent` row in the same transaction as the
change; the session remembers the ids it recorded (:func:`recorded_event_ids`). After the
commit, :func:`dispatch` queues one job per subscriber for exactly those events and marks
them dispatched. A crash in between leaves the rows pending, and the sweeper dispatches the
ones pending longer than :data:`PENDING_GRACE`: another transaction's fresh events are its
own to dispatch. A crash after queueing but before marking can still queue an event twice,
so subscribers must accept the same event twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from rq.utils import import_attribute
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plugin.db import Database, utcnow
from plugin.milestones import Milestone
from plugin.models import DomainEvent
from plugin.queues import JobQueues
from plugin.upsert import insert_once

log = logging.getLogger(__name__)

MILESTONE_REACHED = "milestone_reached"
# Pending this long, an event was left behind by a crash between commit and dispatch: the
# sweeper dispatches it. Younger ones belong to a transaction that is about to.
PENDING_GRACE = timedelta(seconds=60)
_RECORDED = "relais.recorded_events"


@dataclass(frozen=True)
class Subscriber:
    """A job (dotted path, called with the event id) queued for every domain event.

    ``inline`` subscribers are cheap and wanted at once (a shopper's "out for delivery"
    text): the job that recorded the event runs them itself right after its commit, instead
    of queueing them behind other work; if one raises, its job is queued as usual.
    """

    name: str
    job: str
    queue: str = "events"
    inline: bool = False


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
    processing the same webhook twice announces it once. The new event's id is remembered
    by the session (:func:`recorded_event_ids`), to be dispatched after the commit.
    """
    event_id = insert_once(
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
    if event_id is not None:
        session.info.setdefault(_RECORDED, []).append(event_id)


def announce_again(session: Session, order_id: int) -> None:
    """Hand the order's milestones to subscribers once more, after this commit.

    For an order whose own webhook has just arrived, after its fulfillment's: its events
    were announced while the order was a placeholder, and the subscribers that need the
    shopper (the notifications) are waiting for it. Subscribers accept an event twice.
    """
    recorded = session.info.setdefault(_RECORDED, [])
    known = set(recorded)
    for event_id in session.scalars(
        select(DomainEvent.id)
        .where(DomainEvent.order_id == order_id, DomainEvent.kind == MILESTONE_REACHED)
        .order_by(DomainEvent.id)
    ):
        if event_id not in known:
            recorded.append(event_id)


def recorded_event_ids(session: Session) -> list[int]:
    """The events this session recorded and has not forgotten, oldest first: read them
    before the transaction ends, dispatch them after its commit."""
    return list(session.info.get(_RECORDED, ()))


def forget_recorded_events(session: Session) -> None:
    """Drop what this session recorded so far (a savepoint holding the events rolled back)."""
    session.info.pop(_RECORDED, None)


def pending_event_ids(
    session: Session,
    *,
    order_ids: Iterable[int] | None = None,
    created_before: datetime | None = None,
) -> list[int]:
    """Events not yet handed to subscribers, oldest first (``created_before``: only those
    recorded before then, as the sweeper asks)."""
    query = select(DomainEvent.id).where(DomainEvent.dispatched_at.is_(None))
    if order_ids is not None:
        query = query.where(DomainEvent.order_id.in_(list(order_ids)))
    if created_before is not None:
        query = query.where(DomainEvent.created_at < created_before)
    return list(session.scalars(query.order_by(DomainEvent.id).limit(1000)))


def dispatch(
    db: Database,
    queues: JobQueues,
    subscribers: Sequence[Subscriber],
    event_ids: Sequence[int],
    *,
    run_inline: bool = False,
) -> int:
    """Queue every subscriber's job for each event, then mark the events dispatched.

    With ``run_inline`` (the job that recorded the events, after its commit), ``inline``
    subscribers run here instead. Job ids are derived from the event and the subscriber, so
    dispatching twice (after a crash between queueing and marking) does not queue a job
    twice while the first is still known to Redis; later, subscribers take it.
    """
    for event_id in event_ids:
        for subscriber in subscribers:
            if run_inline and subscriber.inline and _ran_inline(subscriber, event_id):
                continue
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


def _ran_inline(subscriber: Subscriber, event_id: int) -> bool:
    """Run a subscriber in this job; False (queue its job instead) when it raised."""
    try:
        function = _subscriber_function(subscriber.job)
        function(event_id)
    except Exception:
        log.exception("subscriber %s failed on event %s: queued", subscriber.name, event_id)
        return False
    return True


@lru_cache(maxsize=32)
def _subscriber_function(path: str) -> Callable[[int], object]:
    function: Callable[[int], object] = import_attribute(path)
    return function

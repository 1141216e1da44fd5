"""Domain events reach their subscribers once: a delivery dispatches exactly the events its
own transaction recorded, the sweeper only those left pending by a crash, and a subscriber
that runs twice anyway changes nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from plugin import events
from plugin.db import utcnow
from plugin.models import DomainEvent, Order, WebhookDelivery
from plugin.notifications import jobs
from plugin.stats import MILESTONES_KEY, count_milestone_job
from tests.notifications.conftest import CAMILLE, messages, outbox
from webhooks.jobs import process_delivery, sweep


def _queued_event_ids(runtime) -> set[int]:  # type: ignore[no-untyped-def]
    ids = runtime.queues["events"].get_job_ids() + runtime.queues["wallet"].get_job_ids()
    return {int(job_id.split("-")[1]) for job_id in ids if job_id.startswith("event-")}


def _foreign_pending_event(runtime, order_id: int, *, age: timedelta) -> int:  # type: ignore[no-untyped-def]
    """An event another transaction committed and has not dispatched yet."""
    with runtime.db.transaction() as session:
        order = session.get(Order, order_id)
        assert order is not None
        event = DomainEvent(
            shop_id=order.shop_id,
            order_id=order.id,
            shipment_id=None,
            kind=events.MILESTONE_REACHED,
            milestone="delayed",
            happened_at=utcnow(),
            dedupe_key=f"elsewhere:{order.id}",
            created_at=utcnow() - age,
        )
        session.add(event)
        session.flush()
        return event.id


def _received_delivery_id(runtime) -> int:  # type: ignore[no-untyped-def]
    with runtime.db.session() as session:
        delivery_id = session.scalar(
            select(WebhookDelivery.id).where(WebhookDelivery.status == "received")
        )
    assert delivery_id is not None
    return delivery_id


def test_a_delivery_dispatches_only_the_events_it_recorded(story, run_jobs, runtime, frozen_now):  # type: ignore[no-untyped-def]
    camille = story(CAMILLE, 1001)
    camille.ordered()
    run_jobs()
    with runtime.db.session() as session:
        order_id = session.scalar(select(Order.id))
    foreign = _foreign_pending_event(runtime, order_id, age=timedelta(0))

    camille.shipped()
    process_delivery(_received_delivery_id(runtime))

    with runtime.db.session() as session:
        own = set(session.scalars(select(DomainEvent.id).where(DomainEvent.milestone == "shipped")))
        dispatched = set(
            session.scalars(select(DomainEvent.id).where(DomainEvent.dispatched_at.is_not(None)))
        )
        left = session.get(DomainEvent, foreign)
        assert left is not None and left.dispatched_at is None
    # Every subscriber ran inline: dispatched, nothing queued; the other transaction's event
    # is not ours.
    assert own and own <= dispatched and foreign not in dispatched
    assert _queued_event_ids(runtime) == set()

    # The sweeper leaves a fresh pending event to its own transaction...
    assert sweep()["events"] == 0
    assert foreign not in _queued_event_ids(runtime)
    # ...and dispatches one left pending past the grace period (a crash after its commit).
    with runtime.db.transaction() as session:
        event = session.get(DomainEvent, foreign)
        assert event is not None
        event.created_at = utcnow() - events.PENDING_GRACE - timedelta(seconds=1)
    assert sweep()["events"] == 1
    assert foreign in _queued_event_ids(runtime)


def test_a_failed_delivery_dispatches_nothing(story, run_jobs, runtime, post_webhook):  # type: ignore[no-untyped-def]
    response = post_webhook("fulfillments/create", {"id": 1, "order_id": "not a number"})
    assert response.status_code == 200
    result = process_delivery(_received_delivery_id(runtime))
    assert result.startswith("failed")
    assert _queued_event_ids(runtime) == set()


def test_a_subscriber_running_twice_sends_and_counts_once(story, run_jobs, runtime, frozen_now):  # type: ignore[no-untyped-def]
    camille = story(CAMILLE, 1001)
    camille.ordered()
    camille.shipped()
    run_jobs()
    sent_before = len(outbox(runtime))
    with runtime.db.session() as session:
        event_id = session.scalar(select(DomainEvent.id).where(DomainEvent.milestone == "shipped"))
    assert event_id is not None
    counted = runtime.redis.hget(MILESTONES_KEY, "shipped")
    assert counted == b"1"

    assert jobs.on_milestone(event_id) == "no message"
    count_milestone_job(event_id)

    assert len(outbox(runtime)) == sent_before
    shipped = [m for m in messages(runtime) if m.milestone == "shipped"]
    assert len(shipped) == len({m.channel for m in shipped})
    assert runtime.redis.hget(MILESTONES_KEY, "shipped") == counted


def failing_subscriber(event_id: int) -> None:
    """An inline subscriber that fails (a bug, a database hiccup)."""
    raise RuntimeError(f"cannot handle event {event_id}")


def test_an_inline_subscriber_runs_in_the_webhook_job_and_is_queued_when_it_fails(
    story, run_jobs, runtime, frozen_now
):  # type: ignore[no-untyped-def]
    runtime.subscribers.append(
        events.Subscriber(
            name="boom", job="tests.notifications.test_dispatch.failing_subscriber", inline=True
        )
    )
    camille = story(CAMILLE, 1001)
    camille.ordered()
    run_jobs()
    camille.shipped()
    process_delivery(_received_delivery_id(runtime))
    # The notification left within the webhook job, before any other job ran.
    assert [e.channel for e in outbox(runtime)] == ["email"]
    with runtime.db.session() as session:
        shipped = session.scalar(select(DomainEvent).where(DomainEvent.milestone == "shipped"))
        assert shipped is not None and shipped.dispatched_at is not None
    queued = set(runtime.queues["events"].get_job_ids())
    assert queued == {f"event-{shipped.id}-boom"}  # the failed one waits for its retries
    # The Wallet subscriber ran inline as well: no pass was downloaded, nothing to push.
    assert runtime.queues["wallet"].get_job_ids() == []

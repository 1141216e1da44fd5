"""RQ jobs of notifications. Each takes ids only and can run twice without harm."""

from __future__ import annotations

import logging
from datetime import timedelta

from redis.exceptions import RedisError
from rq import get_current_job
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from sqlalchemy import select

from plugin.notifications import clock
from plugin.notifications.delivery import (
    DUE_SLACK,
    Claim,
    Outcome,
    claim_in,
    deliver,
    queue_send,
    send_job_id,
)
from plugin.notifications.models import MessageState, NotificationMessage
from plugin.notifications.orchestration import OrderNotArrived, QueuedMessage, plan_event
from plugin.notifications.services import current_services
from plugin.runtime import current_runtime

log = logging.getLogger(__name__)

# A queued message this late past its due time lost its job (a crash between the commit and
# the enqueue, or a Redis outage): the sweeper queues it again.
OVERDUE_GRACE = timedelta(minutes=2)
SWEEP_BATCH = 500
# A milestone whose order has not arrived is planned again after a delay that doubles with
# the wait, within these bounds.
ORDER_RECHECK_FIRST = timedelta(seconds=10)
ORDER_RECHECK_MAX = timedelta(minutes=5)


def on_milestone(event_id: int) -> str:
    """Subscriber of "milestone reached": create the messages it calls for and claim those
    due now (one transaction), then make their first attempt right here, and queue the
    others for later.

    Attempting at once saves a trip through the queue on the path that matters most (an
    "out for delivery" text); the attempt is the same as :func:`send_message`'s, and a
    crash in it is recovered the same way (the sweeper finds the row).
    """
    runtime = current_runtime()
    services = current_services()
    now = clock.now()
    claims: dict[int, Claim | Outcome] = {}
    try:
        with runtime.db.transaction() as session:
            queued = plan_event(session, event_id, wallet=services.wallet, now=now)
            for message in queued:
                if message.not_before <= now + DUE_SLACK:
                    claims[message.id] = claim_in(
                        session, runtime.config, services, message.id, now
                    )
    except OrderNotArrived as waiting:
        return _plan_again_later(event_id, waiting)
    results = []
    for message in queued:
        if message.id in claims:
            results.append(_attempt(message.id, claimed=claims[message.id]))
        else:
            queue_send(runtime.queues, services.options, message, now=now)
            results.append(f"waiting until {message.not_before.isoformat()}")
    return f"{len(queued)} message(s): " + "; ".join(results) if queued else "no message"


def _plan_again_later(event_id: int, waiting: OrderNotArrived) -> str:
    # Sooner at first (the order's webhook is usually seconds behind), then less often.
    delay = min(max(ORDER_RECHECK_FIRST, waiting.waited), ORDER_RECHECK_MAX)
    runtime = current_runtime()
    runtime.queues.enqueue(
        "notifications",
        "plugin.notifications.jobs.on_milestone",
        event_id,
        # One waiting job per event and delay step, however often this runs.
        job_id=f"milestone-{event_id}-after-{int(waiting.waited.total_seconds()) // 10}",
        delay=delay,
    )
    return f"order not received yet: planned again in {int(delay.total_seconds())} s"


def send_message(message_id: int) -> str:
    """One attempt at one message (see :mod:`plugin.notifications.delivery`)."""
    return _attempt(message_id)


def _attempt(message_id: int, *, claimed: Claim | Outcome | None = None) -> str:
    runtime = current_runtime()
    services = current_services()
    outcome = deliver(runtime.config, runtime.db, services, message_id, claimed=claimed)
    now = clock.now()
    if outcome.retry_at is not None:
        suffix = f"-at{int(outcome.retry_at.timestamp())}"
        current = get_current_job()
        # Never queue the very job that is running (it would run again at once).
        if current is None or current.id != send_job_id(message_id, outcome.attempt, suffix):
            queue_send(
                runtime.queues,
                services.options,
                QueuedMessage(message_id, outcome.retry_at),
                now=now,
                attempt=outcome.attempt,
                suffix=suffix,
            )
    for follow_up in outcome.follow_ups:
        queue_send(runtime.queues, services.options, follow_up, now=now)
    return outcome.result


def sweep() -> dict[str, int]:
    """Queue again what lost its job: overdue queued messages, and messages left "sending"
    past their lease by a worker that died. Runs periodically from the worker."""
    runtime = current_runtime()
    services = current_services()
    now = clock.now()
    with runtime.db.session() as session:
        overdue = list(
            session.execute(
                select(NotificationMessage.id, NotificationMessage.attempts)
                .where(
                    NotificationMessage.state == MessageState.QUEUED,
                    NotificationMessage.not_before < now - OVERDUE_GRACE,
                )
                .order_by(NotificationMessage.not_before)
                .limit(SWEEP_BATCH)
            )
        )
        abandoned = list(
            session.execute(
                select(NotificationMessage.id, NotificationMessage.attempts)
                .where(
                    NotificationMessage.state == MessageState.SENDING,
                    NotificationMessage.lease_until < now,
                )
                .limit(SWEEP_BATCH)
            )
        )
    queued = 0
    for suffix, rows in (("-sweep", overdue), ("-recover", abandoned)):
        for message_id, attempts in rows:
            job_id = f"notify-{message_id}-{attempts}{suffix}"
            if _waiting(runtime.redis, job_id):
                continue
            queue_send(
                runtime.queues,
                services.options,
                QueuedMessage(message_id, now),
                now=now,
                attempt=attempts,
                suffix=suffix,
            )
            queued += 1
    if queued:
        log.info("notifications sweep queued %d message(s) again", queued)
    return {"overdue": len(overdue), "abandoned": len(abandoned), "queued": queued}


def raise_alerts() -> dict[str, int]:
    """Find shipments that need a proactive alert and announce each once (periodic)."""
    from plugin.notifications.alerts import raise_due_alerts

    runtime = current_runtime()
    return raise_due_alerts(runtime, now=clock.now())


def _waiting(redis: object, job_id: str) -> bool:
    """True if a job with this id is already waiting or running (no need to queue it)."""
    try:
        job = Job.fetch(job_id, connection=redis, serializer=JSONSerializer)  # type: ignore[arg-type]
    except Exception:  # no such job (expired, or never queued)
        return False
    try:
        status = job.get_status(refresh=False)
        if status == JobStatus.QUEUED:
            # "Queued" also describes a job popped by a worker that stopped before starting it.
            return job_id in current_runtime().queues.in_their_queue([job_id])
    except RedisError:
        return False
    return status in (JobStatus.SCHEDULED, JobStatus.DEFERRED, JobStatus.STARTED)

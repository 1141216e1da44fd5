"""Jobs that apply stored webhook deliveries, and the sweeper that nothing is left behind."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plugin import events
from plugin.db import utcnow
from plugin.errors import PayloadError
from plugin.models import Shop, WebhookDelivery
from plugin.runtime import Runtime, current_runtime
from webhooks.handlers import COMPLIANCE_TOPICS, HANDLERS, Delivery
from webhooks.intake import queue_delivery

log = logging.getLogger(__name__)


def process_delivery(delivery_id: int) -> str:
    """Apply one stored delivery; safe to run twice (the second run finds it processed).

    The domain change, its announcements and the "processed" mark commit together; only
    then are the subscribers' jobs queued.
    """
    runtime = current_runtime()
    result = "already processed"
    recorded: list[int] = []
    with runtime.db.transaction() as session:
        delivery = session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
        )
        if delivery is None:
            return "unknown delivery"
        if delivery.status == "received":
            delivery.attempts += 1
            result = _apply(session, delivery, runtime)
            recorded = events.recorded_event_ids(session)
    _dispatch_events(recorded)
    return result


def _apply(session: Session, delivery: WebhookDelivery, runtime: Runtime) -> str:
    handler = HANDLERS.get(delivery.topic)
    if handler is None:
        delivery.status = "ignored"
        delivery.payload = None
        delivery.processed_at = utcnow()
        log.info("webhook %s: topic %s not handled, ignored", delivery.id, delivery.topic)
        return "ignored"
    shop_is_gone = _shop_uninstalled(session, delivery.shop_domain)
    if shop_is_gone and delivery.topic not in COMPLIANCE_TOPICS | {"app/uninstalled"}:
        delivery.status = "ignored"
        delivery.payload = None
        delivery.processed_at = utcnow()
        return "ignored: shop uninstalled"
    try:
        payload = json.loads(delivery.payload or "{}")
        with session.begin_nested():
            outcome = handler(
                session,
                Delivery(
                    topic=delivery.topic,
                    shop_domain=delivery.shop_domain,
                    triggered_at=delivery.triggered_at,
                    payload=payload,
                    privacy_holders=runtime.privacy_holders,
                    on_uninstall=runtime.uninstall_hooks,
                ),
            )
    except (PayloadError, ValueError, TypeError, KeyError, AttributeError) as exc:
        # No retry can fix a payload: keep it for an operator to look at, say why. Shape
        # errors the parser did not foresee land here too rather than looping on retries.
        if not isinstance(exc, PayloadError):
            log.exception("webhook %s (%s): unexpected payload shape", delivery.id, delivery.topic)
        events.forget_recorded_events(session)  # rolled back with the savepoint
        delivery.status = "failed"
        delivery.error = (str(exc) or type(exc).__name__)[:1000]
        log.warning("webhook %s (%s) failed: %s", delivery.id, delivery.topic, delivery.error)
        return f"failed: {delivery.error}"
    delivery.status = "processed"
    delivery.payload = None  # personal data is not kept once applied
    delivery.error = None
    delivery.processed_at = utcnow()
    log.info("webhook %s (%s) processed: %s", delivery.id, delivery.topic, outcome)
    return outcome


def _shop_uninstalled(session: Session, shop_domain: str) -> bool:

    uninstalled_at = session.scalar(select(Shop.uninstalled_at).where(Shop.domain == shop_domain))
    return uninstalled_at is not None


def _dispatch_events(event_ids: list[int]) -> None:
    """Hand exactly the events this delivery recorded to their subscribers (after the
    commit). Events other transactions recorded are theirs to dispatch, or the sweeper's."""
    if not event_ids:
        return
    runtime = current_runtime()
    # Inline subscribers (notifications) run here: a shopper's text does not wait in a
    # queue behind other shops' webhooks.
    events.dispatch(runtime.db, runtime.queues, runtime.subscribers, event_ids, run_inline=True)


def sweep() -> dict[str, int]:
    """Queue again what a crash or an outage left behind: unprocessed deliveries, and domain
    events whose subscribers were never queued. Runs periodically from the worker."""
    runtime = current_runtime()
    now = utcnow()
    cutoff = now - timedelta(seconds=runtime.config.stuck_delivery_seconds)
    with runtime.db.session() as session:
        stuck = list(
            session.scalars(
                select(WebhookDelivery.id)
                .where(WebhookDelivery.status == "received", WebhookDelivery.received_at < cutoff)
                .order_by(WebhookDelivery.id)
                .limit(1000)
            )
        )
        # Only events pending for a while: a younger one's own transaction dispatches it.
        pending = events.pending_event_ids(session, created_before=now - events.PENDING_GRACE)
    stuck = _without_waiting_jobs(runtime, stuck)
    for delivery_id in stuck:
        queue_delivery(runtime.queues, delivery_id)
    events.dispatch(runtime.db, runtime.queues, runtime.subscribers, pending)
    if stuck or pending:
        log.info("sweep queued %d deliveries and %d events", len(stuck), len(pending))
    return {"deliveries": len(stuck), "events": len(pending)}


# RQ statuses of a job that will still run: its delivery is waiting in a backlog, not lost.
_WAITING = {b"scheduled", b"deferred"}


def _without_waiting_jobs(runtime: Runtime, delivery_ids: list[int]) -> list[int]:
    """The deliveries whose job Redis no longer holds as waiting (lost in a crash, failed,
    or taken by a worker that died): queueing the others again would run them twice and
    let a bursting shop's backlog jump to the front.

    A "queued" job counts as waiting only while it is in its queue's list: a worker that
    popped it and stopped before starting it leaves it "queued" nowhere
    (:meth:`plugin.queues.JobQueues.in_their_queue`).
    """
    if not delivery_ids:
        return []
    with runtime.redis.pipeline(transaction=False) as pipeline:
        for delivery_id in delivery_ids:
            pipeline.hget(f"rq:job:delivery-{delivery_id}", "status")
        statuses = pipeline.execute()
    queued = [
        f"delivery-{delivery_id}"
        for delivery_id, status in zip(delivery_ids, statuses, strict=True)
        if status == b"queued"
    ]
    in_line = runtime.queues.in_their_queue(queued)
    return [
        delivery_id
        for delivery_id, status in zip(delivery_ids, statuses, strict=True)
        if not (status in _WAITING or f"delivery-{delivery_id}" in in_line)
    ]


def replay_failed(delivery_id: int) -> None:
    """Put a failed delivery back in line (after a fix), from the CLI."""
    runtime = current_runtime()
    with runtime.db.transaction() as session:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "failed")
            .values(status="received", error=None)
        )
    queue_delivery(runtime.queues, delivery_id)

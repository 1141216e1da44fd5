"""Read back what a load left behind: accepted, processed, lost, duplicated.

"Accepted" is a webhook the driver saw answered 200 at least once; "processed" is an
accepted webhook whose delivery row is processed *and* whose effect is in the domain (the
order, the shipment, the timeline line); "lost" is accepted and not processed once the
queues have drained; "duplicated" counts effects present more than once (a timeline line,
a milestone announcement, a milestone counted twice by a subscriber).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from redis import Redis
from rq import Worker
from sqlalchemy import Engine, create_engine, func, select

from ops.load import LoadReport
from plugin import stats
from plugin.models import DomainEvent, Order, Shipment, Shop, TrackingEvent, WebhookDelivery
from plugin.queues import QUEUE_NAMES

SETTLED = ("processed", "failed", "ignored")


@dataclass
class Figures:
    """The figures of one scenario, as benchmarks/README.md reports them."""

    scenario: str
    webhooks: int = 0  # distinct webhooks the driver had to deliver
    requests: int = 0  # HTTP requests, retries included
    answered_200: int = 0
    answered_5xx: int = 0  # 503 while a dependency was down (Shopify retries these)
    answered_other: int = 0  # anything else (4xx, 500, connection errors): must be 0
    accepted: int = 0  # distinct webhooks answered 200 at least once
    processed: int = 0  # accepted, delivery processed and its effect in the domain
    lost: int = 0  # accepted and not processed after draining (target 0)
    duplicated: int = 0  # effects present more than once (target 0)
    never_accepted: int = 0  # still refused at the driver's deadline
    drain_seconds: float = 0.0  # from the last answer to everything applied
    notes: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        return (
            f"{self.scenario}: webhooks {self.webhooks}, requests {self.requests} "
            f"(200: {self.answered_200}, 5xx: {self.answered_5xx}, other: {self.answered_other}), "
            f"accepted {self.accepted}, processed {self.processed}, lost {self.lost}, "
            f"duplicated {self.duplicated}, drained in {self.drain_seconds:.1f} s"
        )


def engine_for(url: str) -> Engine:
    return create_engine(url, pool_pre_ping=True)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def queues_idle(redis: Redis) -> bool:
    """No job waiting on any Relais queue and no live worker busy (scheduled jobs aside).

    A worker killed mid-job stays listed, with its job, until its key expires: only workers
    whose process still runs on this machine count.
    """
    if any(redis.llen(f"rq:queue:{name}") for name in QUEUE_NAMES):
        return False
    return not any(
        w.get_current_job_id() for w in Worker.all(connection=redis) if _alive(w.pid)
    )


def wait_until_drained(
    engine: Engine, redis: Redis, expected: int, *, timeout: float = 120.0
) -> float:
    """Wait until ``expected`` deliveries are settled, every domain event is dispatched and
    the queues are idle; return the seconds waited (``timeout`` if never)."""
    started = time.monotonic()
    idle_since: float | None = None
    while time.monotonic() - started < timeout:
        try:
            with engine.connect() as conn:
                settled = conn.scalar(
                    select(func.count())
                    .select_from(WebhookDelivery)
                    .where(WebhookDelivery.status.in_(SETTLED))
                )
                undispatched = conn.scalar(
                    select(func.count())
                    .select_from(DomainEvent)
                    .where(DomainEvent.dispatched_at.is_(None))
                )
            if (settled or 0) >= expected and not undispatched and queues_idle(redis):
                # Idle twice in a row, half a second apart: a job between two queues is not
                # mistaken for the end.
                if idle_since is not None:
                    return idle_since - started
                idle_since = time.monotonic()
            else:
                idle_since = None
        except Exception:
            idle_since = None
        time.sleep(0.5)
    return timeout


def audit(
    scenario: str, engine: Engine, redis: Redis | None, report: LoadReport, drain_seconds: float
) -> Figures:
    """Compare what the driver was told with what the database holds."""
    statuses = report.statuses
    figures = Figures(
        scenario=scenario,
        webhooks=len(report.records),
        requests=sum(statuses.values()),
        answered_200=statuses.get(200, 0),
        answered_5xx=sum(v for k, v in statuses.items() if isinstance(k, int) and k >= 500),
        accepted=len(report.accepted),
        never_accepted=len(report.never_accepted),
        drain_seconds=round(drain_seconds, 1),
    )
    figures.answered_other = figures.requests - figures.answered_200 - figures.answered_5xx
    with engine.connect() as conn:
        delivery_status = dict(
            conn.execute(select(WebhookDelivery.webhook_id, WebhookDelivery.status)).all()
        )
        orders = set(
            conn.execute(
                select(Shop.domain, Order.shopify_id).join(Shop, Shop.id == Order.shop_id)
            ).all()
        )
        shipments = set(
            conn.execute(
                select(Shop.domain, Shipment.shopify_fulfillment_id).join(
                    Shop, Shop.id == Shipment.shop_id
                )
            ).all()
        )
        lines = Counter(
            {
                (domain, event_id): count
                for domain, event_id, count in conn.execute(
                    select(Shop.domain, TrackingEvent.shopify_event_id, func.count())
                    .join(Shop, Shop.id == TrackingEvent.shop_id)
                    .where(TrackingEvent.shopify_event_id.is_not(None))
                    .group_by(Shop.domain, TrackingEvent.shopify_event_id)
                )
            }
        )
        announced = (DomainEvent.order_id, DomainEvent.shipment_id, DomainEvent.milestone)
        announcements = conn.execute(
            select(*announced, func.count())
            .group_by(*announced)
            .having(func.count() > 1)
        ).all()
        domain_events = conn.scalar(select(func.count()).select_from(DomainEvent)) or 0
    lost_states: Counter[str] = Counter()
    lost_ids: list[str] = []
    for record in report.accepted:
        webhook = record.webhook
        kind, key = webhook.effect
        applied = delivery_status.get(webhook.webhook_id) == "processed" and (
            (kind == "order" and (webhook.shop_domain, key) in orders)
            or (kind == "fulfillment" and (webhook.shop_domain, key) in shipments)
            or (kind == "event" and lines[(webhook.shop_domain, key)] >= 1)
        )
        figures.processed += applied
        if not applied:
            # Why: still "received" (waiting for a job), "failed", or processed without effect.
            lost_states[str(delivery_status.get(webhook.webhook_id, "not stored"))] += 1
            lost_ids.append(webhook.webhook_id)
    figures.lost = figures.accepted - figures.processed
    duplicate_lines = sum(count - 1 for count in lines.values() if count > 1)
    duplicate_announcements = sum(count - 1 for *_, count in announcements)
    counted = 0
    if redis is not None:
        counted = sum(c.value for c in stats.read_counts(redis, stats.MILESTONES_KEY))
    # The milestone counter is a subscriber: above the number of events means double counts.
    counted_twice = max(0, counted - domain_events)
    figures.duplicated = duplicate_lines + duplicate_announcements + counted_twice
    figures.notes.update(
        duplicate_timeline_lines=duplicate_lines,
        duplicate_announcements=duplicate_announcements,
        milestones_counted=counted,
        domain_events=domain_events,
        answers=dict(sorted((str(k), v) for k, v in statuses.items())),
    )
    if lost_ids and redis is not None:
        figures.notes["lost_jobs"] = _job_whereabouts(engine, redis, lost_ids[:5])
    if lost_states:
        figures.notes["lost_by_delivery_status"] = dict(lost_states)
    return figures


def _job_whereabouts(engine: Engine, redis: Redis, webhook_ids: list[str]) -> list[dict[str, Any]]:
    """Where Redis holds the jobs of deliveries that were not applied (what to look at)."""
    with engine.connect() as conn:
        ids = dict(
            conn.execute(
                select(WebhookDelivery.webhook_id, WebhookDelivery.id).where(
                    WebhookDelivery.webhook_id.in_(webhook_ids)
                )
            ).all()
        )
    found = []
    for webhook_id in webhook_ids:
        job_id = f"delivery-{ids.get(webhook_id)}"
        fields = redis.hgetall(f"rq:job:{job_id}")
        job = {_text(key): _text(value)[:120] for key, value in fields.items()}
        job.pop("data", None)
        lists = [
            key.decode()
            for key in redis.scan_iter("rq:*")
            if redis.type(key) == b"list" and job_id.encode() in redis.lrange(key, 0, -1)
        ]
        zsets = [
            key.decode()
            for key in redis.scan_iter("rq:*")
            if redis.type(key) == b"zset" and redis.zscore(key, job_id) is not None
        ]
        found.append({"job_id": job_id, "job": job, "lists": lists, "registries": zsets})
    return found


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value

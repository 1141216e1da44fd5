"""The sweep queues again only what Redis lost, not what is still waiting in a long queue.

A backlog older than RELAIS_STUCK_DELIVERY_SECONDS is normal during a burst; queueing its
deliveries again would add a second job for each (every 30 s, 1,000 at a time), growing the
backlog it is meant to recover from and letting a bursting shop jump the fairness lanes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from rq.job import Job
from sqlalchemy import update

from plugin.db import utcnow
from plugin.models import WebhookDelivery
from plugin.runtime import Runtime
from tests.hostile.strategies import BASE_PAYLOADS
from webhooks.jobs import sweep


def _backlog(post_webhook: Callable[..., Any], runtime: Runtime, count: int) -> list[int]:
    ids = []
    for n in range(count):
        payload = {**BASE_PAYLOADS["orders/create"](), "id": 1000 + n}
        ids.append(post_webhook("orders/create", payload).get_json()["id"])
    with runtime.db.transaction() as session:
        session.execute(
            update(WebhookDelivery).values(received_at=utcnow() - timedelta(minutes=10))
        )
    return ids


def test_sweep_leaves_deliveries_that_are_still_queued(
    post_webhook: Callable[..., Any], runtime: Runtime
) -> None:
    _backlog(post_webhook, runtime, 12)
    assert runtime.queues["webhooks"].count == 12
    assert sweep()["deliveries"] == 0
    assert runtime.queues["webhooks"].count == 12


def test_sweep_queues_again_the_deliveries_redis_lost(
    post_webhook: Callable[..., Any], runtime: Runtime
) -> None:
    ids = _backlog(post_webhook, runtime, 6)
    for delivery_id in ids[:2]:
        # As after a Redis crash that lost the last second of writes.
        runtime.queues["webhooks"].remove(f"delivery-{delivery_id}")
        Job.fetch(f"delivery-{delivery_id}", connection=runtime.redis).delete()
    assert runtime.queues["webhooks"].count == 4
    assert sweep()["deliveries"] == 2
    assert runtime.queues["webhooks"].count == 6


def test_sweep_queues_again_a_job_taken_by_a_worker_that_died(
    post_webhook: Callable[..., Any], runtime: Runtime
) -> None:
    ids = _backlog(post_webhook, runtime, 3)
    queue = runtime.queues["webhooks"]
    # What a worker's dequeue does before it marks the job started: move it aside.
    runtime.redis.lmove(queue.key, f"{queue.key}:intermediate", "LEFT", "RIGHT")
    assert queue.count == 2
    assert sweep()["deliveries"] == 1
    assert f"delivery-{ids[0]}" in queue.get_job_ids()


def test_sweep_queues_again_a_job_popped_by_a_worker_stopped_before_starting_it(
    post_webhook: Callable[..., Any], runtime: Runtime
) -> None:
    """A worker on several queues pops with BLPOP: stopped (a deploy's SIGTERM) between the
    pop and the start, it leaves the job "queued" in no list at all."""
    ids = _backlog(post_webhook, runtime, 3)
    queue = runtime.queues["webhooks"]
    popped = runtime.redis.lpop(queue.key)
    assert popped == f"delivery-{ids[0]}".encode()
    assert Job.fetch(f"delivery-{ids[0]}", connection=runtime.redis).get_status() == "queued"
    assert sweep()["deliveries"] == 1
    assert queue.get_job_ids() == [f"delivery-{ids[1]}", f"delivery-{ids[2]}", f"delivery-{ids[0]}"]

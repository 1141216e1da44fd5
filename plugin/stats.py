"""Counters kept in Redis so that every process (web, worker) adds to the same figures."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError

WEBHOOKS_KEY = "relais:metrics:webhooks"  # field "topic|outcome"
MILESTONES_KEY = "relais:metrics:milestones"  # field "milestone"
JOB_FAILURES_KEY = "relais:metrics:job_failures"  # field "job"


@dataclass(frozen=True)
class Count:
    labels: tuple[str, ...]
    value: int


def count_webhook(redis: Redis | Pipeline, topic: str, outcome: str, count: int = 1) -> None:
    """Webhooks received, by topic and outcome (accepted, duplicate, invalid...)."""
    redis.hincrby(WEBHOOKS_KEY, f"{topic}|{outcome}", count)


def count_job_failure(redis: Redis, job: str) -> None:
    redis.hincrby(JOB_FAILURES_KEY, job, 1)


def count_failed_job(job: Any, connection: Redis, *_exc_info: object) -> None:
    """RQ failure callback of every Relais job (set by :mod:`plugin.queues`): one failed
    attempt of ``job``'s function, whether or not it will be retried."""
    # A metric must never turn into the job's failure: a Redis error here is ignored.
    with contextlib.suppress(RedisError):
        count_job_failure(connection, job.func_name)


def read_counts(redis: Redis, key: str) -> Iterator[Count]:
    """Every counter of one hash, split back into its labels."""
    for field, value in redis.hgetall(key).items():
        name = field.decode() if isinstance(field, bytes) else str(field)
        yield Count(tuple(name.split("|")), int(value))


def count_milestone_job(event_id: int) -> None:
    """Subscriber job: count one milestone reached (shown on ``/metrics``)."""
    from sqlalchemy import select

    from plugin.models import DomainEvent
    from plugin.runtime import current_runtime

    runtime = current_runtime()
    with runtime.db.session() as session:
        milestone = session.scalar(select(DomainEvent.milestone).where(DomainEvent.id == event_id))
    if milestone is None:
        return
    # SET NX on the event id keeps the count exact when the job runs twice.
    if runtime.redis.set(f"relais:counted:{event_id}", 1, nx=True, ex=7 * 24 * 3600):
        runtime.redis.hincrby(MILESTONES_KEY, milestone, 1)

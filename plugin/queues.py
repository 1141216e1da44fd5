"""RQ queues with the JSON serializer: jobs are dotted function paths called with ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis import Redis
from redis.client import Pipeline
from rq import Callback, Queue, Retry
from rq.job import Job
from rq.serializers import JSONSerializer

# Order matters: a worker listening to all of them serves the first non-empty one first.
# "webhooks_bulk" holds the part of a shop's burst past its per-minute budget: last, so that
# one shop's 100,000 orders wait behind everyone else's work instead of the reverse.
QUEUE_NAMES = ("webhooks", "events", "notifications", "wallet", "default", "webhooks_bulk")
DEFAULT_JOB_TIMEOUT = 60
# Counts every failed attempt on /metrics (relais_job_failures_total{job=...}).
FAILURE_CALLBACK = "plugin.stats.count_failed_job"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how late a job that raised is tried again (only for what can recover)."""

    max: int = 5
    intervals: Sequence[int] = (5, 30, 120, 600, 1800)

    def to_rq(self) -> Retry:
        return Retry(max=self.max, interval=list(self.intervals))


DEFAULT_RETRY = RetryPolicy()


class JobQueues:
    """The named RQ queues of one Redis connection."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._queues = {
            name: Queue(name, connection=redis, serializer=JSONSerializer) for name in QUEUE_NAMES
        }

    def __getitem__(self, name: str) -> Queue:
        return self._queues[name]

    def all(self) -> list[Queue]:
        return list(self._queues.values())

    def in_their_queue(self, job_ids: Sequence[str]) -> set[str]:
        """The jobs among ``job_ids`` that sit in their queue's list, waiting for a worker.

        RQ keeps a job's status "queued" from its enqueue until a worker starts it. A worker
        serving several queues pops with BLPOP, and one stopped between the pop and the
        start (a deploy's SIGTERM at that instant) leaves a "queued" job in no list at all,
        which nothing in RQ will run: only this check tells the two apart.
        """
        if not job_ids:
            return set()
        with self.redis.pipeline(transaction=False) as pipeline:
            for job_id in job_ids:
                pipeline.hget(f"{Job.redis_job_namespace_prefix}{job_id}", "origin")
            origins = pipeline.execute()
        with self.redis.pipeline(transaction=False) as pipeline:
            checked = []
            for job_id, origin in zip(job_ids, origins, strict=True):
                if origin is None:
                    continue
                queue = origin.decode() if isinstance(origin, bytes) else str(origin)
                # From the head, where the oldest jobs (those a sweep asks about) wait.
                pipeline.lpos(f"{Queue.redis_queue_namespace_prefix}{queue}", job_id)
                checked.append(job_id)
            positions = pipeline.execute()
        return {job_id for job_id, at in zip(checked, positions, strict=True) if at is not None}

    def enqueue(
        self,
        queue: str,
        func: str,
        *args: int | str | None,
        job_id: str | None = None,
        retry: RetryPolicy | None = DEFAULT_RETRY,
        timeout: int = DEFAULT_JOB_TIMEOUT,
        at: datetime | None = None,
        delay: timedelta | None = None,
        pipeline: Pipeline | None = None,
    ) -> Job:
        """Queue ``func`` (a dotted path) with plain JSON arguments.

        ``job_id`` makes the enqueue itself idempotent: RQ overwrites a job with the same id
        instead of queueing it twice. With ``pipeline`` the job is written when the caller
        executes it (one round trip with the caller's own commands).
        """
        options: dict[str, object] = {
            "job_id": job_id,
            "retry": retry.to_rq() if retry else None,
            "job_timeout": timeout,
            "result_ttl": 300,
            "failure_ttl": 7 * 24 * 3600,
            "on_failure": Callback(FAILURE_CALLBACK),
        }
        q = self._queues[queue]
        if at is not None:
            return q.enqueue_at(at, func, *args, **options)
        if delay is not None:
            return q.enqueue_in(delay, func, *args, **options)
        if pipeline is not None:
            return q.enqueue_call(
                func,
                args=args,
                timeout=timeout,
                result_ttl=300,
                failure_ttl=7 * 24 * 3600,
                job_id=job_id,
                retry=options["retry"],  # type: ignore[arg-type]
                on_failure=Callback(FAILURE_CALLBACK),
                pipeline=pipeline,
            )
        return q.enqueue(func, *args, **options)

"""``relais worker``: an RQ worker with RQ's scheduler and Relais' periodic sweeps."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from flask import Flask
from redis.exceptions import RedisError
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from plugin.runtime import current_runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    """A job queued every ``every`` seconds by exactly one of the running workers."""

    name: str
    job: str
    every: int
    queue: str = "default"


# The id of every periodic job starts with this (the log filter below recognises them by it).
PERIODIC_JOB_PREFIX = "periodic-"

PERIODIC_JOBS = [
    PeriodicJob("sweep", "webhooks.jobs.sweep", every=30),
    PeriodicJob("notifications-sweep", "plugin.notifications.jobs.sweep", every=10),
    PeriodicJob("notifications-alerts", "plugin.notifications.jobs.raise_alerts", every=900),
    PeriodicJob("shopify-reconcile", "plugin.shopify.sync.reconcile_stale_orders_job", every=86400),
    PeriodicJob("insights-rollup", "plugin.insights.rollup.refresh_all_job", every=3600),
]


# RQ's scheduler (delayed jobs: retries, quiet hours) runs beside one worker, which holds a
# Redis lock that expires SCHEDULER_LOCK_SECONDS after its holder last refreshed it. The
# other workers try to take the lock over only during their maintenance, every
# MAINTENANCE_SECONDS (RQ's default is 10 minutes), and an idle worker gets there only when
# its wait for a job ends (WORKER_TTL_SECONDS - 15 s). With these values, scheduled jobs run
# again at most about SCHEDULER_LOCK_SECONDS + MAINTENANCE_SECONDS (76 s) after the holder
# died, plus the job a surviving worker was busy with.
SCHEDULER_LOCK_SECONDS = 61  # RQScheduler's own: its interval (1 s) + 60 s
MAINTENANCE_SECONDS = 15
WORKER_TTL_SECONDS = MAINTENANCE_SECONDS + 15
SCHEDULER_TAKEOVER_SECONDS = SCHEDULER_LOCK_SECONDS + MAINTENANCE_SECONDS


class QuietRoutineLines(logging.Filter):
    """Keeps RQ's routine INFO lines about the periodic sweeps and its own registry
    maintenance out of the log unless LOG_LEVEL is DEBUG.

    Every few seconds, each of those would otherwise write four lines per periodic job and
    one per queue (about 100,000 lines a day per worker), burying the lines about orders
    and messages. A sweep that finds work logs it itself (its own logger), and a periodic
    job that fails is still logged: only INFO lines are held back.
    """

    _PERIODIC_DESCRIPTIONS = frozenset(f"{periodic.job}()" for periodic in PERIODIC_JOBS)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or logging.getLogger().isEnabledFor(logging.DEBUG):
            return True
        if isinstance(record.msg, str) and record.msg.startswith("Worker %s: cleaning"):
            return False
        args = record.args if isinstance(record.args, tuple) else ()
        return not any(
            isinstance(arg, str)
            and (arg.startswith(PERIODIC_JOB_PREFIX) or arg in self._PERIODIC_DESCRIPTIONS)
            for arg in args
        )


_QUIET_ROUTINE_LINES = QuietRoutineLines()


def run_worker(app: Flask, *, burst: bool = False) -> None:
    """Work every queue until stopped (or until empty with ``burst``).

    SimpleWorker runs jobs in this process instead of forking one per job: Relais' jobs are
    short, idempotent and I/O bound, and the fork costs more than most of them. A job that
    hangs is still stopped by its timeout (SIGALRM). If the worker holding RQ's scheduler
    dies, another takes over within :data:`SCHEDULER_TAKEOVER_SECONDS`.
    """
    runtime = current_runtime()
    # One instance for the process: addFilter ignores a filter already installed.
    logging.getLogger("rq.worker").addFilter(_QUIET_ROUTINE_LINES)
    worker = SimpleWorker(
        runtime.queues.all(),
        connection=runtime.redis,
        serializer=JSONSerializer,
        maintenance_interval=MAINTENANCE_SECONDS,
        worker_ttl=WORKER_TTL_SECONDS,
    )
    stop = threading.Event()
    if not burst:
        ticker = threading.Thread(
            target=_tick_periodic_jobs, args=(app, stop), name="relais-periodic", daemon=True
        )
        ticker.start()
    try:
        # RQ's own lines (one per job started and finished) follow LOG_LEVEL like every
        # other logger: RQ would otherwise force INFO, a formatted line per job per step.
        worker.work(
            burst=burst,
            with_scheduler=True,
            logging_level=logging.getLevelName(logging.getLogger().getEffectiveLevel()),
        )
    finally:
        stop.set()


def _tick_periodic_jobs(app: Flask, stop: threading.Event) -> None:
    with app.app_context():
        runtime = current_runtime()
        while not stop.wait(1.0):
            now = int(time.time())
            for periodic in PERIODIC_JOBS:
                slot = now // periodic.every
                key = f"relais:periodic:{periodic.name}:{slot}"
                try:
                    # SET NX: among all running workers, the first to claim the slot queues it.
                    if runtime.redis.set(key, 1, nx=True, ex=periodic.every * 2):
                        runtime.queues.enqueue(
                            periodic.queue,
                            periodic.job,
                            job_id=f"{PERIODIC_JOB_PREFIX}{periodic.name}-{slot}",
                            retry=None,
                        )
                except RedisError as exc:
                    log.warning("periodic %s not queued: %s", periodic.name, type(exc).__name__)

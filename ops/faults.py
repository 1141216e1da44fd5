"""Fault scenarios: break one part of a running cluster during a webhook burst, then count.

Each scenario starts a fresh cluster, sends a burst of order stories for many shops (the
driver retries non-200 answers like Shopify), breaks one thing while the burst is under
way, waits for the queues to drain and audits: accepted, processed, lost, duplicated.

    python -m ops.faults redis-crash db-outage worker-kill worker-restart scheduler-kill

Providers failing (SendGrid, Twilio, APNs) is ``python -m ops.provider_faults``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from redis import Redis
from rq import Worker
from rq.job import Job
from rq.registry import StartedJobRegistry

from ops.audit import Figures, audit, engine_for, wait_until_drained
from ops.cluster import Cluster, ClusterSettings, Process, running_cluster
from ops.load import Driver, LoadPlan, LoadReport
from plugin.redis_conn import connect

# Short, so that the sweep's recovery fits a test; production keeps 120 s.
STUCK_SECONDS = 5


@dataclass(frozen=True)
class Burst:
    """How much load, how fast: ``stories`` orders of ``shops`` shops at ``rate`` a second."""

    shops: int = 20
    orders_per_shop: int = 3
    rate: float = 15.0
    concurrency: int = 8
    deadline: float = 90.0


@dataclass
class Context:
    """What a fault function may touch while the burst runs."""

    cluster: Cluster
    redis: Redis
    notes: dict[str, Any] = field(default_factory=dict)


Fault = Callable[[Context], None]


def run_scenario(
    name: str,
    fault: Fault,
    *,
    burst: Burst | None = None,
    workers: int = 2,
    fault_after: float = 1.0,
    drain_timeout: float = 120.0,
    settings: ClusterSettings | None = None,
) -> Figures:
    """Start a cluster, run ``fault`` ``fault_after`` seconds into the burst, audit."""
    burst = burst or Burst()
    settings = settings or ClusterSettings(
        workers=workers, stuck_delivery_seconds=STUCK_SECONDS, log_level="WARNING"
    )
    with running_cluster(settings) as cluster:
        redis = connect(cluster.redis.url)
        context = Context(cluster, redis)
        plan = LoadPlan(shops=burst.shops, orders_per_shop=burst.orders_per_shop)
        stories = plan.stories(cluster.env()["SHOPIFY_API_SECRET"])
        driver = Driver(
            cluster.base_url,
            concurrency=burst.concurrency,
            rate=burst.rate,
            deadline=burst.deadline,
        )
        result: dict[str, LoadReport] = {}
        sender = threading.Thread(target=lambda: result.update(report=driver.run(stories)))
        sender.start()
        time.sleep(fault_after)
        started = time.monotonic()
        fault(context)
        context.notes["fault_seconds"] = round(time.monotonic() - started, 1)
        sender.join()
        report = result["report"]
        # The driver's own retries may outlast a fault; what matters is what was accepted.
        redis = connect(cluster.redis.url)  # a fresh client: the old one may hold dead sockets
        engine = engine_for(cluster.database_url)
        try:
            waited = wait_until_drained(engine, redis, len(report.accepted), timeout=drain_timeout)
            figures = audit(name, engine, redis, report, waited)
        finally:
            engine.dispose()
        figures.notes.update(context.notes)
        figures.notes["worker_restarts"] = sum(w.restarts for w in cluster.workers)
        figures.notes["workers"] = workers
        return figures


# --- the faults -------------------------------------------------------------------------------


def redis_crash(down_for: float = 2.0) -> Fault:
    """SIGKILL redis-server (writes of the last second may be lost), restart it later."""

    def fault(context: Context) -> None:
        context.cluster.redis.restart(down_for=down_for, crash=True)
        context.notes["redis_down_seconds"] = down_for

    return fault


def database_outage(down_for: float = 10.0) -> Fault:
    """Stop PostgreSQL (pg_ctl -m fast), keep it down ``down_for`` seconds, start it again."""

    def fault(context: Context) -> None:
        context.cluster.postgres.stop("fast")
        time.sleep(down_for)
        context.cluster.postgres.start()
        context.notes["database_down_seconds"] = down_for

    return fault


def _busy_worker(context: Context, timeout: float = 20.0) -> tuple[Process, str]:
    """A worker process in the middle of a job, and the job's id."""
    deadline = time.monotonic() + timeout
    by_pid = {w.pid: w for w in context.cluster.workers if w.alive()}
    while time.monotonic() < deadline:
        for worker in Worker.all(connection=context.redis):
            job_id = worker.get_current_job_id()
            if job_id and job_id.startswith("delivery-") and worker.pid in by_pid:
                return by_pid[worker.pid], job_id
        time.sleep(0.01)
    raise RuntimeError("no worker was busy with a delivery")


def worker_kill(times: int = 3, every: float = 1.0) -> Fault:
    """SIGKILL a worker in the middle of a delivery job, ``times`` times."""

    def fault(context: Context) -> None:
        killed = []
        for _ in range(times):
            worker, job_id = _busy_worker(context)
            os.kill(worker.pid, signal.SIGKILL)
            # Proof it died mid-job: RQ still lists the job as started by a worker now gone.
            registry = StartedJobRegistry("webhooks", connection=context.redis)
            killed.append({"job": job_id, "still_started": job_id in registry.get_job_ids()})
            time.sleep(every)
        context.notes["killed_mid_job"] = killed

    return fault


def worker_restart(context: Context) -> None:
    """A deploy: SIGTERM every worker (each finishes its job), start new ones."""
    workers = list(context.cluster.workers)
    for worker in workers:
        context.cluster.stop_worker(worker, signal.SIGTERM)
    for _ in workers:
        context.cluster.add_worker()
    context.notes["restarted_workers"] = len(workers)


def scheduler_kill(probes: int = 5, due_in: float = 3.0) -> Fault:
    """SIGKILL the worker that holds RQ's scheduler lock while scheduled jobs are pending.

    The probes are sweeps scheduled through Relais' own queues (as retries and quiet hours
    are); the note says how late each one ran, which is bounded by RQ's lock expiry plus the
    workers' maintenance interval (``plugin.worker.SCHEDULER_TAKEOVER_SECONDS``).
    """

    def fault(context: Context) -> None:
        from plugin.queues import JobQueues

        queues = JobQueues(context.redis)
        scheduled_at = time.time()
        ids = []
        for n in range(probes):
            job = queues.enqueue(
                "default", "webhooks.jobs.sweep", job_id=f"probe-{n}-{int(scheduled_at)}",
                retry=None, delay=timedelta(seconds=due_in),
            )
            ids.append(job.id)
        # The lock names RQ's scheduler, a child process of one worker: kill both, as a
        # crashed container would take them both.
        raw = context.redis.get("rq:scheduler-lock:default")
        holder = raw.decode() if isinstance(raw, bytes) else str(raw or "")
        pid_raw = context.redis.hget(f"rq:scheduler:{holder}", "pid")
        if not holder or pid_raw is None:
            raise RuntimeError("no scheduler holds the lock")
        scheduler_pid = int(pid_raw)
        stat = Path(f"/proc/{scheduler_pid}/stat").read_text()
        parent_pid = int(stat.rsplit(")", 1)[1].split()[1])
        workers = {w.pid for w in context.cluster.workers}
        for pid in (scheduler_pid, parent_pid):
            if pid in workers or pid == scheduler_pid:
                os.kill(pid, signal.SIGKILL)
        context.notes["scheduler_holder_killed"] = True
        # Wait (bounded) for the probes to run, and say how late they were.
        deadline = time.monotonic() + 240
        late: dict[str, float] = {}
        while time.monotonic() < deadline and len(late) < probes:
            for job_id in ids:
                job = Job.fetch(job_id, connection=context.redis)
                if job.ended_at is not None and job_id not in late:
                    late[job_id] = job.ended_at.timestamp() - (scheduled_at + due_in)
            time.sleep(0.5)
        context.notes["scheduled_probes"] = probes
        context.notes["scheduled_probes_run"] = len(late)
        context.notes["scheduled_max_late_seconds"] = round(max(late.values(), default=-1), 1)

    return fault


SCENARIOS: dict[str, Callable[[], Figures]] = {
    "redis-crash": lambda: run_scenario("Redis SIGKILLed 2 s during a burst", redis_crash()),
    "redis-restart": lambda: run_scenario(
        "Redis restarted (SIGTERM) during a burst",
        lambda c: c.cluster.redis.restart(down_for=2.0, crash=False),
    ),
    "db-outage": lambda: run_scenario(
        "PostgreSQL down 10 s during a burst",
        database_outage(10.0),
        burst=Burst(shops=20, orders_per_shop=3, rate=4.0),
        fault_after=2.0,
    ),
    "worker-kill": lambda: run_scenario(
        "worker SIGKILLed mid-job, 3 times", worker_kill(), burst=Burst(rate=25.0)
    ),
    "worker-restart": lambda: run_scenario("every worker restarted (SIGTERM)", worker_restart),
    "scheduler-kill": lambda: run_scenario(
        "scheduler holder SIGKILLed with jobs scheduled", scheduler_kill(), drain_timeout=240
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS), choices=list(SCENARIOS))
    parser.add_argument("--json", type=Path, help="append the figures to this JSON file")
    args = parser.parse_args(argv)
    failed = 0
    for name in args.scenarios:
        try:
            figures = SCENARIOS[name]()
        except Exception as exc:  # one scenario's trouble must not hide the others' figures
            failed += 1
            print(f"{name}: could not run: {type(exc).__name__}: {exc}", flush=True)
            continue
        print(figures.line(), flush=True)
        print("   ", json.dumps(figures.notes, default=str), flush=True)
        if args.json:
            existing = json.loads(args.json.read_text()) if args.json.exists() else {}
            existing[name] = {"key": name, **figures.as_dict()}
            args.json.write_text(json.dumps(existing, indent=2, default=str) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

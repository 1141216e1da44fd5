"""Faults on a real cluster (PostgreSQL, redis-server, gunicorn, RQ workers on loopback),
each during a burst of signed webhooks from many shops; see ops/faults.py.

For each: every delivery answered 200 is processed exactly once, every other answer was a
503 (which Shopify retries), and nothing accepted is lost or applied twice. The figures of
the last run are in benchmarks/README.md (``python -m ops.faults``).
"""

from __future__ import annotations

from ops import faults
from ops.audit import Figures
from plugin.worker import SCHEDULER_TAKEOVER_SECONDS
from tests.proof.cluster import own_cluster

pytestmark = own_cluster(timeout=360)


def _assert_nothing_lost_or_doubled(figures: Figures) -> None:
    print(figures.line(), figures.notes)
    assert figures.answered_other == 0, figures.notes["answers"]
    assert figures.accepted == figures.webhooks, "the driver's retries should all land"
    assert figures.lost == 0
    assert figures.duplicated == 0
    assert figures.processed == figures.accepted


def test_redis_crash_during_a_burst() -> None:
    figures = faults.run_scenario("redis crash", faults.redis_crash(down_for=2.0))
    _assert_nothing_lost_or_doubled(figures)
    assert figures.answered_5xx > 0, "the crash was not felt: the scenario did not happen"


def test_database_down_for_ten_seconds() -> None:
    figures = faults.run_scenario(
        "database outage",
        faults.database_outage(10.0),
        burst=faults.Burst(shops=10, orders_per_shop=3, rate=3.0),
        fault_after=2.0,
    )
    _assert_nothing_lost_or_doubled(figures)
    assert figures.answered_5xx > 0, "the outage was not felt: the scenario did not happen"


def test_worker_killed_mid_job() -> None:
    figures = faults.run_scenario(
        "worker SIGKILL", faults.worker_kill(times=2), burst=faults.Burst(rate=25.0)
    )
    _assert_nothing_lost_or_doubled(figures)
    killed = figures.notes["killed_mid_job"]
    assert len(killed) == 2 and all(k["still_started"] for k in killed), killed
    assert figures.notes["worker_restarts"] >= 2  # the supervisor started them again


def test_every_worker_restarted_during_a_burst() -> None:
    figures = faults.run_scenario("worker restart", faults.worker_restart)
    _assert_nothing_lost_or_doubled(figures)
    assert figures.notes["restarted_workers"] == 2


def test_scheduled_jobs_run_again_soon_after_the_scheduler_holder_is_killed() -> None:
    figures = faults.run_scenario(
        "scheduler holder SIGKILL", faults.scheduler_kill(probes=3), drain_timeout=240
    )
    _assert_nothing_lost_or_doubled(figures)
    assert figures.notes["scheduled_probes_run"] == 3, figures.notes
    # RQ's lock expires, then a surviving or restarted worker's maintenance takes it over.
    bound = SCHEDULER_TAKEOVER_SECONDS + 15  # + a job in progress and the scheduler's poll
    assert figures.notes["scheduled_max_late_seconds"] <= bound, figures.notes

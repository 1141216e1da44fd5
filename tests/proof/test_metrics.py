"""/metrics tells an operator what the spine is doing, job failures included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plugin.runtime import Runtime


def test_a_failed_job_is_counted_on_metrics(
    client: Any, runtime: Runtime, run_jobs: Callable[[], int]
) -> None:
    # A sweep called with an argument it does not take: a TypeError in the worker.
    runtime.queues.enqueue("default", "webhooks.jobs.sweep", 1, retry=None)
    run_jobs()
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'relais_job_failures_total{job="webhooks.jobs.sweep"} 1.0' in metrics


def test_metrics_list_every_queue_with_its_depth_and_age(client: Any, runtime: Runtime) -> None:
    metrics = client.get("/metrics").get_data(as_text=True)
    for queue in runtime.queues.all():
        assert f'relais_queue_depth{{queue="{queue.name}"}}' in metrics
        assert f'relais_queue_oldest_age_seconds{{queue="{queue.name}"}}' in metrics

"""The worker's log: routine periodic lines held back at INFO (plugin.worker.QuietRoutineLines)."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

from plugin.runtime import Runtime
from plugin.worker import PERIODIC_JOB_PREFIX, run_worker


def _worker_log(
    app: Flask, runtime: Runtime, caplog: pytest.LogCaptureFixture, level: int, *job_ids: str
) -> str:
    """RQ's lines while the real worker runs a sweep under each of ``job_ids``."""
    caplog.set_level(level)
    for job_id in job_ids:
        runtime.queues.enqueue("default", "webhooks.jobs.sweep", job_id=job_id, retry=None)
    run_worker(app, burst=True)
    return "\n".join(r.getMessage() for r in caplog.records if r.name == "rq.worker")


def test_periodic_sweeps_stay_out_of_the_info_log_other_jobs_do_not(
    app: Flask, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    periodic_id = f"{PERIODIC_JOB_PREFIX}sweep-1"
    lines = _worker_log(app, runtime, caplog, logging.INFO, periodic_id, "asked-by-an-operator")

    assert "asked-by-an-operator" in lines  # started, Job OK, result kept
    assert periodic_id not in lines
    assert "cleaning registries" not in lines


def test_at_debug_every_line_is_there(
    app: Flask, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    periodic_id = f"{PERIODIC_JOB_PREFIX}sweep-2"
    lines = _worker_log(app, runtime, caplog, logging.DEBUG, periodic_id)

    assert f"job {periodic_id} result is kept" in lines
    assert "Successfully completed webhooks.jobs.sweep() job" in lines

"""Operator endpoints: ``/healthz`` and ``/metrics`` (Prometheus text format)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from flask import Blueprint, Flask, Response, jsonify
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from redis.exceptions import RedisError
from rq.job import Job
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from plugin import stats
from plugin.models import WebhookDelivery
from plugin.notifications.models import NotificationMessage
from plugin.runtime import Runtime, current_runtime
from wallet import metrics as wallet_metrics

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 when the database and Redis both answer, 503 otherwise (and which one failed)."""
    runtime = current_runtime()
    checks: dict[str, str] = {}
    try:
        with runtime.db.session() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        runtime.redis.ping()
        checks["redis"] = "ok"
    except RedisError as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if healthy else "unavailable", checks=checks), (
        200 if healthy else 503
    )


class RelaisCollector:
    """Reads the shared counters and the queues at scrape time."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        redis = self.runtime.redis
        webhooks = CounterMetricFamily(
            "relais_webhooks", "Webhooks received", labels=["topic", "outcome"]
        )
        for count in stats.read_counts(redis, stats.WEBHOOKS_KEY):
            webhooks.add_metric(list(count.labels), count.value)
        yield webhooks
        milestones = CounterMetricFamily(
            "relais_milestones", "Milestones reached by shipments", labels=["milestone"]
        )
        for count in stats.read_counts(redis, stats.MILESTONES_KEY):
            milestones.add_metric(list(count.labels), count.value)
        yield milestones
        failures = CounterMetricFamily("relais_job_failures", "Jobs that failed", labels=["job"])
        for count in stats.read_counts(redis, stats.JOB_FAILURES_KEY):
            failures.add_metric(list(count.labels), count.value)
        yield failures
        pushes = CounterMetricFamily(
            "relais_wallet_pushes", "Wallet pushes to APNs by outcome", labels=["kind", "outcome"]
        )
        for count in stats.read_counts(redis, wallet_metrics.PUSHES_KEY):
            pushes.add_metric(list(count.labels), count.value)
        yield pushes
        depth = GaugeMetricFamily("relais_queue_depth", "Jobs waiting", labels=["queue"])
        age = GaugeMetricFamily(
            "relais_queue_oldest_age_seconds", "Age of the oldest waiting job", labels=["queue"]
        )
        for queue in self.runtime.queues.all():
            depth.add_metric([queue.name], queue.count)
            age.add_metric([queue.name], _oldest_age(queue.get_job_ids(0, 0), redis))
        yield depth
        yield age
        deliveries = GaugeMetricFamily(
            "relais_webhook_deliveries", "Stored webhook deliveries by state", labels=["status"]
        )
        messages = GaugeMetricFamily(
            "relais_notification_messages",
            "Shopper messages by channel and state (queued, sending, sent, failed, skipped)",
            labels=["channel", "state"],
        )
        with self.runtime.db.session() as session:
            rows = session.execute(
                select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
            )
            for status, stored in rows:
                deliveries.add_metric([status], stored)
            by_state = session.execute(
                select(NotificationMessage.channel, NotificationMessage.state, func.count())
                .group_by(NotificationMessage.channel, NotificationMessage.state)
            )
            for channel, state, stored in by_state:
                messages.add_metric([channel, state], stored)
        yield deliveries
        yield messages


def _oldest_age(job_ids: list[str], redis: object) -> float:
    if not job_ids:
        return 0.0
    try:
        job = Job.fetch(job_ids[0], connection=redis)  # type: ignore[arg-type]
    except Exception:  # the job expired between the two calls: no age to report
        return 0.0
    if job.enqueued_at is None:
        return 0.0
    return max(0.0, time.time() - job.enqueued_at.timestamp())


@bp.get("/metrics")
def metrics() -> Response:
    registry = CollectorRegistry()
    registry.register(RelaisCollector(current_runtime()))
    return Response(generate_latest(registry), mimetype="text/plain; version=0.0.4")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

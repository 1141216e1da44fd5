"""/metrics tells an operator what the spine is doing, job failures included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plugin.models import Shop
from plugin.notifications.models import NotificationMessage
from plugin.runtime import Runtime
from wallet.metrics import count_pushes


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


def test_metrics_count_messages_by_channel_and_state(
    client: Any, runtime: Runtime, shop: Shop
) -> None:
    wanted = {("email", "sent"): 2, ("sms", "failed"): 1, ("sms", "queued"): 3}
    with runtime.db.transaction() as session:
        for (channel, state), count in wanted.items():
            for n in range(count):
                session.add(
                    NotificationMessage(
                        shop_id=shop.id, dedupe_key=f"metrics-{channel}-{state}-{n}",
                        channel=channel, state=state, locale="fr",
                    )
                )
    metrics = client.get("/metrics").get_data(as_text=True)
    for (channel, state), count in wanted.items():
        line = f'relais_notification_messages{{channel="{channel}",state="{state}"}} {count}.0'
        assert line in metrics
    assert 'channel="whatsapp"' not in metrics


def test_metrics_show_wallet_push_outcomes(client: Any, runtime: Runtime) -> None:
    # What wallet.jobs.push records after each batch of APNs answers.
    count_pushes(runtime.redis, "pass", {"ok": 5, "unregister": 1})
    count_pushes(runtime.redis, "pass", {"ok": 2, "retry": 1})
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'relais_wallet_pushes_total{kind="pass",outcome="ok"} 7.0' in metrics
    assert 'relais_wallet_pushes_total{kind="pass",outcome="unregister"} 1.0' in metrics
    assert 'relais_wallet_pushes_total{kind="pass",outcome="retry"} 1.0' in metrics

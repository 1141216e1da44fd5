"""Proactive alerts: found with the merchant's thresholds, raised once, sent like milestones."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, select

from plugin.models import DomainEvent
from plugin.notifications import jobs
from plugin.notifications.settings import DEFAULT_SETTINGS, AlertThresholds, save_settings
from tests.notifications.conftest import CAMILLE, EMMA, TUESDAY_10H_PARIS, messages, outbox

START = TUESDAY_10H_PARIS - timedelta(days=2)  # when the stories begin (see conftest.story)


def derived(runtime) -> list[tuple[str, int | None]]:  # type: ignore[no-untyped-def]
    with runtime.db.session() as session:
        return [
            (e.milestone, e.shipment_id)
            for e in session.scalars(
                select(DomainEvent)
                .where(DomainEvent.dedupe_key.like("alert:%"))
                .order_by(DomainEvent.id)
            )
        ]


def test_not_shipped_is_raised_once_after_the_threshold(story, run_jobs, runtime, frozen_now):
    s = story(EMMA, 1002)
    s.ordered()
    run_jobs()
    frozen_now(START + timedelta(days=2, hours=23))
    assert jobs.raise_alerts() == {}
    frozen_now(START + timedelta(days=3, hours=1))
    assert jobs.raise_alerts() == {"not_shipped": 1}
    assert jobs.raise_alerts() == {"not_shipped": 1}  # found again, announced once
    run_jobs()
    assert derived(runtime) == [("not_shipped", None)]
    (message,) = messages(runtime)
    assert (message.milestone, message.channel, message.state) == ("not_shipped", "email", "sent")
    assert outbox(runtime)[0].subject == "Your order #1002 is taking a little longer"
    # Shipped since: nothing more, and no second alert.
    s.shipped(hours=80)
    frozen_now(START + timedelta(days=9))
    jobs.raise_alerts()
    run_jobs()
    assert derived(runtime) == [("not_shipped", None)]


def test_stalled_late_pickup_and_feedback(story, run_jobs, runtime, frozen_now):
    emma = story(EMMA, 1002)
    emma.ordered()
    e1 = emma.shipped()
    emma.event(e1, "in_transit", 20, estimated_delivery_at=START + timedelta(days=2))
    camille = story(CAMILLE, 1001)
    camille.ordered()
    c1 = camille.shipped()
    camille.event(c1, "ready_for_pickup", 44)
    louis = story(CAMILLE, 1003)
    louis.ordered()
    l1 = louis.shipped()
    louis.event(l1, "delivered", 50)
    run_jobs()
    frozen_now(START + timedelta(days=3, hours=3))
    counts = jobs.raise_alerts()
    # Emma's parcel is a day past its estimate; Camille's waits since 44 h; Louis' is recent.
    assert counts == {"late": 1}
    frozen_now(START + timedelta(days=5, hours=3))
    counts = jobs.raise_alerts()
    assert counts == {"stalled": 1, "pickup_reminder": 1, "late": 1, "feedback_request": 1}
    run_jobs()
    alerts = [
        (m.milestone, m.channel, m.state)
        for m in messages(runtime)
        if m.milestone in ("stalled", "late", "pickup_reminder", "feedback_request")
    ]
    assert sorted(alerts) == [
        ("feedback_request", "email", "sent"),
        ("late", "email", "sent"),
        ("pickup_reminder", "sms", "sent"),  # urgent: Camille has a phone and consent
        ("stalled", "email", "sent"),
    ]
    frozen_now(START + timedelta(days=6))
    jobs.raise_alerts()
    with runtime.db.session() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(DomainEvent)
                .where(DomainEvent.dedupe_key.like("alert:%"))
            )
            == 4
        )


def test_thresholds_are_the_merchants(story, run_jobs, runtime, frozen_now, shop):
    with runtime.db.transaction() as session:
        save_settings(
            session,
            shop.id,
            replace(
                DEFAULT_SETTINGS,
                thresholds=AlertThresholds(
                    not_shipped_days=0,
                    stalled_days=0,
                    pickup_reminder_days=1,
                    late_days=0,
                    feedback_days=0,
                ),
            ),
        )
    camille = story(CAMILLE, 1001)
    camille.ordered()
    c1 = camille.shipped()
    camille.event(c1, "ready_for_pickup", 44)
    emma = story(EMMA, 1002)
    emma.ordered()
    run_jobs()
    frozen_now(START + timedelta(days=10))
    assert jobs.raise_alerts() == {"pickup_reminder": 1}


def test_cancelled_orders_get_no_alert(story, run_jobs, runtime, frozen_now, post_webhook):
    from plugin.shopify_payloads import order_payload

    emma = story(EMMA, 1002)
    emma.ordered()
    post_webhook(
        "orders/cancelled",
        order_payload(
            order_id=emma.order_id,
            number=1002,
            shopper=EMMA,
            items=emma.items,
            created_at=START,
            updated_at=START + timedelta(hours=1),
            cancelled_at=START + timedelta(hours=1),
        ),
    )
    run_jobs()
    frozen_now(START + timedelta(days=8))
    assert jobs.raise_alerts() == {}

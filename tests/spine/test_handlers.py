"""Topic handlers: Shopify's samples, splits, duplicates, reordering, unknown statuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from plugin.models import DomainEvent, Order, Shipment, Shop, TrackingEvent, WebhookDelivery
from plugin.shopify_payloads import (
    Item,
    Shopper,
    fulfillment_event_payload,
    fulfillment_payload,
    next_id,
    order_payload,
)

HANDLED_TOPICS = [
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "orders/fulfilled",
    "orders/partially_fulfilled",
    "fulfillments/create",
    "fulfillments/update",
    "fulfillment_events/create",
    "fulfillment_events/delete",
    "app/uninstalled",
    "shop/update",
    "customers/data_request",
    "customers/redact",
    "shop/redact",
]
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _statuses(runtime):
    with runtime.db.session() as s:
        return {d.topic: (d.status, d.error) for d in s.scalars(select(WebhookDelivery))}


@pytest.mark.parametrize("topic", HANDLED_TOPICS)
def test_every_shopify_sample_goes_through_intake_and_handler(
    topic, post_webhook, run_jobs, runtime, fixture_payload
):
    response = post_webhook(topic, fixture_payload(topic))
    assert response.status_code == 200, response.get_json()
    run_jobs()
    status, error = _statuses(runtime)[topic]
    assert (status, error) == ("processed", None)
    with runtime.db.session() as s:
        delivery = s.scalar(select(WebhookDelivery))
        assert delivery.payload is None  # not kept once applied


def test_samples_in_sequence_build_the_order(post_webhook, run_jobs, runtime, fixture_payload):
    for topic in [
        "orders/create",
        "fulfillments/create",
        "fulfillment_events/create",
        "fulfillments/update",
        "orders/fulfilled",
    ]:
        assert post_webhook(topic, fixture_payload(topic)).status_code == 200
    run_jobs()
    with runtime.db.session() as s:
        order = s.scalar(select(Order))
        assert order.shopify_id == 820982911946154508
        assert order.name == "#9999"
        assert order.first_name == "John"
        shipment = s.scalar(select(Shipment))
        assert shipment.tracking_company == "UPS"
        assert shipment.tracking_number == "1z827wk74630"
        assert shipment.milestone == "in_transit"
    # fulfillment_events/delete of the same event takes it off the timeline.
    post_webhook("fulfillment_events/delete", fixture_payload("fulfillment_events/delete"))
    run_jobs()
    with runtime.db.session() as s:
        assert (
            s.scalar(select(TrackingEvent).where(TrackingEvent.source == "fulfillment_event"))
            is None
        )
        assert s.scalar(select(Shipment.milestone)) == "label_created"


class Story:
    """A small French order to drive the domain through webhooks."""

    def __init__(self, post_webhook, run_jobs):
        self.post, self.run = post_webhook, run_jobs
        self.order_id = next_id()
        self.item = Item("Bougie", "32.00")
        self.shopper = Shopper(
            "Camille", "Martin", "camille@example.fr", "+33612345678", "Lyon", "69003", "FR", "fr"
        )

    def order(self, **kw):
        payload = order_payload(
            order_id=self.order_id,
            number=1001,
            shopper=self.shopper,
            items=[self.item],
            created_at=T0,
            **kw,
        )
        return self.post(
            kw.pop("topic", "orders/create") if "topic" in kw else "orders/create", payload
        )

    def fulfillment(self, fid, *, topic="fulfillments/create", **kw):
        kw.setdefault("created_at", T0 + timedelta(hours=2))
        payload = fulfillment_payload(
            fulfillment_id=fid,
            order_id=self.order_id,
            name=f"#1001.{fid % 10}",
            items=[self.item],
            **kw,
        )
        return self.post(topic, payload)

    def event(self, fid, status, hours, event_id=None, webhook_id=None):
        payload = fulfillment_event_payload(
            event_id=event_id or next_id(),
            fulfillment_id=fid,
            order_id=self.order_id,
            status=status,
            happened_at=T0 + timedelta(hours=hours),
        )
        return self.post("fulfillment_events/create", payload, webhook_id=webhook_id)


def _timeline(runtime, shipment_id=None):
    with runtime.db.session() as s:
        q = select(TrackingEvent.milestone).order_by(TrackingEvent.happened_at, TrackingEvent.id)
        if shipment_id:
            q = q.where(TrackingEvent.shipment_id == shipment_id)
        return list(s.scalars(q))


def _shipments(runtime):
    with runtime.db.session() as s:
        return {sh.shopify_fulfillment_id: sh for sh in s.scalars(select(Shipment))}


def _announced(runtime):
    with runtime.db.session() as s:
        return [
            (e.shipment_id, e.milestone)
            for e in s.scalars(select(DomainEvent).order_by(DomainEvent.id))
        ]


def test_split_shipments_are_separate_shipments_of_one_order(post_webhook, run_jobs, runtime):
    story = Story(post_webhook, run_jobs)
    story.order()
    story.fulfillment(11)
    story.fulfillment(12, carrier="Chronopost", tracking_number="XY1")
    story.event(11, "delivered", 30)
    story.event(12, "in_transit", 31)
    run_jobs()
    shipments = _shipments(runtime)
    assert {k: v.milestone for k, v in shipments.items()} == {11: "delivered", 12: "in_transit"}
    assert len({v.order_id for v in shipments.values()}) == 1
    assert shipments[11].delivered_at == T0 + timedelta(hours=30)
    assert shipments[12].tracking_company == "Chronopost"


def test_same_event_twice_is_one_timeline_entry_and_one_announcement(
    post_webhook, run_jobs, runtime
):
    story = Story(post_webhook, run_jobs)
    story.order()
    story.fulfillment(21)
    event_id = next_id()
    # Two different webhook ids carrying the same event (Shopify can emit it twice).
    story.event(21, "in_transit", 10, event_id=event_id)
    story.event(21, "in_transit", 10, event_id=event_id)
    run_jobs()
    assert _timeline(runtime).count("in_transit") == 1
    assert [m for _, m in _announced(runtime)].count("in_transit") == 1


def test_an_older_event_arriving_late_never_moves_a_shipment_back(post_webhook, run_jobs, runtime):
    story = Story(post_webhook, run_jobs)
    story.order()
    story.fulfillment(31)
    story.event(31, "delivered", 50)
    run_jobs()
    story.event(31, "out_for_delivery", 45)
    story.event(31, "in_transit", 20)
    run_jobs()
    shipment = _shipments(runtime)[31]
    assert shipment.milestone == "delivered"
    assert _timeline(runtime, shipment.id) == [
        "shipped",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    assert [m for _, m in _announced(runtime)] == ["ordered", "shipped", "delivered"]


def test_an_older_fulfillment_update_is_ignored(post_webhook, run_jobs, runtime):
    story = Story(post_webhook, run_jobs)
    story.order()
    story.fulfillment(
        41,
        topic="fulfillments/create",
        shipment_status="out_for_delivery",
        updated_at=T0 + timedelta(hours=30),
    )
    run_jobs()
    story.fulfillment(
        41,
        topic="fulfillments/update",
        shipment_status="in_transit",
        updated_at=T0 + timedelta(hours=10),
    )
    run_jobs()
    assert _shipments(runtime)[41].milestone == "out_for_delivery"


def test_a_failed_attempt_then_delivered(post_webhook, run_jobs, runtime):
    story = Story(post_webhook, run_jobs)
    story.order()
    story.fulfillment(51)
    for hours, status in [
        (20, "out_for_delivery"),
        (24, "attempted_delivery"),
        (44, "out_for_delivery"),
        (46, "delivered"),
    ]:
        story.event(51, status, hours)
    run_jobs()
    assert [m for _, m in _announced(runtime)] == [
        "ordered",
        "shipped",
        "out_for_delivery",
        "attempted_delivery",
        "out_for_delivery",
        "delivered",
    ]


def test_unknown_statuses_are_kept_and_logged_never_a_crash(
    post_webhook, run_jobs, runtime, caplog
):
    story = Story(post_webhook, run_jobs)
    story.order()
    story.fulfillment(61)
    story.event(61, "in_transit", 10)
    story.event(61, "teleported_by_drone", 12)
    story.fulfillment(
        61,
        topic="fulfillments/update",
        shipment_status="SOMETHING_NEW",
        updated_at=T0 + timedelta(hours=13),
    )
    run_jobs()
    assert all(status == "processed" for status, _ in _statuses(runtime).values())
    with runtime.db.session() as s:
        raws = list(
            s.scalars(select(TrackingEvent.raw_status).where(TrackingEvent.milestone.is_(None)))
        )
    assert set(raws) == {"teleported_by_drone", "SOMETHING_NEW"}
    assert _shipments(runtime)[61].milestone == "in_transit"
    assert any("unknown Shopify shipment status" in r.getMessage() for r in caplog.records)


def test_upper_case_graphql_statuses_map_too():
    from plugin.milestones import Milestone, from_shopify_status

    assert from_shopify_status("OUT_FOR_DELIVERY") is Milestone.OUT_FOR_DELIVERY
    assert from_shopify_status("CARRIER_PICKED_UP") is Milestone.SHIPPED
    assert from_shopify_status("PICKED_UP") is Milestone.DELIVERED


def test_fulfillment_before_its_order_then_the_order(post_webhook, run_jobs, runtime):
    story = Story(post_webhook, run_jobs)
    story.fulfillment(71)
    run_jobs()
    with runtime.db.session() as s:
        assert s.scalar(select(Order.is_complete)) is False
    story.order()
    run_jobs()
    with runtime.db.session() as s:
        order = s.scalar(select(Order))
        assert order.is_complete and order.name == "#1001"
        assert s.scalar(select(Shipment.order_id)) == order.id


def test_cancelled_order(post_webhook, run_jobs, runtime):
    story = Story(post_webhook, run_jobs)
    story.order()
    story.order(cancelled_at=T0 + timedelta(hours=1), updated_at=T0 + timedelta(hours=1))
    run_jobs()
    with runtime.db.session() as s:
        assert s.scalar(select(Order.cancelled_at)) == T0 + timedelta(hours=1)
    assert [m for _, m in _announced(runtime)] == ["ordered", "cancelled"]


def test_a_stale_order_update_does_not_undo_a_cancellation(post_webhook, run_jobs, runtime):
    story = Story(post_webhook, run_jobs)
    story.order(cancelled_at=T0 + timedelta(hours=1), updated_at=T0 + timedelta(hours=1))
    run_jobs()
    story.order(updated_at=T0 + timedelta(minutes=5))  # older orders/updated, arrives late
    run_jobs()
    with runtime.db.session() as s:
        assert s.scalar(select(Order.cancelled_at)) is not None


def test_a_payload_missing_its_id_fails_with_a_reason_and_no_retry(post_webhook, run_jobs, runtime):
    post_webhook(
        "fulfillment_events/create", {"status": "in_transit", "happened_at": "2026-11-02T10:00:00Z"}
    )
    run_jobs()
    status, error = _statuses(runtime)["fulfillment_events/create"]
    assert status == "failed"
    assert "id is missing" in error


def test_pickup_point_is_recognised(post_webhook, run_jobs, runtime):
    story = Story(post_webhook, run_jobs)
    story.order(
        shipping_title="Mondial Relay Point Relais",
        pickup={"name": "Tabac du Parc", "address1": "8 av. Foch", "zip": "69006", "city": "Lyon"},
    )
    run_jobs()
    with runtime.db.session() as s:
        order = s.scalar(select(Order))
    assert order.pickup_point["name"] == "Tabac du Parc"
    assert order.ship_city == "Lyon"  # the shopper's own city, from the billing address


def test_uninstall_then_orders_are_ignored_then_reinstall(
    post_webhook, run_jobs, runtime, fixture_payload
):
    post_webhook("app/uninstalled", fixture_payload("app/uninstalled"))
    run_jobs()
    with runtime.db.session() as s:
        assert s.scalar(select(Shop.uninstalled_at)) is not None
    post_webhook("orders/create", fixture_payload("orders/create"))
    run_jobs()
    assert _statuses(runtime)["orders/create"][0] == "ignored"

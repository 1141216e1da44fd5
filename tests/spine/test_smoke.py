from sqlalchemy import select

from plugin.models import Order, Shipment, TrackingEvent, WebhookDelivery


def test_order_then_fulfillment_then_event(post_webhook, run_jobs, runtime, fixture_payload):
    assert post_webhook("orders/create", fixture_payload("orders/create")).status_code == 200
    assert (
        post_webhook("fulfillments/create", fixture_payload("fulfillments/create")).status_code
        == 200
    )
    assert (
        post_webhook(
            "fulfillment_events/create", fixture_payload("fulfillment_events/create")
        ).status_code
        == 200
    )
    run_jobs()
    with runtime.db.session() as s:
        statuses = [d.status for d in s.scalars(select(WebhookDelivery))]
        assert statuses == ["processed"] * 3
        order = s.scalar(select(Order))
        assert order.name == "#9999"
        shipment = s.scalar(select(Shipment))
        assert shipment.milestone == "in_transit"
        assert [
            e.milestone for e in s.scalars(select(TrackingEvent).order_by(TrackingEvent.id))
        ] == [
            # Shopify's generic sample order carries a cancelled_at, so it is cancelled too.
            "ordered",
            "cancelled",
            "label_created",
            "in_transit",
        ]

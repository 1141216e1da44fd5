"""Messages in an order's record: ``relais order show``, export and erasure on request."""

from __future__ import annotations

from sqlalchemy import select

from plugin.models import DataExport
from plugin.order_view import describe_order
from tests.notifications.conftest import CAMILLE, messages, outbox


def _story(story, run_jobs):  # type: ignore[no-untyped-def]
    camille = story(CAMILLE, 1001)
    camille.ordered()
    fulfillment = camille.shipped()
    run_jobs()
    camille.event(fulfillment, "out_for_delivery", 40)
    run_jobs()
    return camille


def test_order_show_lists_the_messages(story, run_jobs, runtime, frozen_now, shop):
    _story(story, run_jobs)
    view = describe_order(runtime, shop.domain, "#1001")
    assert [(m["what"], m["channel"], m["state"]) for m in view["messages"]] == [
        ("shipped", "email", "sent"),
        ("out_for_delivery", "sms", "sent"),
    ]
    assert view["messages"][0]["subject"] == "Votre commande #1001 est en route"


def test_customer_data_request_and_redact(story, run_jobs, runtime, frozen_now, post_webhook):
    camille = _story(story, run_jobs)
    customer = {"id": 7_000_000_001_001, "email": CAMILLE.email, "phone": CAMILLE.phone}
    post_webhook(
        "customers/data_request",
        {
            "shop_id": 1,
            "shop_domain": "demo-shop.myshopify.com",
            "customer": customer,
            "orders_requested": [camille.order_id],
            "data_request": {"id": 9999},
        },
    )
    run_jobs()
    with runtime.db.session() as session:
        export = session.scalar(select(DataExport))
        assert export is not None
        exported = export.content["messages"]
    assert [m["to"] for m in exported] == [CAMILLE.email, "+33612345678"]
    assert exported[1]["text"].startswith("Maison Lumière : votre colis #1001 arrive")

    post_webhook(
        "customers/redact",
        {
            "shop_id": 1,
            "shop_domain": "demo-shop.myshopify.com",
            "customer": customer,
            "orders_to_redact": [camille.order_id],
        },
    )
    run_jobs()
    assert [(m.recipient, m.body_text, m.subject) for m in messages(runtime)] == [
        (None, None, None),
        (None, None, None),
    ]
    assert outbox(runtime) == []

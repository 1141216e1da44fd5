"""Click redirect (UTM, allow-list, counting), one-tap ratings with alerts, attribution."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from frontend.models import ShipmentFeedback
from plugin.insights.feedback import rating_links
from plugin.insights.models import FeedbackAlert, InsightEvent, OrderAttribution
from plugin.links import click_link
from plugin.models import Order, Shipment
from plugin.notifications.models import OutboxEntry


def test_click_link_counts_and_redirects_only_to_the_shop(client, runtime, config, shop):
    url = click_link(
        config,
        shop.domain,
        "https://maison-lumiere.fr/products/x?ref=1",
        channel="email",
        milestone="shipped",
        message_id=42,
    )
    response = client.get(url.removeprefix(config.app_url))
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert target.netloc == "maison-lumiere.fr"
    assert parse_qs(target.query) == {
        "ref": ["1"],
        "utm_source": ["relais"],
        "utm_medium": ["email"],
        "utm_campaign": ["shipped"],
    }
    for bad in (
        "https://evil.example/x",
        "https://maison-lumiere.fr.evil.example/",
        "javascript:alert(1)",
        "https://user@maison-lumiere.fr/",
    ):
        link = click_link(config, shop.domain, bad, channel="sms", milestone="shipped")
        assert client.get(link.removeprefix(config.app_url)).status_code == 400, bad
    assert client.get("/r/forged-token").status_code == 400
    tampered = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    assert client.get(tampered.removeprefix(config.app_url)).status_code == 400
    with runtime.db.session() as session:
        clicks = list(session.scalars(select(InsightEvent)))
    assert [(c.kind, c.message_id, c.channel, c.campaign) for c in clicks] == [
        ("click", 42, "email", "shipped")
    ]


def _delivered_order(runtime, shop, **settings):
    with runtime.db.transaction() as session:
        s = session.merge(shop)
        s.settings = {"support_email": "sav@maison-lumiere.fr", **settings}
        order = Order(
            shop_id=shop.id,
            shopify_id=555,
            name="#1555",
            public_id="pubid0000555",
            total_price=42,
            currency="EUR",
            email="camille@example.fr",
            line_items=[],
        )
        session.add(order)
        session.flush()
        shipment = Shipment(
            shop_id=shop.id,
            order_id=order.id,
            shopify_fulfillment_id=9,
            milestone="delivered",
            line_items=[],
        )
        session.add(shipment)
    return order, shipment


def test_one_tap_rating_updates_alerts_low_and_offers_review_on_high(
    client, runtime, config, shop, run_jobs
):
    feedback = {"scale": "nps", "review_url": "https://g.page/r/maison/review"}
    order, shipment = _delivered_order(runtime, shop, feedback=feedback)
    with runtime.db.session() as session:
        loaded_shop = session.get(type(shop), shop.id)
        links = rating_links(config, loaded_shop, order, shipment, channel="email")
    assert [score for score, _ in links] == list(range(11))
    low = dict(links)[2].removeprefix(config.app_url)
    page = client.get(low)
    assert page.status_code == 200 and "g.page" not in page.text
    client.post(low.split("?")[0], data={"comment": "Colis abîmé"})
    run_jobs()
    with runtime.db.session() as session:
        answers = list(session.scalars(select(ShipmentFeedback)))
        alerts = list(session.scalars(select(FeedbackAlert)))
        mails = list(session.scalars(select(OutboxEntry)))
    assert [(a.rating, a.scale, a.comment, a.channel) for a in answers] == [
        (2, "nps", "Colis abîmé", "email")
    ]
    assert len(alerts) == 1 and alerts[0].sent_at is not None
    assert len(mails) == 1 and mails[0].recipient == "sav@maison-lumiere.fr"
    assert "#1555" in (mails[0].subject or "")
    high = client.get(dict(links)[10].removeprefix(config.app_url))
    assert "https://g.page/r/maison/review" in high.text
    run_jobs()
    with runtime.db.session() as session:
        answers = list(session.scalars(select(ShipmentFeedback)))
        assert len(list(session.scalars(select(OutboxEntry)))) == 1  # no alert for a high one
    assert [a.rating for a in answers] == [10]  # one answer per shipment, updated


def test_the_merchants_low_score_threshold_decides_the_alert(
    client, runtime, config, shop, run_jobs
):
    """0 to 10 with "low up to 4": a 5 (low by default) alerts nobody, a 4 does."""
    order, shipment = _delivered_order(runtime, shop, feedback={"scale": "nps", "low_at_most": 4})
    with runtime.db.session() as session:
        loaded_shop = session.get(type(shop), shop.id)
        links = dict(rating_links(config, loaded_shop, order, shipment, channel="sms"))
    client.get(links[5].removeprefix(config.app_url))
    run_jobs()
    with runtime.db.session() as session:
        assert list(session.scalars(select(FeedbackAlert))) == []
    client.get(links[4].removeprefix(config.app_url))
    run_jobs()
    with runtime.db.session() as session:
        alerts = list(session.scalars(select(FeedbackAlert)))
    assert [a.rating for a in alerts] == [4]


def order_payload(*, order_id: int, total_price: str) -> dict:
    at = datetime.now(UTC).isoformat()
    return {
        "id": order_id,
        "name": f"#{order_id}",
        "created_at": at,
        "updated_at": at,
        "currency": "EUR",
        "total_price": total_price,
        "line_items": [],
    }


def test_orders_from_relais_links_or_codes_are_attributed(post_webhook, run_jobs, runtime, shop):
    with runtime.db.transaction() as session:
        session.merge(shop).settings = {"upsell": {"discount_code": "MERCI10"}}
    linked = order_payload(order_id=7001, total_price="59.90")
    linked["landing_site"] = "/products/x?utm_source=relais&utm_medium=sms&utm_campaign=delivered"
    coded = order_payload(order_id=7002, total_price="20.00")
    coded["discount_codes"] = [{"code": "merci10", "amount": "2.00", "type": "percentage"}]
    plain = order_payload(order_id=7003, total_price="10.00")
    plain["landing_site"] = "/?utm_source=newsletter"
    for payload in (linked, coded, plain):
        assert post_webhook("orders/create", payload).status_code == 200
    run_jobs()
    with runtime.db.session() as session:
        rows = session.execute(
            select(
                Order.shopify_id,
                OrderAttribution.source,
                OrderAttribution.channel,
                OrderAttribution.campaign,
                OrderAttribution.revenue,
            )
            .join(Order, Order.id == OrderAttribution.order_id)
            .order_by(Order.shopify_id)
        ).all()
    assert [(r[0], r[1], r[2], r[3], str(r[4])) for r in rows] == [
        (7001, "link", "sms", "delivered", "59.90"),
        (7002, "discount_code", None, "upsell", "20.00"),
    ]

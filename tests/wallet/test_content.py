"""What an order's pass and Wallet order show: split shipments, branding, offer, dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from plugin.models import Order, Shipment, Shop
from plugin.runtime import Runtime
from plugin.shopify_payloads import Item
from tests.wallet.checks import openssl_verify
from tests.wallet.device import ORDER, PASS, T0, OrderStory, download
from wallet.content import order_state, pass_colours, shop_offer
from wallet.orders import validate_order
from wallet.passes import Rgb, validate_pass

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _shipment(id_: int, milestone: str, hours: float, **fields: Any) -> Shipment:
    return Shipment(
        id=id_, milestone=milestone, milestone_at=NOW + timedelta(hours=hours), **fields
    )


def _order(**fields: Any) -> Order:
    return Order(id=1, created_at=NOW, shopify_created_at=NOW, **fields)


# ------------------------------------------------------------------ split shipments


def test_a_split_order_shows_the_parcel_still_awaited() -> None:
    delivered = _shipment(1, "delivered", 30, delivered_at=NOW + timedelta(hours=30))
    travelling = _shipment(2, "in_transit", 20, tracking_number="XY2")
    state = order_state(_order(), [delivered, travelling])
    assert (state.milestone, state.parcels, state.shown) == ("in_transit", 2, travelling)


def test_a_parcel_needing_the_shopper_comes_first() -> None:
    waiting = _shipment(1, "ready_for_pickup", 10)
    ahead = _shipment(2, "out_for_delivery", 40)
    behind = _shipment(3, "label_created", 1)
    assert order_state(_order(), [behind, ahead, waiting]).shown is waiting
    attempted = _shipment(4, "attempted_delivery", 50)
    assert order_state(_order(), [behind, attempted, waiting]).shown is waiting
    assert order_state(_order(), [behind, attempted]).shown is attempted


def test_delivered_only_when_every_parcel_is() -> None:
    first = _shipment(1, "delivered", 30, delivered_at=NOW + timedelta(hours=30))
    last = _shipment(2, "delivered", 50, delivered_at=NOW + timedelta(hours=50))
    state = order_state(_order(), [last, first])
    assert (state.milestone, state.shown, state.parcels) == ("delivered", last, 2)
    assert state.milestone_at == NOW + timedelta(hours=50)


def test_cancelled_orders_and_parcels() -> None:
    cancelled = _order(cancelled_at=NOW + timedelta(hours=3))
    assert order_state(cancelled, [_shipment(1, "in_transit", 2)]).milestone == "cancelled"
    # A cancelled parcel does not count; nothing shipped yet reads "ordered".
    state = order_state(_order(), [_shipment(1, "cancelled", 2)])
    assert (state.milestone, state.parcels, state.shown) == ("ordered", 1, None)
    state = order_state(_order(), [_shipment(1, "cancelled", 2), _shipment(2, "shipped", 3)])
    assert (state.milestone, state.parcels) == ("shipped", 1)


# --------------------------------------------------------------------------- branding


def test_colours_stay_legible() -> None:
    background, foreground, label = pass_colours("#ffffff", "#fefefe")
    assert background == Rgb(255, 255, 255)
    assert foreground == Rgb(17, 17, 17)  # ink on white
    assert label == foreground  # a near-white accent is illegible on white
    background, foreground, label = pass_colours("#102030", "#f0c040")
    assert foreground == Rgb(255, 255, 255)
    assert label == Rgb(240, 192, 64)
    assert pass_colours(None, None)[0] == Rgb(28, 58, 94)
    assert pass_colours("not a colour", None)[0] == Rgb(28, 58, 94)


def _shop(upsell: dict[str, Any]) -> Shop:
    return Shop(domain="demo-shop.myshopify.com", settings={"upsell": upsell})


def test_the_offer_comes_from_the_upsell_settings() -> None:
    both = _shop({"discount_text": {"fr": "-10 % avec MERCI", "en": "10% off with MERCI"}})
    offer = shop_offer(both, "fr")
    assert offer is not None and (offer.fr, offer.en) == ("-10 % avec MERCI", "10% off with MERCI")
    french_only = shop_offer(_shop({"discount_text": {"fr": "-10 % avec MERCI"}}), "fr")
    assert french_only is not None and french_only.en == "-10 % avec MERCI"
    code_only = shop_offer(_shop({"discount_code": "MERCI10"}), "en")
    assert code_only is not None and "MERCI10" in code_only.fr and "MERCI10" in code_only.en
    assert shop_offer(_shop({"enabled": False, "discount_code": "X"}), "fr") is None
    assert shop_offer(_shop({}), "fr") is None
    # An offer whose English would be a fixed label's key cannot be translated apart.
    assert shop_offer(_shop({"discount_text": {"fr": "Livré", "en": "Delivered"}}), "fr") is None


# ------------------------------------------------------------- packages of a real order


@pytest.fixture
def branded_shop(shop: Shop, runtime: Runtime) -> Shop:
    with runtime.db.transaction() as session:
        row = session.get(Shop, shop.id)
        assert row is not None
        row.settings = {
            "branding": {"primary_color": "#2b2d42", "accent_color": "#ef8354"},
            "support_email": "sav@maison-lumiere.fr",
            "upsell": {"discount_text": {"fr": "-15 % : MERCI15", "en": "15% off: MERCI15"}},
        }
    return shop


def test_a_split_order_through_webhooks(
    branded_shop: Shop, post_webhook: Any, run_jobs: Any, client: Any, config: Any,
    runtime: Runtime, openssl: str, chain: Any, tmp_path: Path,
) -> None:  # fmt: skip
    story = OrderStory(post_webhook, run_jobs).create()
    candle, plaid = story.items
    story.ship(9001, items=[candle], carrier="Colissimo", tracking_number="6A1")
    story.ship(9002, items=[plaid], carrier="Chronopost", tracking_number="XY2")
    story.event(9001, "delivered", 30)
    story.event(9002, "in_transit", 31, estimated_delivery_at=T0 + timedelta(days=3))

    package = download(client, config, PASS, story.public_id(runtime))
    document = package.document
    fields = {f["key"]: f for group in document["generic"].values() for f in group}
    assert fields["status"]["value"] == "In transit"
    assert fields["parcels"]["value"] == 2
    assert fields["carrier"]["value"] == "Chronopost"  # the parcel still awaited
    assert fields["tracking_number"]["value"] == "XY2"
    assert fields["eta"]["value"].startswith((T0 + timedelta(days=3)).date().isoformat())
    assert fields["support"]["value"] == "sav@maison-lumiere.fr"
    assert "offer" not in fields  # not before the parcels arrive
    assert "rating" not in fields  # nor the rating, while a parcel is on its way
    assert document["backgroundColor"] == "rgb(43, 45, 66)"
    assert document["labelColor"] == "rgb(239, 131, 84)"
    assert document["organizationName"] == "Maison Lumière"
    assert document["relevantDates"]  # the expected delivery day
    assert "voided" not in document and "expirationDate" not in document
    assert validate_pass(document, {"fr": {}, "en": {}}) == []
    signer = openssl_verify(
        openssl, package.files["signature"], package.files["manifest.json"], chain, tmp_path
    )
    assert b"BEGIN CERTIFICATE" in signer

    order = download(client, config, ORDER, story.public_id(runtime)).document
    assert validate_order(order) == []
    assert order["status"] == "open"
    assert [item["title"] for item in order["lineItems"]] == ["Bougie parfumée", "Plaid"]
    assert order["lineItems"][0]["price"] == {"amount": 32.0, "currency": "EUR"}
    fulfillments = {f["fulfillmentIdentifier"]: f for f in order["fulfillments"]}
    assert fulfillments["9001"]["status"] == "delivered"
    assert [i["title"] for i in fulfillments["9001"]["lineItems"]] == ["Bougie parfumée"]
    assert fulfillments["9002"]["status"] == "onTheWay"
    assert fulfillments["9002"]["carrier"] == "Chronopost"
    assert order["merchant"]["displayName"] == "Maison Lumière"
    assert order["merchant"]["url"] == "https://maison-lumiere.fr"
    assert order["orderManagementURL"].startswith("https://maison-lumiere.fr/apps/track/o/")

    # The second parcel arrives: delivered, the offer appears, the pass expires later.
    story.event(9002, "delivered", 60)
    document = download(client, config, PASS, story.public_id(runtime)).document
    fields = {f["key"]: f for group in document["generic"].values() for f in group}
    assert fields["status"]["value"] == "Delivered"
    assert fields["offer"]["value"] == "15% off: MERCI15"
    # One tap from the back of the pass to the rating form of the parcel shown.
    rating = fields["rating"]["value"]
    assert rating.startswith("https://maison-lumiere.fr/apps/track/o/")
    anchor = rating.rsplit("#", 1)[1]
    with runtime.db.session() as session:
        shipment_id = session.scalar(
            select(Shipment.id).where(Shipment.shopify_fulfillment_id == 9002)
        )
    assert anchor == f"rl-feedback-{shipment_id}"
    assert "relevantDates" not in document
    assert document["expirationDate"] > document["generic"]["secondaryFields"][-1]["value"]
    order = download(client, config, ORDER, story.public_id(runtime)).document
    assert order["status"] == "completed"


def test_pickup_and_cancellation(
    shop: Shop, post_webhook: Any, run_jobs: Any, client: Any, config: Any, runtime: Runtime
) -> None:
    story = OrderStory(post_webhook, run_jobs)
    story.items = [Item("Bougie", "32.00")]
    story.create(
        shipping_title="Mondial Relay Point Relais",
        pickup={"name": "Tabac du Parc", "address1": "8 avenue Foch", "zip": "69006",
                "city": "Lyon"},
    )  # fmt: skip
    story.ship(9101)
    story.event(9101, "ready_for_pickup", 40)
    package = download(client, config, PASS, story.public_id(runtime))
    fields = {f["key"]: f for group in package.document["generic"].values() for f in group}
    assert fields["status"]["value"] == "Ready for pickup"
    assert fields["pickup"]["value"] == "Tabac du Parc"
    assert fields["pickup_address"]["value"] == "Tabac du Parc\n8 avenue Foch, 69006 Lyon"
    assert len(package.document["relevantDates"]) == 7  # a week of lock-screen reminders
    order = download(client, config, ORDER, story.public_id(runtime)).document
    (fulfillment,) = order["fulfillments"]
    assert (fulfillment["fulfillmentType"], fulfillment["status"]) == ("pickup", "readyForPickup")
    assert fulfillment["displayName"] == "Tabac du Parc"

    story.cancel(hours=50)
    with runtime.db.session() as session:
        row = session.scalar(select(Order).where(Order.shopify_id == story.order_id))
        assert row is not None and row.cancelled_at is not None
    document = download(client, config, PASS, story.public_id(runtime)).document
    assert document.get("voided") is True
    assert download(client, config, ORDER, story.public_id(runtime)).document["status"] == (
        "cancelled"
    )

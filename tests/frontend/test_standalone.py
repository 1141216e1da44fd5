# French shopper texts use the typographic apostrophe (U+2019).
# ruff: noqa: RUF001
"""The standalone page at APP_URL/t/<token>, and what both versions of the page show."""

from __future__ import annotations

import re
from datetime import timedelta

from plugin.shopify_payloads import Item
from tests.frontend.conftest import T0, proxy_query


def test_standalone_page_is_a_full_document_with_a_strict_policy(store_order, client):
    order = store_order().create().ship(11).event(11, "in_transit", 20)
    response = client.get(f"/t/{order.token}")
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    body = response.get_data(as_text=True)
    assert body.startswith("<!doctype html>") and '<html lang="fr">' in body
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "'unsafe-inline'" not in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response.headers["X-Robots-Tag"]


def test_standalone_and_proxy_pages_show_the_same_content(store_order, client):
    order = store_order().create().ship(11).event(11, "in_transit", 20)
    standalone = client.get(f"/t/{order.token}").get_data(as_text=True)
    proxied = client.get(f"/proxy/o/{order.token}?{proxy_query()}").get_data(as_text=True)

    def main(html: str) -> str:
        html = re.sub(r'href="[^"]*"', "", html)
        return html[html.index('<header class="rl-top">') : html.index('<p class="rl-foot">')]

    assert main(standalone).replace("<main>", "") == main(proxied)


def test_a_bad_token_is_a_plain_404(client, store_order):
    store_order().create()
    response = client.get("/t/demo-shop~AAAAAAAAAAAAAAAAAAAAAA.bad")
    assert response.status_code == 404
    assert "Ce lien n’est plus valide" in response.get_data(as_text=True) or (
        "This link is no longer valid" in response.get_data(as_text=True)
    )


def test_a_redacted_order_is_gone(store_order, client, runtime):
    from sqlalchemy import select

    from plugin.db import utcnow
    from plugin.models import Order

    order = store_order().create()
    with runtime.db.transaction() as session:
        session.scalar(select(Order)).redacted_at = utcnow()
    assert client.get(f"/t/{order.token}").status_code == 404


def test_split_shipments_side_by_side_with_their_own_timeline(store_order, client):
    candle, throw = Item("Bougie Figuier", "32.00"), Item("Plaid en lin sauge", "89.00")
    order = store_order(items=[candle, throw]).create()
    order.ship(11, items=[candle], carrier="Colissimo", tracking_number="6A1")
    order.ship(12, items=[throw], carrier="Chronopost", tracking_number="XY2")
    order.event(11, "delivered", 30, city="Lyon")
    order.event(
        12, "in_transit", 31, city="Chilly-Mazarin", estimated_delivery_at=T0 + timedelta(days=5)
    )
    body = client.get(f"/t/{order.token}").get_data(as_text=True)
    assert "Colis 1 sur 2" in body and "Colis 2 sur 2" in body
    assert "Une partie de votre commande a été livrée" in body
    assert body.count('class="rl-tl"') == 2
    assert "Chronopost" in body and "XY2" in body and "Chilly-Mazarin" in body
    assert "Livraison estimée" in body
    # Only the delivered parcel asks for a rating.
    assert body.count('name="shipment"') == 1


def test_carrier_link_opens_safely(store_order, client):
    order = store_order().create().ship(11, tracking_url="javascript:alert(1)")
    body = client.get(f"/t/{order.token}").get_data(as_text=True)
    assert "javascript:" not in body
    order2 = store_order(number=1003).create().ship(21)
    body = client.get(f"/t/{order2.token}").get_data(as_text=True)
    assert 'rel="noopener noreferrer"' in body and "laposte.fr" in body


def test_pickup_point_with_hours(store_order, client):
    pickup = {
        "name": "Tabac de la Gare",
        "address1": "3 place de la Gare",
        "zip": "69002",
        "city": "Lyon",
    }
    order = store_order(pickup=pickup).create(shipping_title="Mondial Relay Point Relais")
    order.ship(11).event(11, "ready_for_pickup", 30)
    body = client.get(f"/t/{order.token}").get_data(as_text=True)
    assert "Votre colis vous attend au point relais" in body
    assert "Tabac de la Gare" in body and "3 place de la Gare" in body
    assert "Disponible en point relais" in body


def test_wallet_button_and_help_link(store_order, client):
    order = store_order().create()
    body = client.get(f"/t/{order.token}").get_data(as_text=True)
    assert f'href="https://relais.test/wallet/passes/{order.token}.pkpass"' in body
    assert "Ajouter à Apple Wallet" in body
    assert 'href="mailto:bonjour@maison-lumiere.fr?subject=Commande%20%231001"' in body


def test_cancelled_order(store_order, client):
    order = store_order().create(cancelled_at=T0 + timedelta(hours=1))
    body = client.get(f"/t/{order.token}").get_data(as_text=True)
    assert "Votre commande a été annulée" in body
    assert ".pkpass" not in body


def test_standalone_feedback(store_order, client):
    order = store_order().create().ship(11).event(11, "delivered", 40)
    page = client.get(f"/t/{order.token}").get_data(as_text=True)
    shipment_id = re.search(r'name="shipment" value="(\d+)"', page).group(1)
    assert f'action="/t/{order.token}/feedback"' in page
    response = client.post(
        f"/t/{order.token}/feedback", data={"shipment": shipment_id, "rating": "4"}
    )
    assert response.status_code == 303
    page = client.get(f"/t/{order.token}").get_data(as_text=True)
    assert "Vous avez noté cette livraison 4 sur 5" in page


def test_page_weight_without_images_is_small(store_order, client):
    candle, throw = Item("Bougie Figuier", "32.00"), Item("Plaid en lin sauge", "89.00")
    order = store_order(items=[candle, throw]).create()
    order.ship(11, items=[candle]).ship(12, items=[throw])
    for hours, status in [
        (10, "in_transit"),
        (20, "in_transit"),
        (30, "out_for_delivery"),
        (34, "delivered"),
    ]:
        order.event(11, status, hours, city="Lyon")
        order.event(12, status, hours + 1, city="Paris")
    body = client.get(f"/t/{order.token}").data
    assert len(body) < 35_000


def test_headlines_say_what_is_happening(store_order, client):
    single = store_order().create().ship(11).event(11, "out_for_delivery", 30)
    body = client.get(f"/t/{single.token}").get_data(as_text=True)
    assert "Votre commande arrive aujourd’hui" in body
    missed = store_order(number=1004).create().ship(41).event(41, "attempted_delivery", 30)
    body = client.get(f"/t/{missed.token}").get_data(as_text=True)
    assert "Le transporteur n’a pas pu livrer votre colis" in body
    assert 'class="rl-card rl-hero warn"' in body
    unknown = store_order(number=1005).create().ship(51).event(51, "teleported", 30)
    body = client.get(f"/t/{unknown.token}").get_data(as_text=True)
    assert "Mise à jour du transporteur" in body  # an unknown status never breaks the page
    waiting = store_order(number=1006).create()
    body = client.get(f"/t/{waiting.token}").get_data(as_text=True)
    assert "Nous avons bien reçu votre commande" in body
    assert "En cours de préparation" not in body and "Vos articles" in body

# French shopper texts use the typographic apostrophe (U+2019).
# ruff: noqa: RUF001
"""The app proxy: signature, lookup, tracking page as Liquid, feedback, rate limits."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from frontend.models import ShipmentFeedback
from plugin.shopify_payloads import Shopper
from tests.frontend.conftest import proxy_query


def test_a_signed_request_gets_the_page_as_liquid(store_order, client):
    order = store_order().create().ship(11).event(11, "in_transit", 20, city="Paris")
    response = client.get(f"/proxy/o/{order.token}?{proxy_query()}")
    assert response.status_code == 200
    assert response.content_type == "application/liquid; charset=utf-8"
    assert response.headers["Cache-Control"] == "private, no-store"
    body = response.get_data(as_text=True)
    assert "<html" not in body  # it sits inside the shop's theme layout
    assert "Votre commande est en route" in body
    assert "#1001" in body and "Colissimo" in body and "6A12345678901" in body


@pytest.mark.parametrize(
    "query",
    [
        lambda: proxy_query().replace("signature=", "signature=0"),  # forged
        lambda: proxy_query(secret="not-the-app-secret"),  # signed by someone else
        lambda: proxy_query(timestamp=int(time.time()) - 91),  # a replay, too old
        lambda: proxy_query(timestamp=int(time.time()) + 600),  # from the future
        lambda: re.sub(r"&?signature=[0-9a-f]+", "", proxy_query()),  # unsigned
        lambda: proxy_query(shop="evil.example.com"),  # not a Shopify shop
        lambda: "",
    ],
)
def test_anything_shopify_did_not_sign_just_now_is_401_without_detail(store_order, client, query):
    order = store_order().create()
    for path in (f"/proxy/o/{order.token}", "/proxy/", "/proxy/upsell"):
        response = client.get(f"{path}?{query()}")
        assert response.status_code == 401
        assert response.data == b""
    response = client.post(f"/proxy/lookup?{query()}", data={"order": "1001", "contact": "x"})
    assert (response.status_code, response.data) == (401, b"")


def test_a_changed_parameter_breaks_the_signature(store_order, client):
    order = store_order().create()
    query = proxy_query().replace("demo-shop.myshopify.com", "other-shop.myshopify.com")
    assert client.get(f"/proxy/o/{order.token}?{query}").status_code == 401


def test_a_token_of_another_shop_is_not_found(store_order, client):
    order = store_order().create()
    response = client.get(f"/proxy/o/{order.token}?{proxy_query(shop='other.myshopify.com')}")
    assert response.status_code == 404
    assert "Camille" not in response.get_data(as_text=True)


def test_lookup_form_posts_to_the_proxy_path(store_order, client):
    store_order().create()
    response = client.get(f"/proxy/?{proxy_query()}", headers={"Accept-Language": "en"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'action="/apps/track/lookup"' in body
    assert "Order number" in body


@pytest.mark.parametrize(
    "contact", ["camille@example.fr", " Camille@Example.FR ", "06 12 34 56 78"]
)
def test_lookup_by_number_and_email_or_phone_redirects_to_the_signed_page(
    store_order, client, contact
):
    order = store_order().create()
    response = client.post(
        f"/proxy/lookup?{proxy_query()}", data={"order": "1001", "contact": contact}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/apps/track/o/{order.token}"


def test_a_wrong_email_and_an_unknown_order_get_the_same_answer(store_order, client):
    store_order().create()
    answers = []
    for order_number, contact in [
        ("1001", "someone@example.fr"),  # the order exists, the email is wrong
        ("4242", "camille@example.fr"),  # no such order
        ("4242", "someone@example.fr"),
        ("1001", "+33700000000"),
    ]:
        response = client.post(
            f"/proxy/lookup?{proxy_query()}", data={"order": order_number, "contact": contact}
        )
        body = response.get_data(as_text=True).replace(f'value="{order_number}"', 'value="N"')
        answers.append((response.status_code, body))
    assert len(set(answers)) == 1
    assert answers[0][0] == 200
    assert "Nous n’avons pas trouvé de commande" in answers[0][1]


@pytest.fixture
def one_window(monkeypatch):
    """Every request of the test in the same rate-limit window: the windows are fixed
    minutes of the wall clock, and a test straddling a minute would see its counts reset."""
    from frontend import ratelimit

    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: 1_800_000_030.0))


def test_lookup_is_rate_limited_per_ip(store_order, client, one_window):
    store_order().create()
    codes = [
        client.post(
            f"/proxy/lookup?{proxy_query()}",
            data={"order": "1001", "contact": "guess@example.fr"},
            headers={"X-Forwarded-For": "203.0.113.9"},
        ).status_code
        for _ in range(12)
    ]
    assert codes[:10] == [200] * 10
    assert codes[10:] == [429, 429]
    # Another visitor is not blocked by the first one.
    other = client.post(
        f"/proxy/lookup?{proxy_query()}",
        data={"order": "1001", "contact": "camille@example.fr"},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    assert other.status_code == 303


def test_lookup_is_rate_limited_per_shop(store_order, client, monkeypatch, one_window):
    from frontend import ratelimit

    monkeypatch.setattr(ratelimit, "LOOKUP_PER_SHOP", ratelimit.Limit("lookup-shop", 3, 60))
    store_order().create()
    codes = [
        client.post(
            f"/proxy/lookup?{proxy_query()}",
            data={"order": "1001", "contact": "x@example.fr"},
            headers={"X-Forwarded-For": f"203.0.113.{i}"},
        ).status_code
        for i in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]


def test_the_page_shows_only_first_name_and_city_of_the_shopper(store_order, client):
    order = store_order().create().ship(11).event(11, "out_for_delivery", 30)
    body = client.get(f"/proxy/o/{order.token}?{proxy_query()}").get_data(as_text=True)
    assert "Camille" in body and "Lyon" in body
    for private in ("Martin", "camille@example.fr", "612345678", "12 rue des Lilas", "69003"):
        assert private not in body


def test_no_order_value_can_reach_liquid_unescaped(store_order, client):
    shopper = Shopper(
        "{{ shop.secret }}",
        "X",
        "a@example.fr",
        None,
        "{% render 'x' %}<script>",
        "1",
        "FR",
        "fr",
    )
    order = store_order(shopper=shopper).create()
    body = client.get(f"/proxy/o/{order.token}?{proxy_query()}").get_data(as_text=True)
    assert "{{" not in body and "{%" not in body
    assert "<script>" not in body
    assert "&#123;&#123; shop.secret &#125;&#125;" in body


def test_no_request_value_can_reach_liquid_unescaped(store_order, client):
    store_order().create()
    response = client.post(
        f"/proxy/lookup?{proxy_query()}", data={"order": "{{ x }}", "contact": "a@b.fr"}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "{{" not in body and "&#123;&#123; x &#125;&#125;" in body


def test_french_and_english_follow_the_order_locale(store_order, client):
    fr = store_order().create().ship(11)
    en_shopper = Shopper("Alex", "Smith", "alex@example.com", None, "London", "N1", "GB", "en-GB")
    en = store_order(shopper=en_shopper, number=1002).create().ship(12)
    fr_body = client.get(f"/proxy/o/{fr.token}?{proxy_query()}").get_data(as_text=True)
    en_body = client.get(f"/proxy/o/{en.token}?{proxy_query()}").get_data(as_text=True)
    assert 'lang="fr"' in fr_body and "Votre commande est en route" in fr_body
    assert 'lang="en"' in en_body and "Your order is on its way" in en_body


def test_feedback_after_delivery_one_answer_per_shipment(store_order, client, runtime):
    order = store_order().create().ship(11).event(11, "delivered", 40)
    page = client.get(f"/proxy/o/{order.token}?{proxy_query()}").get_data(as_text=True)
    assert "Comment s’est passée votre livraison" in page
    shipment_id = int(re.search(r'name="shipment" value="(\d+)"', page).group(1))
    action = f"/proxy/feedback/{order.token}?{proxy_query()}"
    first = client.post(action, data={"shipment": shipment_id, "rating": "2"})
    assert first.status_code == 303
    assert first.headers["Location"].startswith(f"/apps/track/o/{order.token}")
    client.post(action, data={"shipment": shipment_id, "rating": "5"})
    with runtime.db.session() as session:
        ratings = list(session.scalars(select(ShipmentFeedback.rating)))
    assert ratings == [5]
    page = client.get(f"/proxy/o/{order.token}?{proxy_query()}").get_data(as_text=True)
    assert 'aria-pressed="true" aria-label="5 sur 5"' in page


def test_feedback_is_refused_before_delivery_and_out_of_range(store_order, client, runtime):
    order = store_order().create().ship(11).event(11, "in_transit", 20)
    page = client.get(f"/proxy/o/{order.token}?{proxy_query()}").get_data(as_text=True)
    assert "rl-feedback" not in page
    with runtime.db.session() as session:
        from plugin.models import Shipment

        shipment_id = session.scalar(select(Shipment.id))
    action = f"/proxy/feedback/{order.token}?{proxy_query()}"
    client.post(action, data={"shipment": shipment_id, "rating": "4"})
    order.event(11, "delivered", 40)
    client.post(action, data={"shipment": shipment_id, "rating": "9"})
    client.post(action, data={"shipment": shipment_id + 100, "rating": "3"})
    with runtime.db.session() as session:
        assert list(session.scalars(select(ShipmentFeedback))) == []


def test_an_uninstalled_shop_shows_nothing(store_order, client, runtime):
    from plugin.db import utcnow
    from plugin.models import Shop

    order = store_order().create()
    with runtime.db.transaction() as session:
        session.scalar(select(Shop)).uninstalled_at = utcnow()
    assert client.get(f"/proxy/o/{order.token}?{proxy_query()}").status_code == 404

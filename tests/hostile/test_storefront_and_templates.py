"""Hostile input on the shopper-facing side: app proxy signatures and replays, order tokens,
Liquid and HTML injection through order data, and merchant templates in their sandbox."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from plugin.links import make_order_token, read_order_token
from plugin.models import Order, Shop
from plugin.runtime import Runtime
from plugin.shopify_payloads import Item, Shopper, order_payload
from tests.conftest import DEMO_SHOP, TEST_API_SECRET
from tests.hostile.strategies import T0

OTHER_SHOP = "other-shop.myshopify.com"
INJECTIONS = [
    "{{ shop.metafields.secret }}",
    "{% render 'customer' %}",
    "{{7*7}}",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
]


def proxy_query(shop: str = DEMO_SHOP, *, age: int = 0, signature: str | None = None) -> str:
    """Shopify's app proxy parameters, signed as Shopify signs them, ``age`` seconds ago."""
    params = {
        "shop": shop,
        "path_prefix": "/apps/track",
        "timestamp": str(int(time.time()) - age),
        "logged_in_customer_id": "",
    }
    message = "".join(f"{k}={v}" for k, v in sorted(params.items()))
    good = hmac.new(TEST_API_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    return urlencode({**params, "signature": good if signature is None else signature})


@pytest.fixture
def hostile_order(
    shop: Shop, post_webhook: Callable[..., Any], run_jobs: Callable[[], int], runtime: Runtime
) -> tuple[Order, str]:
    """An order of the demo shop whose shopper typed template syntax in every field."""
    shopper = Shopper(
        first_name=INJECTIONS[0], last_name=INJECTIONS[3], email="x@example.org",
        phone=None, city=INJECTIONS[1], zip="{{7*7}}", country_code="FR", locale="fr",
        address1=INJECTIONS[4],
    )
    payload = order_payload(
        order_id=4242, number=1042, shopper=shopper,
        items=[Item(INJECTIONS[5], "10.00"), Item(INJECTIONS[2], "5.00")], created_at=T0,
        shipping_title=INJECTIONS[1],
    )
    assert post_webhook("orders/create", payload).status_code == 200
    run_jobs()
    with runtime.db.session() as session:
        order = session.scalar(select(Order).where(Order.shopify_id == 4242))
        assert order is not None
    return order, make_order_token(runtime.config.secret_key, DEMO_SHOP, order.public_id)


# --- app proxy: signatures and replays -----------------------------------------------------


def test_fresh_signed_proxy_request_is_served(client: Any, shop: Shop) -> None:
    assert client.get(f"/proxy/lookup?{proxy_query()}").status_code == 200


@pytest.mark.parametrize("age", [91, 300, 86_400, -91, -86_400])
def test_old_or_future_proxy_request_is_refused_as_a_replay(
    client: Any, shop: Shop, age: int
) -> None:
    assert client.get(f"/proxy/lookup?{proxy_query(age=age)}").status_code == 401


@pytest.mark.parametrize(
    "signature",
    ["", "0" * 64, "zz", "A" * 10_000, "é" * 64, "\u00ff" * 64],
)
def test_forged_proxy_signature_is_401_not_500(client: Any, shop: Shop, signature: str) -> None:
    response = client.get(f"/proxy/lookup?{proxy_query(signature=signature)}")
    assert response.status_code == 401


def test_proxy_request_for_another_shop_needs_that_shops_signature(
    client: Any, shop: Shop
) -> None:
    # The signature covers the shop parameter: changing it after signing is refused.
    query = proxy_query().replace("demo-shop", "other-shop")
    assert client.get(f"/proxy/lookup?{query}").status_code == 401


# --- order tokens ----------------------------------------------------------------------------


def test_token_of_one_shop_is_refused_on_another(
    client: Any, hostile_order: tuple[Order, str], runtime: Runtime
) -> None:
    _order, token = hostile_order
    with runtime.db.transaction() as session:
        session.add(Shop(domain=OTHER_SHOP, name="Other", settings={}))
    assert client.get(f"/proxy/o/{token}?{proxy_query()}").status_code == 200
    assert client.get(f"/proxy/o/{token}?{proxy_query(OTHER_SHOP)}").status_code == 404


def test_token_cannot_be_edited_to_name_another_order(hostile_order: tuple[Order, str]) -> None:
    order, token = hostile_order
    value, _, signature = token.rpartition(".")
    other = value.replace(order.public_id, "A" * len(order.public_id))
    assert read_order_token("test-secret-key", f"{other}.{signature}") is None
    assert read_order_token("another-secret-key", token) is None
    assert str(order.shopify_id) not in token and "1042" not in token


def test_public_ids_are_random_and_long(hostile_order: tuple[Order, str]) -> None:
    order, _ = hostile_order
    # At least 96 bits of randomness: guessing one among a billion orders stays hopeless.
    assert len(order.public_id) >= 16


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120) | st.from_regex(r"demo-shop~[A-Za-z0-9_-]{16,22}\.[A-Za-z0-9_-]{43}"))
def test_made_up_tokens_never_read(token: str) -> None:
    assert read_order_token("test-secret-key", token) is None


# --- injection through order data ---------------------------------------------------------------


def test_template_syntax_in_order_data_is_inert_in_the_liquid_page(
    client: Any, hostile_order: tuple[Order, str]
) -> None:
    _order, token = hostile_order
    response = client.get(f"/proxy/o/{token}?{proxy_query()}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "{{" not in body and "{%" not in body  # Shopify would evaluate them
    assert "<script>alert(1)</script>" not in body and "<img src=x" not in body
    assert "&#123;&#123;" in body or "&amp;#123;" in body  # the text is shown, escaped


def test_markup_in_order_data_is_escaped_on_the_standalone_page(
    client: Any, hostile_order: tuple[Order, str]
) -> None:
    _order, token = hostile_order
    response = client.get(f"/t/{token}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body
    assert "<img src=x" not in body


# --- merchant templates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ first_name.__class__.__init__.__globals__ }}",
        "{% for i in range(10**9) %}x{% endfor %}",
        "{{ config }}{{ self }}{{ request }}",
        "{{ cycler.__init__.__globals__.os.environ }}",
        "{{ 'x' * 100000000 }}",
    ],
)
def test_merchant_template_cannot_escape_its_sandbox(source: str) -> None:
    from plugin.notifications.messages.sandbox import TemplateRefused, render_template

    try:
        output = render_template(source, {"first_name": "Camille"}, html=True)
    except TemplateRefused:
        return
    assert "environ" not in output and "subclasses" not in output and len(output) < 20_001


@pytest.mark.parametrize("value", INJECTIONS)
def test_shopper_data_rendered_by_a_merchant_template_stays_text(value: str) -> None:
    from plugin.notifications.messages.sandbox import render_template

    output = render_template("Bonjour {{ first_name }} !", {"first_name": value}, html=True)
    assert "<script>" not in output and "<img" not in output
    # What the shopper typed is printed, never evaluated (7*7 stays 7*7).
    assert "49" not in output


@pytest.mark.parametrize(
    ("rating", "shipment"),
    [
        ("5", "99999999999999999999"),
        ("5", "-99999999999999999999"),
        ("5", "1e3"),
        ("99999999999999999999", "1"),
        ("-1", "99999999999999999999"),
    ],
)
def test_feedback_with_numbers_past_64_bits_is_not_a_server_error(
    client: Any, hostile_order: tuple[Order, str], shipment: str, rating: str
) -> None:
    _order, token = hostile_order
    form = {"rating": rating, "shipment": shipment}
    proxied = client.post(f"/proxy/feedback/{token}?{proxy_query()}", data=form)
    standalone = client.post(f"/t/{token}/feedback", data=form)
    assert proxied.status_code < 500 and standalone.status_code < 500

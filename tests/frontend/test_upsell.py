"""Upsell: recommendations for what was bought, the fallback collection, the cache, consent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from frontend.upsell import (
    CachedProductSource,
    FixtureProductSource,
    ShopifyGraphQLProductSource,
    UpsellSettings,
    pick_products,
    product_link,
)
from plugin.shopify_payloads import Item, Shopper
from tests.frontend.conftest import proxy_query

SHOP = "demo-shop.myshopify.com"


def test_recommendations_leave_out_bought_and_unavailable_products():
    source = FixtureProductSource()
    products = pick_products(source, SHOP, [788032119674292922, 9001], UpsellSettings())
    ids = [p.id for p in products]
    assert 9001 not in ids  # already bought
    assert 9007 not in ids  # not available
    assert ids[:3] == [9004, 9006, 9008] and len(ids) == 4


def test_fallback_collection_when_shopify_has_no_recommendation():
    source = FixtureProductSource()
    settings = UpsellSettings(fallback_collection="best-sellers")
    assert [p.id for p in pick_products(source, SHOP, [123], settings)] == [9001, 9003, 9005, 9002]
    assert pick_products(source, SHOP, [123], UpsellSettings()) == []


def test_the_cache_answers_per_shop_and_product_until_its_ttl(redis):
    inner = FixtureProductSource()
    cached = CachedProductSource(inner, redis, ttl=60)
    first = cached.recommendations(SHOP, 9001, limit=4)
    again = cached.recommendations(SHOP, 9001, limit=4)
    assert first == again and inner.calls == 1
    cached.recommendations("other.myshopify.com", 9001, limit=4)
    assert inner.calls == 2
    ttl = redis.ttl(CachedProductSource.key(SHOP, "p", 9001))
    assert 0 < ttl <= 60
    redis.delete(CachedProductSource.key(SHOP, "p", 9001))
    cached.recommendations(SHOP, 9001, limit=4)
    assert inner.calls == 3


def test_product_links_carry_utm_and_the_discount_after_delivery():
    assert product_link("bougie", medium="tracking_page") == (
        "/products/bougie?utm_source=relais&utm_medium=tracking_page&utm_campaign=upsell"
    )
    assert product_link(
        "bougie", medium="sms", base="https://shop.fr", discount_code="MERCI 10"
    ) == (
        "https://shop.fr/discount/MERCI%2010?redirect=%2Fproducts%2Fbougie%3Futm_source%3Drelais"
        "%26utm_medium%3Dsms%26utm_campaign%3Dupsell"
    )


class FakeStorefrontClient:
    """Answers like Shopify's Storefront API for one product."""

    def __init__(self) -> None:
        self.queries: list[Mapping[str, Any]] = []

    def query(
        self, shop_domain: str, document: str, variables: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        self.queries.append(variables)
        if "productRecommendations" in document:
            return {
                "productRecommendations": [
                    {
                        "id": "gid://shopify/Product/77",
                        "handle": "vase",
                        "title": "Vase",
                        "availableForSale": True,
                        "featuredImage": {"url": "https://cdn.shopify.com/v.png"},
                        "priceRange": {"minVariantPrice": {"amount": "39.0"}},
                    }
                ]
            }
        raise TimeoutError("Shopify did not answer")


def test_the_graphql_source_reads_shopify_answers_and_survives_errors():
    client = FakeStorefrontClient()
    source = ShopifyGraphQLProductSource(client)
    products = source.recommendations(SHOP, 9001, limit=4)
    assert [(p.id, p.handle, p.price) for p in products] == [(77, "vase", "39.0")]
    assert {q["intent"] for q in client.queries} == {"COMPLEMENTARY", "RELATED"}
    assert source.collection(SHOP, "best-sellers", limit=4) == []


def _upsell_order(store_order, *, consent: bool, number: int = 1001):
    shopper = Shopper(
        "Camille",
        "Martin",
        f"c{number}@example.fr",
        None,
        "Lyon",
        "69003",
        "FR",
        "fr",
        email_consent=consent,
    )
    return store_order(
        shopper=shopper, number=number, items=[Item("Bougie Figuier", "32.00", product_id=9001)]
    ).create()


def test_the_page_shows_products_only_with_marketing_consent(
    store_order, client, set_shop_settings
):
    set_shop_settings({"upsell": {"discount_code": "MERCI10"}})
    with_consent = _upsell_order(store_order, consent=True).ship(11)
    without = _upsell_order(store_order, consent=False, number=1002).ship(12)
    body = client.get(f"/t/{with_consent.token}").get_data(as_text=True)
    assert "Vous aimerez aussi" in body and "Diffuseur Cèdre" in body and "45,00" in body
    assert "utm_medium=tracking_page" in body
    assert "MERCI10" not in body  # the offer waits for the delivery
    assert "Vous aimerez aussi" not in client.get(f"/t/{without.token}").get_data(as_text=True)


def test_the_discount_offer_after_delivery(store_order, client, set_shop_settings):
    set_shop_settings(
        {"upsell": {"discount_code": "MERCI10", "discount_text": {"fr": "-10 % avec MERCI10"}}}
    )
    order = _upsell_order(store_order, consent=True).ship(11).event(11, "delivered", 30)
    body = client.get(f"/proxy/o/{order.token}?{proxy_query()}").get_data(as_text=True)
    assert "-10 % avec MERCI10" in body
    assert "/discount/MERCI10?redirect=%2Fproducts%2Fdiffuseur-cedre" in body


def test_the_merchant_can_switch_upsell_off(store_order, client, set_shop_settings):
    set_shop_settings({"upsell": {"enabled": False}})
    order = _upsell_order(store_order, consent=True)
    assert "Vous aimerez aussi" not in client.get(f"/t/{order.token}").get_data(as_text=True)


def test_the_theme_block_fragment(store_order, client, set_shop_settings):
    set_shop_settings({"upsell": {"fallback_collection": "best-sellers"}})
    store_order().create()
    response = client.get(
        f"/proxy/upsell?{proxy_query(extra={'product_id': '9003'})}",
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    body = response.get_data(as_text=True)
    assert "You might also like" in body and "Housse de coussin terracotta" in body
    assert "utm_medium=storefront_block" in body
    assert response.headers["Cache-Control"] == "public, max-age=300"
    two = client.get(f"/proxy/upsell?{proxy_query(extra={'product_id': '9003', 'limit': '2'})}")
    assert two.get_data(as_text=True).count('class="relais-upsell__item"') == 2
    empty = client.get(f"/proxy/upsell?{proxy_query(extra={'product_id': '1'})}")
    assert "Bougie Figuier" in empty.get_data(as_text=True)  # the fallback collection


def test_the_theme_block_uses_the_logged_in_customers_last_order(
    store_order, client, set_shop_settings
):
    set_shop_settings({"upsell": {"discount_code": "MERCI10"}})
    order = _upsell_order(store_order, consent=True).ship(11).event(11, "delivered", 30)
    customer = str(7_000_000_000_000 + order.number)
    response = client.get(f"/proxy/upsell?{proxy_query(logged_in_customer_id=customer)}")
    body = response.get_data(as_text=True)
    assert "Diffuseur Cèdre" in body and "MERCI10" in body
    assert response.headers["Cache-Control"] == "private, no-store"

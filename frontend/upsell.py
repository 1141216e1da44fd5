"""Upsell: products related or complementary to what a shopper bought.

Product data comes from a :class:`ProductSource`. Shopify's product recommendations live in
its GraphQL APIs, so the real source is :class:`ShopifyGraphQLProductSource`, which only needs
a client able to run one query for one shop; tests and the demo use
:class:`FixtureProductSource` (sample products from a JSON file). Whatever the source,
:class:`CachedProductSource` keeps answers in Redis per shop and product for a while, so a
page view costs at most one Redis round trip for its products.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

SAMPLE_PRODUCTS = Path(__file__).parent / "data" / "sample_products.json"
DEFAULT_CACHE_TTL_SECONDS = 6 * 3600
DEFAULT_LIMIT = 4
# Recommendations of at most this many ordered products are fetched for one page.
MAX_SEED_PRODUCTS = 3


@dataclass(frozen=True)
class Product:
    """A product as a storefront block shows it; ``price`` in the shop's currency."""

    id: int
    handle: str
    title: str
    price: str
    image_url: str | None = None
    available: bool = True

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Product | None:
        try:
            price = str(Decimal(str(raw["price"])))
            return cls(
                id=int(raw["id"]),
                handle=str(raw["handle"]),
                title=str(raw["title"]),
                price=price,
                image_url=raw.get("image_url") or None,
                available=bool(raw.get("available", True)),
            )
        except (KeyError, TypeError, ValueError, InvalidOperation):
            return None


class ProductSource(Protocol):
    """Where upsell products come from (Shopify's recommendations, a collection)."""

    def recommendations(self, shop_domain: str, product_id: int, *, limit: int) -> list[Product]:
        """Products Shopify relates to, or that complement, ``product_id``."""
        ...

    def collection(self, shop_domain: str, handle: str, *, limit: int) -> list[Product]:
        """The first products of the collection ``handle`` (the merchant's fallback)."""
        ...


class NullProductSource:
    """No products at all: the upsell block simply does not show."""

    def recommendations(self, shop_domain: str, product_id: int, *, limit: int) -> list[Product]:
        return []

    def collection(self, shop_domain: str, handle: str, *, limit: int) -> list[Product]:
        return []


class FixtureProductSource:
    """Sample products from a JSON file: ``products``, ``recommendations``, ``collections``.

    The same catalogue answers for every shop; it stands in for Shopify in tests and the demo.
    ``asset_base`` is the URL of the folder holding the sample pictures.
    """

    def __init__(self, path: Path = SAMPLE_PRODUCTS, *, asset_base: str = "") -> None:
        raw = json.loads(path.read_text(encoding="utf-8"))
        products = []
        for item in raw.get("products", []):
            image = item.get("image_url")
            if image and not image.startswith("https://"):
                # Sample pictures ship with Relais; serve them from its static files.
                item = {**item, "image_url": f"{asset_base}/{image}"}
            products.append(Product.from_dict(item))
        self._products = {p.id: p for p in products if p is not None}
        self._recommendations: dict[str, list[int]] = raw.get("recommendations", {})
        self._collections: dict[str, list[int]] = raw.get("collections", {})
        self.calls = 0  # how often Relais asked, so tests can see the cache working

    def _pick(self, ids: Iterable[int], limit: int) -> list[Product]:
        found = [self._products[i] for i in ids if i in self._products]
        return found[:limit]

    def recommendations(self, shop_domain: str, product_id: int, *, limit: int) -> list[Product]:
        self.calls += 1
        return self._pick(self._recommendations.get(str(product_id), []), limit)

    def collection(self, shop_domain: str, handle: str, *, limit: int) -> list[Product]:
        self.calls += 1
        return self._pick(self._collections.get(handle, []), limit)


class GraphQLClient(Protocol):
    """The one call the GraphQL source needs: run ``document`` for ``shop_domain``."""

    def query(
        self, shop_domain: str, document: str, variables: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """The ``data`` object of the answer; raises on transport errors (with a timeout)."""
        ...


RECOMMENDATIONS_QUERY = """
query RelaisRecommendations($productId: ID!, $intent: ProductRecommendationIntent) {
  productRecommendations(productId: $productId, intent: $intent) {
    id handle title availableForSale
    featuredImage { url }
    priceRange { minVariantPrice { amount } }
  }
}
"""

COLLECTION_QUERY = """
query RelaisCollection($handle: String!, $first: Int!) {
  collection(handle: $handle) {
    products(first: $first) {
      nodes {
        id handle title availableForSale
        featuredImage { url }
        priceRange { minVariantPrice { amount } }
      }
    }
  }
}
"""


class ShopifyGraphQLProductSource:
    """Adapter slot for Shopify's Storefront GraphQL API (``productRecommendations``).

    Give it the shop-scoped GraphQL client of Relais's Shopify package; it asks for both
    related and complementary products and turns the answer into :class:`Product` values.
    Errors are logged and give no products: a storefront page never fails for an upsell.
    """

    def __init__(self, client: GraphQLClient) -> None:
        self.client = client

    def recommendations(self, shop_domain: str, product_id: int, *, limit: int) -> list[Product]:
        products: list[Product] = []
        for intent in ("COMPLEMENTARY", "RELATED"):
            variables = {"productId": f"gid://shopify/Product/{product_id}", "intent": intent}
            data = self._run(shop_domain, RECOMMENDATIONS_QUERY, variables)
            products.extend(_graphql_products(data.get("productRecommendations") or []))
        return _unique(products)[:limit]

    def collection(self, shop_domain: str, handle: str, *, limit: int) -> list[Product]:
        data = self._run(shop_domain, COLLECTION_QUERY, {"handle": handle, "first": limit})
        nodes = ((data.get("collection") or {}).get("products") or {}).get("nodes") or []
        return _graphql_products(nodes)[:limit]

    def _run(
        self, shop_domain: str, document: str, variables: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        try:
            return self.client.query(shop_domain, document, variables) or {}
        except Exception as exc:  # any transport or API error: no upsell, the page still renders
            log.warning("product recommendations failed shop=%s error=%s", shop_domain, exc)
            return {}


def _graphql_products(nodes: Iterable[Mapping[str, Any]]) -> list[Product]:
    products = []
    for node in nodes:
        gid = str(node.get("id", ""))
        product = Product.from_dict(
            {
                "id": gid.rsplit("/", 1)[-1],
                "handle": node.get("handle"),
                "title": node.get("title"),
                "price": ((node.get("priceRange") or {}).get("minVariantPrice") or {}).get(
                    "amount"
                ),
                "image_url": (node.get("featuredImage") or {}).get("url"),
                "available": node.get("availableForSale", True),
            }
        )
        if product is not None:
            products.append(product)
    return products


class CachedProductSource:
    """Answers of ``inner`` kept in Redis per shop and product (or collection) for ``ttl``."""

    def __init__(self, inner: ProductSource, redis: Redis, *, ttl: int = DEFAULT_CACHE_TTL_SECONDS):
        self.inner = inner
        self.redis = redis
        self.ttl = ttl

    @staticmethod
    def key(shop_domain: str, kind: str, ident: str | int) -> str:
        return f"relais:upsell:v1:{shop_domain}:{kind}:{ident}"

    def recommendations(self, shop_domain: str, product_id: int, *, limit: int) -> list[Product]:
        return self.many_recommendations(shop_domain, [product_id], limit=limit)[product_id]

    def many_recommendations(
        self, shop_domain: str, product_ids: Sequence[int], *, limit: int
    ) -> dict[int, list[Product]]:
        """Recommendations of several products with one Redis round trip for the hits."""
        keys = [self.key(shop_domain, "p", pid) for pid in product_ids]
        cached = self._get_many(keys)
        result: dict[int, list[Product]] = {}
        for pid, key, hit in zip(product_ids, keys, cached, strict=True):
            if hit is not None:
                result[pid] = hit[:limit]
                continue
            products = self.inner.recommendations(shop_domain, pid, limit=limit)
            self._set(key, products)
            result[pid] = products
        return result

    def collection(self, shop_domain: str, handle: str, *, limit: int) -> list[Product]:
        key = self.key(shop_domain, "c", handle)
        hit = self._get_many([key])[0]
        if hit is not None:
            return hit[:limit]
        products = self.inner.collection(shop_domain, handle, limit=limit)
        self._set(key, products)
        return products

    def _get_many(self, keys: list[str]) -> list[list[Product] | None]:
        try:
            raw_values = self.redis.mget(keys)
        except RedisError as exc:
            log.warning("upsell cache unavailable: %s", type(exc).__name__)
            return [None] * len(keys)
        values: list[list[Product] | None] = []
        for raw in raw_values:
            if raw is None:
                values.append(None)
                continue
            products = (Product.from_dict(p) for p in json.loads(raw))
            values.append([p for p in products if p is not None])
        return values

    def _set(self, key: str, products: list[Product]) -> None:
        try:
            self.redis.set(key, json.dumps([asdict(p) for p in products]), ex=self.ttl)
        except RedisError as exc:
            log.warning("upsell cache unavailable: %s", type(exc).__name__)


@dataclass(frozen=True)
class UpsellSettings:
    """The merchant's choices, read from ``shop.settings["upsell"]``."""

    enabled: bool = True
    fallback_collection: str | None = None
    discount_code: str | None = None
    # Optional merchant wording of the offer, per language ("fr", "en").
    discount_text: Mapping[str, str] = field(default_factory=dict)
    limit: int = DEFAULT_LIMIT

    @classmethod
    def from_shop_settings(cls, settings: Mapping[str, Any] | None) -> UpsellSettings:
        raw = (settings or {}).get("upsell") or {}
        code = raw.get("discount_code")
        text = raw.get("discount_text")
        limit = raw.get("limit", DEFAULT_LIMIT)
        return cls(
            enabled=bool(raw.get("enabled", True)),
            fallback_collection=raw.get("fallback_collection") or None,
            discount_code=str(code).strip() if code else None,
            discount_text={k: str(v) for k, v in text.items()} if isinstance(text, dict) else {},
            limit=max(1, min(int(limit), 8)) if isinstance(limit, int) else DEFAULT_LIMIT,
        )


def pick_products(
    source: ProductSource,
    shop_domain: str,
    bought_product_ids: Sequence[int],
    settings: UpsellSettings,
) -> list[Product]:
    """What to show: recommendations for the bought products, else the fallback collection.

    Products already bought and unavailable ones are left out; at most ``settings.limit``.
    """
    seeds = list(dict.fromkeys(bought_product_ids))[:MAX_SEED_PRODUCTS]
    bought = set(bought_product_ids)
    if isinstance(source, CachedProductSource):
        by_seed = source.many_recommendations(shop_domain, seeds, limit=settings.limit * 2)
    else:
        by_seed = {
            s: source.recommendations(shop_domain, s, limit=settings.limit * 2) for s in seeds
        }
    candidates = [p for seed in seeds for p in by_seed.get(seed, [])]
    products = [p for p in _unique(candidates) if p.id not in bought and p.available]
    if not products and settings.fallback_collection:
        fallback = source.collection(
            shop_domain, settings.fallback_collection, limit=settings.limit * 2
        )
        products = [p for p in fallback if p.id not in bought and p.available]
    return products[: settings.limit]


def product_link(
    handle: str, *, medium: str, base: str = "", discount_code: str | None = None
) -> str:
    """The product page with UTM parameters; through ``/discount/CODE`` when there is an offer.

    ``base`` is empty on the shop's own domain (app proxy, theme) and ``https://shop`` on the
    standalone page.
    """
    utm = urlencode({"utm_source": "relais", "utm_medium": medium, "utm_campaign": "upsell"})
    path = f"/products/{quote(handle)}?{utm}"
    if discount_code:
        return f"{base}/discount/{quote(discount_code)}?{urlencode({'redirect': path})}"
    return f"{base}{path}"


def _unique(products: Iterable[Product]) -> list[Product]:
    seen: set[int] = set()
    unique = []
    for product in products:
        if product.id not in seen:
            seen.add(product.id)
            unique.append(product)
    return unique

"""What the storefront routes share: building the tracking page, upsell products, languages."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flask import Flask, current_app, request
from sqlalchemy import select

from frontend.i18n import Translator, choose_language, make_translator
from frontend.orders import load_order, order_for_ref, record_answer
from frontend.page import LoadedOrder, PageLinks, build_page
from frontend.rendering import render
from frontend.upsell import (
    CachedProductSource,
    FixtureProductSource,
    Product,
    ProductSource,
    UpsellSettings,
    pick_products,
)
from plugin.insights.feedback import after_answer, scale_of
from plugin.links import OrderRef
from plugin.models import Order, Shop
from plugin.runtime import Runtime, current_runtime

PRODUCT_SOURCE_KEY = "relais.product_source"
STATIC_URL_PATH = "/relais-static"


def install_product_source(app: Flask, source: ProductSource) -> None:
    """Choose where upsell products come from (the Shopify package installs its GraphQL one)."""
    app.extensions[PRODUCT_SOURCE_KEY] = source


log = logging.getLogger(__name__)


def product_source(runtime: Runtime) -> CachedProductSource:
    """The app's product source behind the Redis cache (the sample catalogue by default)."""
    source = current_app.extensions.get(PRODUCT_SOURCE_KEY)
    if source is None:
        source = FixtureProductSource(asset_base=runtime.config.app_url + STATIC_URL_PATH)
        current_app.extensions[PRODUCT_SOURCE_KEY] = source
    cached = current_app.extensions.get(PRODUCT_SOURCE_KEY + ".cached")
    if cached is None or cached.inner is not source:
        cached = CachedProductSource(source, runtime.redis)
        current_app.extensions[PRODUCT_SOURCE_KEY + ".cached"] = cached
    return cached


def has_marketing_consent(order: Order) -> bool:
    """Promotional content (upsell, discount) is shown only to shoppers who accepted it."""
    return bool(order.email_marketing_consent or order.sms_marketing_consent)


def bought_product_ids(order: Order) -> list[int]:
    ids = []
    for item in order.line_items or []:
        try:
            ids.append(int(item["product_id"]))
        except (KeyError, TypeError, ValueError):
            continue
    return ids


def upsell_for(runtime: Runtime, loaded: LoadedOrder) -> tuple[list[Product], UpsellSettings]:
    """Products for the order's upsell block: none without consent or when switched off."""
    settings = UpsellSettings.from_shop_settings(loaded.shop.settings)
    if not settings.enabled or not has_marketing_consent(loaded.order):
        return [], settings
    if loaded.order.cancelled_at is not None:
        return [], settings
    products = pick_products(
        product_source(runtime), loaded.shop.domain, bought_product_ids(loaded.order), settings
    )
    return products, settings


def render_tracking_page(
    ref: OrderRef, *, liquid: bool, links_for: Callable[[LoadedOrder], PageLinks]
) -> str | None:
    """The tracking page of the order ``ref`` names, or None when there is no such order."""
    runtime = current_runtime()
    with runtime.db.session() as session:
        loaded = load_order(session, ref)
        if loaded is None:
            return None
        t = translator_for(loaded.order, loaded.shop)
        products, settings = upsell_for(runtime, loaded)
        page = build_page(
            loaded, t, links_for(loaded), upsell_products=products, upsell_settings=settings
        )
        body = render("tracking.html", liquid=liquid, page=page, t=t, branding=page.branding)
    _count_view(runtime, loaded, upsell_shown=bool(page.upsell and page.upsell.products))
    return body


def _count_view(runtime: Runtime, loaded: LoadedOrder, *, upsell_shown: bool) -> None:
    """Count the view for the dashboard; a failure to count never costs the shopper the page."""
    from plugin.insights.tracking import record_page_view

    medium = request.args.get("utm_medium") if request else None
    try:
        with runtime.db.transaction() as session:
            record_page_view(
                session,
                loaded.shop.id,
                loaded.order.id,
                channel=medium if medium and medium.isidentifier() else None,
                upsell_shown=upsell_shown,
            )
    except Exception:
        log.warning("tracking page view not counted", exc_info=True)


def client_ip() -> str:
    """The shopper's address for rate limits: the first forwarded hop, else the peer.

    Through the app proxy that hop is the one Shopify reports; a forged header can only move
    a visitor to another per-IP bucket, and the per-shop limit still holds.
    """
    forwarded = request.headers.get("X-Forwarded-For", "")
    first = forwarded.split(",")[0].strip()
    return first or request.remote_addr or "unknown"


def translator_for(order: Order, shop: Shop) -> Translator:
    return make_translator(order.locale, shop.primary_locale, shop.iana_timezone)


def visitor_translator(shop: Shop | None, requested: str | None = None) -> Translator:
    """For pages without an order: the language asked for, the browser's, then the shop's."""
    browser = request.accept_languages.best_match(["fr", "en"]) if request else None
    language = choose_language(requested, browser, shop.primary_locale if shop else None)
    return make_translator(language, None, shop.iana_timezone if shop else None)


def shop_by_domain(domain: str) -> Shop | None:
    runtime = current_runtime()
    with runtime.db.session() as session:
        return session.scalar(
            select(Shop).where(Shop.domain == domain, Shop.uninstalled_at.is_(None))
        )


@dataclass(frozen=True)
class PageRating:
    """What became of a rating posted from the tracking page."""

    order_found: bool
    shipment_id: int | None  # None when the form could not be read


def rate_from_page(ref: OrderRef, form: Mapping[str, str]) -> PageRating:
    """Record the rating form of the tracking page (app proxy or standalone) for ``ref``."""
    runtime = current_runtime()
    try:
        rating = int(form.get("rating", ""))
        shipment_id = int(form.get("shipment", ""))
    except ValueError:
        return PageRating(order_found=True, shipment_id=None)
    with runtime.db.transaction() as session:
        order = order_for_ref(session, ref)
        if order is None:
            return PageRating(order_found=False, shipment_id=None)
        shop = session.get(Shop, order.shop_id)
        answer = record_answer(
            session,
            order,
            shipment_id,
            rating,
            scale=scale_of(shop) if shop is not None else "stars",
            channel="tracking_page",
            comment=form.get("comment"),
        )
    if answer is not None:
        after_answer(runtime, answer)
    return PageRating(order_found=True, shipment_id=shipment_id)

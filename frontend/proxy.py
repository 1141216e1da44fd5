"""Shopify's app proxy: ``https://{shop}/apps/track/...`` reaches ``/proxy/...`` here.

Every request must carry Shopify's ``signature`` (checked by ``shopify_app``: sorted
parameters, HMAC with the app secret, timestamp within 90 seconds, so an old request cannot
be replayed); anything else gets an empty 401. Shopify strips cookies on the proxy, so the
state a shopper carries from page to page is the signed order token in the path.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace

from flask import Blueprint, Response, abort, g, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from frontend import ratelimit
from frontend.branding import branding_from_settings
from frontend.orders import LookupQuery, find_order, installed_shop
from frontend.page import PageLinks
from frontend.rendering import HTML_CONTENT_TYPE, LIQUID_CONTENT_TYPE, render, see_other
from frontend.storefront import (
    bought_product_ids,
    client_ip,
    has_marketing_consent,
    product_source,
    rate_from_page,
    render_tracking_page,
    visitor_translator,
)
from frontend.upsell import UpsellSettings, pick_products, product_link
from plugin.digits import ascii_int
from plugin.links import (
    MYSHOPIFY_SUFFIX,
    PROXY_PATH_PREFIX,
    make_order_token,
    read_order_token,
    wallet_pass_link,
)
from plugin.models import Order, Shop
from plugin.runtime import current_runtime

log = logging.getLogger(__name__)

bp = Blueprint("storefront_proxy", __name__, url_prefix="/proxy")

# Shopify's proxy prefixes (apps, a, community, tools), maybe under a market's locale path.
_PATH_PREFIX = re.compile(
    r"^/(?:[a-z]{2}(?:-[a-zA-Z]{2})?/)?(?:apps|a|community|tools)/[a-z0-9_-]{1,60}$"
)


@dataclass(frozen=True)
class ProxyRequest:
    """A request Shopify signed: which shop it is for and where the proxy is mounted."""

    shop_domain: str
    path_prefix: str
    logged_in_customer_id: str | None


@bp.before_request
def verify_signature() -> Response | None:
    """Refuse (401, empty body) every request Shopify did not sign in the last 90 seconds."""
    runtime = current_runtime()
    if not request.args.get("signature", "").isascii():
        # Shopify signs in hex; anything else is forged (and would upset compare_digest).
        log.info("app proxy request refused: signature is not ASCII")
        return Response(status=401)
    query = request.query_string.decode("utf-8", errors="replace")
    result = runtime.shopify.verify_app_proxy_req(
        {
            "method": request.method,
            "headers": {},
            "url": f"https://proxy.invalid/?{query}",
            "body": "",
        }
    )
    shop = request.args.get("shop", "")
    if not result.ok or not shop.endswith(MYSHOPIFY_SUFFIX):
        log.info("app proxy request refused: %s", result.log.code)
        return Response(status=401)
    prefix = request.args.get("path_prefix", PROXY_PATH_PREFIX)
    g.proxy = ProxyRequest(
        shop_domain=shop,
        path_prefix=prefix if _PATH_PREFIX.match(prefix) else PROXY_PATH_PREFIX,
        logged_in_customer_id=request.args.get("logged_in_customer_id") or None,
    )
    return None


def _proxy() -> ProxyRequest:
    proxy: ProxyRequest = g.proxy
    return proxy


def _liquid(body: str, status: int = 200) -> Response:
    response = Response(body, status=status, content_type=LIQUID_CONTENT_TYPE)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _page_limits(proxy: ProxyRequest) -> bool:
    runtime = current_runtime()
    return ratelimit.allow(
        runtime.redis,
        (ratelimit.PAGE_PER_IP, client_ip()),
        (ratelimit.PAGE_PER_SHOP, proxy.shop_domain),
    )


def _message(shop: Shop | None, title: str, text: str, status: int) -> Response:
    t = visitor_translator(shop)
    branding = (
        branding_from_settings(shop.name or shop.domain, shop.settings)
        if shop
        else branding_from_settings("", None)
    )
    body = render(
        "message.html",
        liquid=True,
        t=t,
        branding=branding,
        title=title,
        text=text,
        lookup_url=_proxy().path_prefix,
    )
    response = _liquid(body, status)
    if status == 429:
        response.headers["Retry-After"] = "60"
    return response


def _lookup_form(
    shop: Shop, *, error: str | None = None, order_value: str = "", status: int = 200
) -> Response:
    t = visitor_translator(shop, request.form.get("locale") or request.args.get("locale"))
    body = render(
        "lookup.html",
        liquid=True,
        t=t,
        branding=branding_from_settings(shop.name or shop.domain, shop.settings),
        action=f"{_proxy().path_prefix}/lookup",
        error=error,
        order_value=order_value,
    )
    return _liquid(body, status)


def _shop_or_404() -> Shop:
    runtime = current_runtime()
    with runtime.db.session() as session:
        shop = installed_shop(session, _proxy().shop_domain)
    if shop is None:
        abort(404)
    return shop


@bp.get("")
@bp.get("/")
@bp.get("/lookup")
def lookup_form() -> Response:
    """The order lookup form (order number + email or phone)."""
    shop = _shop_or_404()
    if not _page_limits(_proxy()):
        return _message(shop, "lookup_title", "rate_limited", 429)
    return _lookup_form(shop)


@bp.post("/lookup")
def lookup() -> Response:
    """Find an order by number and contact; the same answer for every kind of miss."""
    proxy = _proxy()
    shop = _shop_or_404()
    runtime = current_runtime()
    if not ratelimit.allow(
        runtime.redis,
        (ratelimit.LOOKUP_PER_IP, client_ip()),
        (ratelimit.LOOKUP_PER_SHOP, proxy.shop_domain),
    ):
        return _message(shop, "lookup_title", "rate_limited", 429)
    order_number = request.form.get("order", "")[:40]
    contact = request.form.get("contact", "")[:320]
    if not order_number.strip() or not contact.strip():
        return _lookup_form(shop, error="lookup_missing", order_value=order_number)
    with runtime.db.session() as session:
        order = find_order(session, shop, LookupQuery(order_number=order_number, contact=contact))
        public_id = order.public_id if order is not None else None
    if public_id is None:
        return _lookup_form(shop, error="lookup_failed", order_value=order_number)
    token = make_order_token(runtime.config.secret_key, shop.domain, public_id)
    return see_other(f"{proxy.path_prefix}/o/{token}")


def _proxy_links(token: str, order: Order, shop: Shop) -> PageLinks:
    proxy = _proxy()
    config = current_runtime().config
    return PageLinks(
        feedback_action=f"{proxy.path_prefix}/feedback/{token}",
        wallet_url=(
            wallet_pass_link(config, shop.domain, order.public_id)
            if order.cancelled_at is None
            else None
        ),
    )


@bp.get("/o/<token>")
def tracking_page(token: str) -> Response:
    """The tracking page, in the shop's theme."""
    proxy = _proxy()
    if not _page_limits(proxy):
        return _message(None, "page_title", "rate_limited", 429)
    ref = read_order_token(current_runtime().config.secret_key, token)
    body = None
    if ref is not None and ref.shop_domain == proxy.shop_domain:
        body = render_tracking_page(
            ref,
            liquid=True,
            links_for=lambda loaded: _proxy_links(token, loaded.order, loaded.shop),
        )
    if body is None:
        return _not_found()
    return _liquid(body)


def _not_found() -> Response:
    runtime = current_runtime()
    with runtime.db.session() as session:
        shop = installed_shop(session, _proxy().shop_domain)
    return _message(shop, "not_found_title", "not_found_text", 404)


@bp.post("/feedback/<token>")
def feedback(token: str) -> Response:
    """One tap on the 1 to 5 rating of a delivered shipment; then back to the page."""
    proxy = _proxy()
    runtime = current_runtime()
    if not _page_limits(proxy):
        return _message(None, "page_title", "rate_limited", 429)
    ref = read_order_token(runtime.config.secret_key, token)
    if ref is None or ref.shop_domain != proxy.shop_domain:
        return _not_found()
    outcome = rate_from_page(ref, request.form)
    if not outcome.order_found:
        return _not_found()
    if outcome.shipment_id is None:
        return see_other(f"{proxy.path_prefix}/o/{token}")
    return see_other(f"{proxy.path_prefix}/o/{token}#rl-feedback-{outcome.shipment_id}")



@bp.get("/upsell")
def upsell_fragment() -> Response:
    """Products for the theme's Upsell block (HTML placed by the block's script).

    Seeds: the viewed product (``product_id``), else the logged-in customer's latest order.
    The merchant's discount shows only to a customer whose order is delivered and who
    accepted marketing.
    """
    proxy = _proxy()
    shop = _shop_or_404()
    runtime = current_runtime()
    if not _page_limits(proxy):
        return Response("", status=429, headers={"Retry-After": "60"})
    settings = UpsellSettings.from_shop_settings(shop.settings)
    limit = ascii_int(request.args.get("limit", ""))
    if limit is not None:
        # The block's own setting (2 to 8 in the theme editor).
        settings = replace(settings, limit=max(1, min(limit, 8)))
    t = visitor_translator(shop, request.args.get("locale"))
    seeds: list[int] = []
    product_id = ascii_int(request.args.get("product_id", ""))
    if product_id is not None:
        seeds.append(product_id)
    latest = _latest_order(shop, proxy.logged_in_customer_id)
    if latest is not None:
        seeds.extend(bought_product_ids(latest))
    products = (
        pick_products(product_source(runtime), shop.domain, seeds, settings)
        if settings.enabled
        else []
    )
    offer = None
    code = None
    if (
        latest is not None
        and settings.discount_code
        and has_marketing_consent(latest)
        and any(s.delivered_at is not None for s in latest.shipments)
    ):
        code = settings.discount_code
        offer = settings.discount_text.get(t.language) or t("discount_text", code=code)
    items = [
        {
            "title": p.title,
            "price": t.price(p.price, shop.currency),
            "image_url": p.image_url,
            "url": product_link(p.handle, medium="storefront_block", discount_code=code),
        }
        for p in products
    ]
    body = render(
        "upsell_fragment.html",
        liquid=False,
        t=t,
        products=items,
        heading=t("upsell_title"),
        offer=offer,
    )
    response = Response(body, content_type=HTML_CONTENT_TYPE)
    # Personalised when a customer is logged in; otherwise the same for every visitor.
    response.headers["Cache-Control"] = (
        "private, no-store" if proxy.logged_in_customer_id else "public, max-age=300"
    )
    return response


def _latest_order(shop: Shop, customer_id: str | None) -> Order | None:
    if not customer_id or ascii_int(customer_id) is None:
        return None
    runtime = current_runtime()
    with runtime.db.session() as session:
        return session.scalar(
            select(Order)
            .where(
                Order.shop_id == shop.id,
                Order.customer_shopify_id == int(customer_id),
                Order.redacted_at.is_(None),
            )
            .options(selectinload(Order.shipments))
            .order_by(Order.id.desc())
            .limit(1)
        )

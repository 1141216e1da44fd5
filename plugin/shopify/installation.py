"""Installation: the first embedded load of a shop (or the first after a reinstall).

Shopify installs Relais itself (managed installation, scopes from ``shopify.app.toml``); the
app learns of it when the merchant opens Relais: no stored token means "exchange the ID
token for one, mark the shop installed, and start importing its recent orders".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shopify_app.types import Res, ResultWithExchangeableIdToken
from sqlalchemy import select

from plugin import tracking
from plugin.models import Shop
from plugin.runtime import Runtime
from plugin.shopify.connection import shop_job_id, shopify_connection
from plugin.shopify.models import ShopifyAccessToken

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Installation:
    """The outcome of :func:`ensure_installed`; ``response`` is set when not ``ok``."""

    ok: bool
    shop_id: int
    installed_now: bool = False
    response: Res | None = None


def ensure_installed(
    runtime: Runtime, shop_domain: str, verified: ResultWithExchangeableIdToken
) -> Installation:
    """Make sure ``shop_domain`` has a token and is marked installed.

    The usual case (a token is stored) is one read. Otherwise the verified ID token is
    exchanged for an expiring offline token, the shop is marked installed and its
    details and recent orders are queued for import.
    """
    with runtime.db.session() as session:
        known = session.execute(
            select(Shop.id, Shop.uninstalled_at, ShopifyAccessToken.shop_id.label("token"))
            .outerjoin(ShopifyAccessToken, ShopifyAccessToken.shop_id == Shop.id)
            .where(Shop.domain == shop_domain)
        ).one_or_none()
    if known is not None and known.uninstalled_at is None and known.token is not None:
        return Installation(ok=True, shop_id=known.id)

    with runtime.db.transaction() as session:
        shop_id = tracking.ensure_shop(session, shop_domain).id
    result = shopify_connection().tokens.exchange(shop_id, verified)
    if not result.ok:
        return Installation(ok=False, shop_id=shop_id, response=result.response)
    with runtime.db.transaction() as session:
        shop = session.get(Shop, shop_id)
        assert shop is not None
        tracking.mark_installed(session, shop)
    start_shop_sync(runtime, shop_id)
    log.info("shop %s installed (token exchanged, import queued)", shop_domain)
    return Installation(ok=True, shop_id=shop_id, installed_now=True)


def start_shop_sync(runtime: Runtime, shop_id: int) -> None:
    """Queue the import of the shop's details, then of its recent open orders."""
    runtime.queues.enqueue(
        "default",
        "plugin.shopify.sync.sync_shop_job",
        shop_id,
        job_id=shop_job_id(shop_id, "shop-details"),
    )
    runtime.queues.enqueue(
        "default",
        "plugin.shopify.sync.start_order_import_job",
        shop_id,
        job_id=shop_job_id(shop_id, "order-import-start"),
    )

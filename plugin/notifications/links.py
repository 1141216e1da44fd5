"""The links a message carries. Each kind of link is built by exactly one function here, on
top of :mod:`plugin.links` (signed, shop-bound tokens), so that changing its shape is a
one-place change."""

from __future__ import annotations

from plugin.config import Config
from plugin.links import short_tracking_link, tracking_link, wallet_pass_link
from plugin.models import Order, Shop


def tracking_url(config: Config, shop: Shop, order: Order) -> str:
    """The shopper's tracking page for ``order``, on the shop's own domain."""
    return tracking_link(config, shop.domain, order.public_id, host=shop.primary_domain)


def wallet_pass_url(config: Config, shop: Shop, order: Order) -> str:
    """Where the "Add to Apple Wallet" button points: the order's pass (signed link)."""
    return wallet_pass_link(config, shop.domain, order.public_id)


def short_tracking_url(config: Config, order: Order) -> str:
    """The tracking page behind a short link, for SMS."""
    return short_tracking_link(config, order.public_id)

"""The links a message carries. Each kind of link is built by exactly one function here, on
top of :mod:`plugin.links` (signed, shop-bound tokens), so that changing its shape is a
one-place change.

Every link a shopper gets in a message goes through the click-counting redirect
(:func:`plugin.links.click_link`, ``/r/<token>``), which adds the UTM parameters and counts
the click against the message. Two exceptions, each for a reason: the SMS short link
(``/s/<code>``) keeps an SMS in one GSM-7 segment, and the one-tap rating links (``/f/``)
count their own click when they record the score (through ``/r/`` it would count twice).
"""

from __future__ import annotations

from dataclasses import dataclass

from plugin.config import Config
from plugin.links import click_link, short_tracking_link, tracking_link, wallet_pass_link
from plugin.models import Order, Shop


@dataclass(frozen=True)
class ClickOrigin:
    """The message a link is printed in: its click is counted against it."""

    channel: str
    milestone: str | None
    message_id: int | None


def tracking_url(config: Config, shop: Shop, order: Order) -> str:
    """The shopper's tracking page for ``order``, on the shop's own domain."""
    return tracking_link(config, shop.domain, order.public_id, host=shop.primary_domain)


def wallet_pass_url(config: Config, shop: Shop, order: Order) -> str:
    """Where the "Add to Apple Wallet" button points: the order's pass (signed link)."""
    return wallet_pass_link(config, shop.domain, order.public_id)


def short_tracking_url(config: Config, order: Order, *, anchor: str | None = None) -> str:
    """The tracking page behind a short link, for SMS (``anchor``: a part of the page, kept
    by the browser through the redirect)."""
    link = short_tracking_link(config, order.public_id)
    return f"{link}#{anchor}" if anchor else link


def counted_url(config: Config, shop: Shop, url: str, origin: ClickOrigin) -> str:
    """``url`` behind the click-counting redirect, with the message's UTM parameters."""
    return click_link(
        config,
        shop.domain,
        url,
        channel=origin.channel,
        milestone=origin.milestone,
        message_id=origin.message_id,
    )


def feedback_anchor(shipment_id: int) -> str:
    """The rating form of a shipment on the tracking page."""
    return f"rl-feedback-{shipment_id}"

"""What shoppers do with Relais: clicks through the redirect, page and upsell views, and the
orders attributed to Relais links and discount codes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.insights.models import EventKind, InsightEvent, OrderAttribution, RelaisDiscountCode
from plugin.models import Order, Shop
from plugin.notifications.models import NotificationMessage
from plugin.upsert import insert_once

log = logging.getLogger(__name__)
UPSELL_CAMPAIGN = "upsell"
SMS_CHANNEL = "sms"


def record_event(
    session: Session,
    shop_id: int,
    kind: str,
    *,
    order_id: int | None = None,
    message_id: int | None = None,
    channel: str | None = None,
    campaign: str | None = None,
) -> None:
    """Append one click or view."""
    session.execute(
        insert(InsightEvent).values(
            shop_id=shop_id,
            kind=kind,
            order_id=order_id,
            message_id=message_id,
            channel=(channel or None) and channel[:16],
            campaign=(campaign or None) and campaign[:32],
            happened_at=utcnow(),
        )
    )


def record_short_link_click(session: Session, shop_id: int, order_id: int) -> str | None:
    """A shopper opened an order's SMS short link (``/s/``). Every text of an order carries
    the same short link, so the click goes to the last one sent before it; returns that
    text's milestone (the UTM campaign), if any."""
    message = session.execute(
        select(NotificationMessage.id, NotificationMessage.milestone)
        .where(
            NotificationMessage.order_id == order_id,
            NotificationMessage.channel == SMS_CHANNEL,
            NotificationMessage.sent_at.is_not(None),
        )
        .order_by(NotificationMessage.sent_at.desc())
        .limit(1)
    ).first()
    record_event(
        session,
        shop_id,
        EventKind.CLICK,
        order_id=order_id,
        message_id=message.id if message else None,
        channel=SMS_CHANNEL,
        campaign=message.milestone if message else None,
    )
    return message.milestone if message else None


def record_page_view(
    session: Session, shop_id: int, order_id: int, *, channel: str | None, upsell_shown: bool
) -> None:
    """The tracking page was shown (and its upsell block, when it had products)."""
    record_event(session, shop_id, EventKind.PAGE_VIEW, order_id=order_id, channel=channel)
    if upsell_shown:
        record_event(
            session,
            shop_id,
            EventKind.UPSELL_VIEW,
            order_id=order_id,
            channel=channel,
            campaign=UPSELL_CAMPAIGN,
        )


# --- attribution ---------------------------------------------------------------------------


def _utm(url: str | None) -> dict[str, str]:
    if not url:
        return {}
    try:
        query = urlsplit(url if "://" in url or url.startswith("/") else "/" + url).query
    except ValueError:
        return {}
    return {k: v[0] for k, v in parse_qs(query).items() if k.startswith("utm_") and v}


def relais_codes(session: Session, shop: Shop) -> set[str]:
    """Discount codes that are Relais's: created through the Admin API, or the upsell's."""
    codes = {
        code.upper()
        for code in session.scalars(
            select(RelaisDiscountCode.code).where(RelaisDiscountCode.shop_id == shop.id)
        )
    }
    upsell = (shop.settings or {}).get("upsell") or {}
    code = upsell.get("discount_code") if isinstance(upsell, dict) else None
    if isinstance(code, str) and code.strip():
        codes.add(code.strip().upper())
    return codes


def attribute_order(
    session: Session,
    shop: Shop,
    order_id: int | None,
    *,
    landing_site: str | None,
    referring_site: str | None,
    discount_codes: Sequence[str],
) -> str | None:
    """Attribute an order to Relais when it landed from a Relais link or used a Relais code.

    The first attribution of an order stands; its revenue is the order's total in the shop's
    currency. Returns the source (``link`` or ``discount_code``) when attributed now.
    """
    if order_id is None:
        return None
    order = session.get(Order, order_id)
    if order is None or order.total_price is None:
        return None
    source = channel = campaign = code = None
    for url in (landing_site, referring_site):
        utm = _utm(url)
        if utm.get("utm_source", "").lower() == "relais":
            source, channel, campaign = "link", utm.get("utm_medium"), utm.get("utm_campaign")
            break
    used = [c.strip().upper() for c in discount_codes if c and c.strip()]
    ours = relais_codes(session, shop) if used else set()
    matching = next((c for c in used if c in ours), None)
    if matching is not None:
        code = matching
        if source is None:
            source, campaign = "discount_code", UPSELL_CAMPAIGN
    if source is None:
        return None
    inserted = insert_once(
        session,
        OrderAttribution,
        {
            "order_id": order.id,
            "shop_id": shop.id,
            "source": source,
            "channel": (channel or None) and channel[:16],
            "campaign": (campaign or None) and campaign[:32],
            "discount_code": code,
            "currency": shop.currency or order.currency or "EUR",
            "revenue": Decimal(order.total_price),
            "ordered_at": order.shopify_created_at or utcnow(),
            "created_at": utcnow(),
        },
        conflict_columns=["order_id"],
    )
    return source if inserted else None


def attributed_count(session: Session, shop_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(OrderAttribution)
            .where(OrderAttribution.shop_id == shop_id)
        )
        or 0
    )

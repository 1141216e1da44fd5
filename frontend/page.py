"""The tracking page as plain values: what the templates show, already translated and formatted.

Only two pieces of personal data reach it: the shopper's first name and the delivery city.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from frontend.branding import Branding, branding_from_settings
from frontend.i18n import Translator
from frontend.upsell import Product, UpsellSettings, product_link
from plugin.milestones import Milestone
from plugin.models import Order, Shipment, Shop, TrackingEvent

# The five steps of the progress bar, and where each milestone stands on it.
STEP_KEYS = (
    "step_ordered",
    "step_prepared",
    "step_shipped",
    "step_out_for_delivery",
    "step_delivered",
)
PICKUP_STEP_KEYS = (
    "step_ordered",
    "step_prepared",
    "step_shipped",
    "step_ready_for_pickup",
    "step_picked_up",
)
STEP_OF_MILESTONE = {
    Milestone.ORDERED: 0,
    Milestone.NOT_SHIPPED: 0,
    Milestone.LABEL_CREATED: 1,
    Milestone.SHIPPED: 2,
    Milestone.IN_TRANSIT: 2,
    Milestone.DELAYED: 2,
    Milestone.STALLED: 2,
    Milestone.LATE: 2,
    Milestone.OUT_FOR_DELIVERY: 3,
    Milestone.ATTEMPTED_DELIVERY: 3,
    Milestone.READY_FOR_PICKUP: 3,
    Milestone.PICKUP_REMINDER: 3,
    Milestone.FAILURE: 3,
    Milestone.RETURNING_TO_SENDER: 3,
    Milestone.DELIVERED: 4,
    Milestone.FEEDBACK_REQUEST: 4,
}
# When shipments disagree, the one that needs the shopper's attention sets the headline.
ATTENTION_ORDER = (
    Milestone.ATTEMPTED_DELIVERY,
    Milestone.FAILURE,
    Milestone.READY_FOR_PICKUP,
    Milestone.PICKUP_REMINDER,
    Milestone.RETURNING_TO_SENDER,
    Milestone.DELAYED,
    Milestone.LATE,
    Milestone.OUT_FOR_DELIVERY,
)
# Milestones whose headline is worded differently (derived ones read like their cause).
HEADLINE_ALIAS = {
    Milestone.PICKUP_REMINDER: Milestone.READY_FOR_PICKUP,
    Milestone.LATE: Milestone.DELAYED,
    Milestone.STALLED: Milestone.IN_TRANSIT,
    Milestone.NOT_SHIPPED: Milestone.LABEL_CREATED,
    Milestone.FEEDBACK_REQUEST: Milestone.DELIVERED,
}
DELIVERED = frozenset({Milestone.DELIVERED, Milestone.FEEDBACK_REQUEST})
ATTENTION_TONE = frozenset(
    {
        Milestone.ATTEMPTED_DELIVERY,
        Milestone.FAILURE,
        Milestone.RETURNING_TO_SENDER,
        Milestone.DELAYED,
        Milestone.LATE,
        Milestone.CANCELLED,
    }
)


@dataclass(frozen=True)
class PageLinks:
    """Where the page's forms and buttons go, which differs between proxy and standalone."""

    feedback_action: str
    wallet_url: str | None
    product_base: str = ""
    medium: str = "tracking_page"


@dataclass(frozen=True)
class Step:
    label: str
    done: bool
    current: bool


@dataclass(frozen=True)
class TimelineEntry:
    when: str
    iso: str
    label: str
    detail: str | None
    city: str | None
    current: bool = False


@dataclass(frozen=True)
class Item:
    title: str
    variant: str | None
    quantity: int
    image_url: str | None


@dataclass(frozen=True)
class ShipmentView:
    id: int
    title: str
    status: str
    tone: str
    steps: list[Step]
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    eta: str | None
    timeline: list[TimelineEntry]
    items: list[Item]
    delivered: bool
    feedback_rating: int | None = None


@dataclass(frozen=True)
class PickupView:
    name: str
    address_lines: list[str]
    hours: list[str]


@dataclass(frozen=True)
class UpsellItem:
    title: str
    price: str
    image_url: str | None
    url: str


@dataclass(frozen=True)
class UpsellView:
    products: list[UpsellItem]
    discount_code: str | None
    discount_text: str | None
    discount_url: str | None


@dataclass(frozen=True)
class TrackingPage:
    """Everything the tracking template shows."""

    t: Translator
    branding: Branding
    order_name: str
    greeting: str
    city_line: str | None
    headline: str
    tone: str
    steps: list[Step]
    eta: str | None
    delivered_on: str | None
    shipments: list[ShipmentView]
    unshipped_items: list[Item]
    pickup: PickupView | None
    links: PageLinks
    help_email: str | None
    help_mailto: str | None
    upsell: UpsellView | None = None
    feedback_options: Sequence[int] = field(default=(1, 2, 3, 4, 5))
    feedback_scale: str = "stars"


@dataclass(frozen=True)
class LoadedOrder:
    """An order with what the page reads, loaded in one go."""

    order: Order
    shop: Shop
    shipments: list[Shipment]
    events: list[TrackingEvent]
    ratings: dict[int, int]


def as_milestone(value: str | None) -> Milestone | None:
    try:
        return Milestone(value) if value else None
    except ValueError:
        return None  # a value newer than this code: shown as a generic update


def is_pickup(order: Order) -> bool:
    return bool(order.pickup_point)


def build_page(
    loaded: LoadedOrder,
    t: Translator,
    links: PageLinks,
    *,
    upsell_products: Sequence[Product] = (),
    upsell_settings: UpsellSettings | None = None,
) -> TrackingPage:
    """Turn an order into the page a shopper reads."""
    order, shop = loaded.order, loaded.shop
    pickup = is_pickup(order)
    items_by_id = {str(li.get("id")): li for li in order.line_items or []}
    order_events = [e for e in loaded.events if e.shipment_id is None]
    events_by_shipment: dict[int, list[TrackingEvent]] = defaultdict(list)
    for event in loaded.events:
        if event.shipment_id is not None:
            events_by_shipment[event.shipment_id].append(event)

    active = [s for s in loaded.shipments if as_milestone(s.milestone) != Milestone.CANCELLED]
    total = len(active)
    shipments = [
        _shipment_view(
            s,
            index,
            total,
            t,
            pickup,
            items_by_id,
            events_by_shipment.get(s.id, []) + order_events,
            loaded.ratings.get(s.id),
        )
        for index, s in enumerate(active, start=1)
    ]
    milestones = [as_milestone(s.milestone) for s in active]
    headline_milestone, headline_key = _headline(order, milestones, pickup)
    progress = _order_progress(order, milestones)
    step_keys = PICKUP_STEP_KEYS if pickup else STEP_KEYS
    branding = branding_from_settings(shop.name or shop.domain, shop.settings)
    help_email = (shop.settings or {}).get("support_email") or shop.contact_email
    upsell = _upsell_view(
        upsell_products,
        upsell_settings,
        t,
        links,
        shop.currency,
        delivered=headline_milestone in DELIVERED,
    )
    from plugin.insights.feedback import scale_of, scores

    scale = scale_of(shop)
    return TrackingPage(
        feedback_options=scores(scale),
        feedback_scale=scale,
        t=t,
        branding=branding,
        order_name=order.name or "",
        greeting=(
            t("hello", first_name=order.first_name) if order.first_name else t("hello_anonymous")
        ),
        city_line=(
            t("delivery_to", city=order.ship_city) if order.ship_city and not pickup else None
        ),
        headline=t(headline_key),
        tone=_tone(headline_milestone),
        steps=_steps(step_keys, progress, t),
        eta=_eta(active, t),
        delivered_on=_delivered_on(active, t, headline_milestone),
        shipments=shipments,
        unshipped_items=_unshipped_items(order, active),
        pickup=_pickup_view(order.pickup_point) if pickup else None,
        links=links,
        help_email=help_email,
        help_mailto=_mailto(help_email, t("help_subject", name=order.name or "")),
        upsell=upsell,
    )


def _headline(
    order: Order, milestones: list[Milestone | None], pickup: bool
) -> tuple[Milestone, str]:
    if order.cancelled_at is not None:
        return Milestone.CANCELLED, "headline_cancelled"
    known = [HEADLINE_ALIAS.get(m, m) if m else Milestone.IN_TRANSIT for m in milestones]
    if not known:
        return Milestone.ORDERED, "headline_ordered"
    undelivered = [m for m in known if m not in DELIVERED]
    if not undelivered:
        return Milestone.DELIVERED, "headline_picked_up" if pickup else "headline_delivered"
    for urgent in ATTENTION_ORDER:
        if urgent in undelivered:
            if urgent == Milestone.OUT_FOR_DELIVERY and len(set(undelivered)) > 1:
                # Only one of several parcels arrives today: say so, not "your order".
                return urgent, "headline_one_parcel_out_for_delivery"
            return urgent, f"headline_{urgent.value}"
    if len(undelivered) < len(known):
        return Milestone.IN_TRANSIT, "headline_partly_delivered"
    least = min(undelivered, key=lambda m: STEP_OF_MILESTONE.get(m, 2))
    return least, f"headline_{least.value}"


def _order_progress(order: Order, milestones: list[Milestone | None]) -> int:
    if order.cancelled_at is not None or not milestones:
        return 0
    return min(STEP_OF_MILESTONE.get(m, 2) if m else 2 for m in milestones)


def _tone(milestone: Milestone) -> str:
    if milestone in ATTENTION_TONE:
        return "warn"
    if milestone in DELIVERED:
        return "done"
    return "info"


def _steps(keys: Sequence[str], progress: int, t: Translator) -> list[Step]:
    return [
        Step(label=t(key), done=index <= progress, current=index == progress)
        for index, key in enumerate(keys)
    ]


def _eta(shipments: list[Shipment], t: Translator) -> str | None:
    dates = [
        s.estimated_delivery_at
        for s in shipments
        if s.estimated_delivery_at and as_milestone(s.milestone) not in DELIVERED
    ]
    return t.long_date(max(dates)) if dates else None


def _delivered_on(shipments: list[Shipment], t: Translator, milestone: Milestone) -> str | None:
    if milestone not in DELIVERED:
        return None
    dates = [s.delivered_at for s in shipments if s.delivered_at]
    return t.long_date(max(dates)) if dates else None


def _shipment_view(
    shipment: Shipment,
    index: int,
    total: int,
    t: Translator,
    pickup: bool,
    items_by_id: dict[str, dict[str, Any]],
    events: list[TrackingEvent],
    rating: int | None,
) -> ShipmentView:
    milestone = as_milestone(shipment.milestone)
    step = STEP_OF_MILESTONE.get(milestone, 2) if milestone else 2
    delivered = milestone in DELIVERED
    timeline = sorted(events, key=lambda e: e.happened_at, reverse=True)
    return ShipmentView(
        id=shipment.id,
        title=t("shipment", number=index, total=total) if total > 1 else t("shipment_single"),
        status=t(f"milestone_{milestone.value}") if milestone else t("milestone_unknown"),
        tone=_tone(milestone) if milestone else "info",
        steps=_steps(PICKUP_STEP_KEYS if pickup else STEP_KEYS, step, t),
        carrier=shipment.tracking_company,
        tracking_number=shipment.tracking_number,
        tracking_url=_safe_url(shipment.tracking_url),
        eta=(
            t.long_date(shipment.estimated_delivery_at)
            if shipment.estimated_delivery_at and not delivered
            else None
        ),
        timeline=[_timeline_entry(e, t, i == 0) for i, e in enumerate(timeline)],
        items=[
            _item(items_by_id.get(str(li.get("id")), li), li) for li in shipment.line_items or []
        ],
        delivered=delivered,
        feedback_rating=rating,
    )


def _timeline_entry(event: TrackingEvent, t: Translator, current: bool) -> TimelineEntry:
    milestone = as_milestone(event.milestone)
    label = (
        t(f"milestone_{milestone.value}")
        if milestone
        else (event.message or t("milestone_unknown"))
    )
    detail = event.message if milestone and event.message and event.message != label else None
    return TimelineEntry(
        when=t.short_datetime(event.happened_at),
        iso=t.local(event.happened_at).isoformat(timespec="minutes"),
        label=label,
        detail=detail,
        city=event.city,
        current=current,
    )


def _item(order_item: dict[str, Any], shipped: dict[str, Any]) -> Item:
    return Item(
        title=str(order_item.get("title") or shipped.get("title") or ""),
        variant=order_item.get("variant_title") or None,
        quantity=int(shipped.get("quantity") or order_item.get("quantity") or 1),
        image_url=_safe_url(order_item.get("image_url")),
    )


def _unshipped_items(order: Order, shipments: list[Shipment]) -> list[Item]:
    if order.cancelled_at is not None:
        return []
    shipped: dict[str, int] = defaultdict(int)
    for shipment in shipments:
        for li in shipment.line_items or []:
            shipped[str(li.get("id"))] += int(li.get("quantity") or 0)
    items = []
    for li in order.line_items or []:
        left = int(li.get("quantity") or 0) - shipped.get(str(li.get("id")), 0)
        if left > 0:
            items.append(_item(li, {"quantity": left}))
    return items


def _pickup_view(point: dict[str, Any] | None) -> PickupView | None:
    if not point or not point.get("name"):
        return None
    city_line = " ".join(str(p) for p in (point.get("zip"), point.get("city")) if p)
    lines = [str(p) for p in (point.get("address1"), city_line) if p]
    hours = point.get("hours")
    if isinstance(hours, dict):
        hour_lines = [f"{day} : {value}" for day, value in hours.items()]
    elif isinstance(hours, list):
        hour_lines = [str(h) for h in hours]
    elif isinstance(hours, str) and hours.strip():
        hour_lines = [h.strip() for h in re.split(r"[\n;]", hours) if h.strip()]
    else:
        hour_lines = []
    return PickupView(name=str(point["name"]), address_lines=lines, hours=hour_lines)


def _upsell_view(
    products: Sequence[Product],
    settings: UpsellSettings | None,
    t: Translator,
    links: PageLinks,
    currency: str,
    *,
    delivered: bool,
) -> UpsellView | None:
    if not products or settings is None:
        return None
    # The merchant's offer only once the parcel is there: a thank-you, not a sales pitch.
    code = settings.discount_code if delivered else None
    items = [
        UpsellItem(
            title=p.title,
            price=t.price(p.price, currency),
            image_url=_safe_url(p.image_url),
            url=product_link(
                p.handle, medium=links.medium, base=links.product_base, discount_code=code
            ),
        )
        for p in products
    ]
    text = None
    if code:
        text = settings.discount_text.get(t.language) or t("discount_text", code=code)
    discount_url = (
        f"{links.product_base}/discount/{quote(code)}?redirect=/collections/all" if code else None
    )
    return UpsellView(
        products=items, discount_code=code, discount_text=text, discount_url=discount_url
    )


def _safe_url(value: object) -> str | None:
    # Only web links reach an href or src: no javascript:, data: or relative surprises.
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return value
    return None


def _mailto(email: str | None, subject: str) -> str | None:
    if not email or "@" not in email:
        return None
    return f"mailto:{quote(email, safe='@')}?subject={quote(subject)}"

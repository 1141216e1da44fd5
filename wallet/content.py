"""From an order as Relais stores it to what its pass and its Wallet order show.

Reads the order, its shipments and the shop's settings (branding, support address, upsell
offer) and returns the plain contents of :mod:`wallet.passes` and :mod:`wallet.orders`,
then builds the signed packages. No Flask here; the web service and the jobs call it.

Languages: both packages carry French and English strings and the device shows the one it
reads (Wallet's own choice, by the device's language). The order's locale decides what
only one language can say: which text of the merchant's offer stands in for a missing
translation, and the download's file name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.admin.settings import get_branding, get_upsell
from plugin.config import Config
from plugin.links import shop_handle, tracking_link
from plugin.milestones import PROGRESS, Milestone
from plugin.models import Order, Shipment, Shop
from plugin.notifications.links import feedback_anchor
from wallet.credentials import credentials
from wallet.formats import LocalizedText
from wallet.models import PASS, WalletPass
from wallet.orders import (
    Fulfillment,
    LineItem,
    Merchant,
    Money,
    OrderPackage,
    PickupPlace,
    WalletOrderContent,
    build_order,
)
from wallet.passes import OrderPassContent, PassPackage, PickupPoint, Rgb, build_pass
from wallet.texts import MILESTONES, NBSP, base_table

# Milestones that ask something of the shopper, most urgent first: on a split order one
# of these outranks how far the other parcels got.
ATTENTION = (
    Milestone.READY_FOR_PICKUP,
    Milestone.ATTEMPTED_DELIVERY,
    Milestone.FAILURE,
    Milestone.RETURNING_TO_SENDER,
    Milestone.DELAYED,
)
_DONE = frozenset({Milestone.DELIVERED.value, Milestone.CANCELLED.value})
_CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_OFFER_LENGTH = 300


class NotFound(LookupError):
    """No such order, or not one Wallet may show (redacted, shop gone)."""


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class OrderRecord:
    """An order with what its documents need, loaded in one session."""

    shop: Shop
    order: Order
    shipments: tuple[Shipment, ...]
    wallet_pass: WalletPass


def load_record(session: Session, wallet_pass: WalletPass) -> OrderRecord:
    """Load the order behind ``wallet_pass``. Read the pass row *before* calling this:
    its ``updated_at`` then never claims a change the content below does not hold (the
    update is recorded after the change commits)."""
    order = session.get(Order, wallet_pass.order_id)
    if order is None or order.redacted_at is not None:
        raise NotFound("order gone or redacted")
    shop = session.get(Shop, order.shop_id)
    if shop is None:
        raise NotFound("shop gone")
    shipments = tuple(
        session.scalars(select(Shipment).where(Shipment.order_id == order.id).order_by(Shipment.id))
    )
    return OrderRecord(shop, order, shipments, wallet_pass)


# ------------------------------------------------------------------- the order's state


@dataclass(frozen=True)
class OrderState:
    """What the pass says about the whole order: one milestone, the shipment whose
    details (carrier, tracking, dates) go with it, and how many parcels there are."""

    milestone: str
    milestone_at: datetime | None
    shown: Shipment | None
    parcels: int


def order_state(order: Order, shipments: Sequence[Shipment]) -> OrderState:
    """One status for the pass, split shipments included.

    A pass has one status line. For a split order it shows the parcel the shopper is
    still waiting for, never the most advanced one: "Delivered" while a second parcel
    is on its way would be read as "everything arrived". So: a parcel that needs the
    shopper (waiting at a pickup point, missed delivery, problem, delay) comes first;
    otherwise the least advanced parcel not yet delivered; "Delivered" only once every
    parcel is. The parcel count ("Parcels: 2") sits next to it, and the carrier and
    tracking number shown are those of the parcel the status describes.
    """
    if order.cancelled_at is not None:
        return OrderState(Milestone.CANCELLED.value, order.cancelled_at, None, 1)
    active = [s for s in shipments if s.milestone in MILESTONES and s.milestone != "cancelled"]
    if not active:
        return OrderState(Milestone.ORDERED.value, order.shopify_created_at, None, 1)
    parcels = len(active)
    for milestone in ATTENTION:
        waiting = [s for s in active if s.milestone == milestone.value]
        if waiting:
            shown = min(waiting, key=lambda s: (s.milestone_at is None, s.milestone_at, s.id))
            return OrderState(shown.milestone, shown.milestone_at, shown, parcels)
    pending = [s for s in active if s.milestone not in _DONE]
    if pending:
        shown = min(pending, key=lambda s: (_progress(s.milestone), s.id))
        return OrderState(shown.milestone, shown.milestone_at, shown, parcels)
    shown = max(active, key=lambda s: (s.delivered_at or s.milestone_at or order.created_at, s.id))
    return OrderState(shown.milestone, shown.delivered_at or shown.milestone_at, shown, parcels)


def _progress(milestone: str) -> int:
    try:
        return PROGRESS.get(Milestone(milestone), 0)
    except ValueError:
        return 0


# ------------------------------------------------------------------------- branding


def _luminance(colour: Rgb) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(colour.red)
        + 0.7152 * channel(colour.green)
        + 0.0722 * channel(colour.blue)
    )


def _contrast(a: Rgb, b: Rgb) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


WHITE = Rgb(255, 255, 255)
INK = Rgb(17, 17, 17)
DEFAULT_BACKGROUND = Rgb(28, 58, 94)
DEFAULT_LABEL = Rgb(214, 164, 96)


def _colour(value: str | None) -> Rgb | None:
    if not value:
        return None
    try:
        return Rgb.from_hex(value)
    except ValueError:
        return None


def pass_colours(primary: str | None, accent: str | None) -> tuple[Rgb, Rgb, Rgb]:
    """(background, foreground, label): the shop's primary colour as background, text in
    white or ink whichever reads better, labels in the accent colour when it stays
    legible on the background (3:1, large-text contrast), else in the text colour."""
    background = _colour(primary) or DEFAULT_BACKGROUND
    foreground = WHITE if _contrast(background, WHITE) >= _contrast(background, INK) else INK
    label = _colour(accent) or (DEFAULT_LABEL if background == DEFAULT_BACKGROUND else foreground)
    if _contrast(label, background) < 3:
        label = foreground
    return background, foreground, label


def shop_offer(shop: Shop, locale: str | None) -> LocalizedText | None:
    """The merchant's offer for the next order (upsell settings), in both languages; the
    order's own language stands in for a missing translation."""
    upsell = get_upsell(shop)
    if not upsell.enabled:
        return None
    texts = {k: v.strip()[:MAX_OFFER_LENGTH] for k, v in upsell.discount_text.items() if v}
    french, english = texts.get("fr"), texts.get("en")
    code = upsell.discount_code
    if code and not (french or english):
        french = f"Votre code pour la prochaine commande{NBSP}: {code}"
        english = f"Your code for your next order: {code}"
    if not (french or english):
        return None
    first = french if (locale or "fr").startswith("fr") else english
    fallback = first or french or english
    assert fallback is not None
    offer = LocalizedText(french or fallback, english or fallback)
    # The English text is the strings key: it must not collide with a fixed label.
    return None if offer.en in base_table("en") else offer


def order_number(order: Order) -> str:
    if order.name:
        return order.name
    if order.order_number is not None:
        return f"#{order.order_number}"
    return str(order.shopify_id)


def file_name(order: Order, kind: str) -> str:
    """``commande-1001.pkpass`` or ``order-1001.order``, in the order's language."""
    stem = "commande" if (order.locale or "fr").startswith("fr") else "order"
    number = re.sub(r"[^A-Za-z0-9-]", "", order_number(order)) or "relais"
    return f"{stem}-{number}.{'pkpass' if kind == PASS else 'order'}"


def _tracking_url(config: Config, record: OrderRecord) -> str:
    return tracking_link(
        config,
        record.shop.domain,
        record.order.public_id,
        channel="wallet",
        host=record.shop.primary_domain,
    )


def _https(url: str | None) -> str | None:
    return url if url and url.startswith("https://") else None


# ---------------------------------------------------------------------------- the pass


def pass_content(config: Config, record: OrderRecord) -> OrderPassContent:
    shop, order = record.shop, record.order
    branding = get_branding(shop)
    state = order_state(order, record.shipments)
    shown = state.shown
    background, foreground, label = pass_colours(branding.primary_color, branding.accent_color)
    point = order.pickup_point or {}
    pickup = None
    if point.get("name"):
        town = " ".join(x for x in (point.get("zip"), point.get("city")) if x)
        address = ", ".join(x for x in (point.get("address1"), town) if x) or point["name"]
        pickup = PickupPoint(point["name"], address, point.get("hours") or None)
    return OrderPassContent(
        serial_number=record.wallet_pass.serial_number,
        authentication_token=record.wallet_pass.authentication_token,
        web_service_url=f"{config.app_url}/wallet",
        pass_type_identifier=config.pass_type_identifier,
        team_identifier=config.apple_team_id,
        order_number=order_number(order),
        milestone=state.milestone,
        milestone_at=state.milestone_at,
        shop_name=branding.display_name(shop),
        tracking_page_url=_tracking_url(config, record),
        background_color=background,
        foreground_color=foreground,
        label_color=label,
        carrier=shown.tracking_company if shown else None,
        tracking_number=shown.tracking_number if shown else None,
        tracking_url=_https(shown.tracking_url) if shown else None,
        estimated_delivery=shown.estimated_delivery_at if shown else None,
        parcels=state.parcels,
        pickup_point=pickup,
        support_email=branding.reply_to(shop),
        offer=shop_offer(shop, order.locale),
        rating_url=(
            f"{_tracking_url(config, record)}#{feedback_anchor(shown.id)}"
            if shown is not None and shown.delivered_at is not None
            else None
        ),
        delivered_at=shown.delivered_at if shown else None,
        cancelled=order.cancelled_at is not None,
    )


def build_pass_package(config: Config, record: OrderRecord) -> PassPackage:
    identity = credentials(config).passes.identity()
    return build_pass(pass_content(config, record), identity, now=record.wallet_pass.updated_at)


# ---------------------------------------------------------------------- the Wallet order


def _line_items(order: Order, currency: str | None) -> tuple[list[LineItem], dict[Any, int]]:
    items: list[LineItem] = []
    index_of: dict[Any, int] = {}
    for raw in order.line_items or []:
        quantity = raw.get("quantity")
        title = str(raw.get("title") or "").strip()
        if not title or not isinstance(quantity, int) or quantity < 1:
            continue
        price = None
        if raw.get("price") is not None and currency and _CURRENCY.match(currency):
            try:
                price = Money(Decimal(str(raw["price"])), currency)
            except InvalidOperation:
                price = None
        if raw.get("id") is not None:
            index_of[raw["id"]] = len(items)
        items.append(
            LineItem(
                title=title[:200],
                quantity=quantity,
                price=price,
                subtitle=(raw.get("variant_title") or None),
                sku=(raw.get("sku") or None),
            )
        )
    return items, index_of


def _pickup_place(order: Order) -> PickupPlace | None:
    point = order.pickup_point or {}
    if not point.get("name"):
        return None
    return PickupPlace(
        name=point["name"],
        address_lines=tuple(x for x in (point.get("address1"),) if x) or (point["name"],),
        postal_code=point.get("zip") or None,
        locality=point.get("city") or None,
        country_code=point.get("country_code") or "FR",
        opening_hours=point.get("hours") or None,
    )


def order_content(config: Config, record: OrderRecord) -> WalletOrderContent:
    shop, order = record.shop, record.order
    branding = get_branding(shop)
    currency = order.currency or shop.currency
    items, index_of = _line_items(order, currency)
    pickup = _pickup_place(order)
    fulfillments = []
    for shipment in record.shipments:
        indexes = tuple(
            index_of[item["id"]] for item in shipment.line_items or [] if item.get("id") in index_of
        )
        fulfillments.append(
            Fulfillment(
                identifier=str(shipment.shopify_fulfillment_id),
                milestone=shipment.milestone if shipment.milestone in MILESTONES else "ordered",
                carrier=shipment.tracking_company,
                tracking_number=shipment.tracking_number,
                tracking_url=_https(shipment.tracking_url),
                estimated_delivery_at=shipment.estimated_delivery_at,
                shipped_at=shipment.shipped_at,
                delivered_at=shipment.delivered_at,
                pickup=pickup,
                line_items=tuple(dict.fromkeys(indexes)),
            )
        )
    base = config.order_type_identifier.removeprefix("order.")
    return WalletOrderContent(
        order_type_identifier=config.order_type_identifier,
        order_identifier=record.wallet_pass.serial_number,
        order_number=order_number(order),
        order_management_url=_tracking_url(config, record),
        merchant=Merchant(
            merchant_identifier=f"merchant.{base}.{shop_handle(shop.domain)}",
            display_name=branding.display_name(shop),
            url=f"https://{shop.primary_domain or shop.domain}",
            email=branding.reply_to(shop),
        ),
        created_at=order.shopify_created_at or order.created_at,
        web_service_url=f"{config.app_url}/wallet/orders",
        authentication_token=record.wallet_pass.authentication_token,
        line_items=tuple(items),
        fulfillments=tuple(fulfillments),
        cancelled=order.cancelled_at is not None,
        provider_url=config.app_url,
    )


def build_order_package(config: Config, record: OrderRecord) -> OrderPackage:
    """The signed .order; its ``updatedAt`` is the pass row's ``updated_at`` exactly (the
    row moves it forward on every change, strictly: see ``service.record_update``)."""
    files = credentials(config).orders
    if files is None:
        raise NotFound("Wallet orders are not configured (WALLET_ORDER_CERTIFICATE)")
    return build_order(
        order_content(config, record), files.identity(), now=record.wallet_pass.updated_at
    )


def build_package(config: Config, record: OrderRecord, kind: str) -> PassPackage | OrderPackage:
    if kind == PASS:
        return build_pass_package(config, record)
    return build_order_package(config, record)

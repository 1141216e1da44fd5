"""The Wallet order: ``order.json``, its strings, and the signed ``.order`` package.

Each Relais shipment becomes a fulfillment: ``shipping`` for home delivery, ``pickup``
when the parcel goes to a pickup point (relay, locker, shop). Milestones map onto Apple's
fulfillment statuses below; the precise milestone travels in ``statusDescription``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from wallet.formats import LANGUAGES, encode_strings, is_rfc3339, parse_rfc3339, rfc3339
from wallet.images import default_images, png_size
from wallet.package import BuiltPackage, Compression, HashAlgorithm, PackageFile, build_package
from wallet.signing import SigningIdentity
from wallet.texts import MILESTONE_NAMES, MILESTONES, add_text

MIME_TYPE = "application/vnd.apple.finance.order"
SCHEMA_VERSION = 1
ORDER_TYPE = "ecommerce"
MIN_TOKEN_LENGTH = 16
PROVIDER_NAME = "Relais"
PROVIDER_LOGOS = ("provider-light.png", "provider-dark.png")


class OrderStatus(StrEnum):
    """Apple's order-level status; completed and cancelled orders are closed."""

    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ShippingStatus(StrEnum):
    """``ShippingFulfillment.status`` values."""

    OPEN = "open"
    PROCESSING = "processing"
    ON_THE_WAY = "onTheWay"
    OUT_FOR_DELIVERY = "outForDelivery"
    DELIVERED = "delivered"
    SHIPPED = "shipped"
    ISSUE = "issue"
    CANCELLED = "cancelled"


class PickupStatus(StrEnum):
    """``PickupFulfillment.status`` values."""

    OPEN = "open"
    PROCESSING = "processing"
    READY_FOR_PICKUP = "readyForPickup"
    PICKED_UP = "pickedUp"
    ISSUE = "issue"
    CANCELLED = "cancelled"


# Home delivery. A parcel left at a pickup point after a failed attempt is an "issue":
# the shopper has something to do, and Wallet says so.
SHIPPING_STATUS: dict[str, ShippingStatus] = {
    "ordered": ShippingStatus.OPEN,
    "not_shipped": ShippingStatus.PROCESSING,
    "label_created": ShippingStatus.PROCESSING,
    "shipped": ShippingStatus.SHIPPED,
    "in_transit": ShippingStatus.ON_THE_WAY,
    "stalled": ShippingStatus.ON_THE_WAY,
    "delayed": ShippingStatus.ON_THE_WAY,
    "late": ShippingStatus.ON_THE_WAY,
    "out_for_delivery": ShippingStatus.OUT_FOR_DELIVERY,
    "attempted_delivery": ShippingStatus.ISSUE,
    "ready_for_pickup": ShippingStatus.ISSUE,
    "pickup_reminder": ShippingStatus.ISSUE,
    "failure": ShippingStatus.ISSUE,
    "returning_to_sender": ShippingStatus.ISSUE,
    "delivered": ShippingStatus.DELIVERED,
    "feedback_request": ShippingStatus.DELIVERED,
    "cancelled": ShippingStatus.CANCELLED,
}

# Delivery to a pickup point: everything before arrival is "processing" from the
# shopper's side of the counter.
PICKUP_STATUS: dict[str, PickupStatus] = {
    "ordered": PickupStatus.OPEN,
    "not_shipped": PickupStatus.PROCESSING,
    "label_created": PickupStatus.PROCESSING,
    "shipped": PickupStatus.PROCESSING,
    "in_transit": PickupStatus.PROCESSING,
    "stalled": PickupStatus.PROCESSING,
    "delayed": PickupStatus.PROCESSING,
    "late": PickupStatus.PROCESSING,
    "out_for_delivery": PickupStatus.PROCESSING,
    "ready_for_pickup": PickupStatus.READY_FOR_PICKUP,
    "pickup_reminder": PickupStatus.READY_FOR_PICKUP,
    "attempted_delivery": PickupStatus.ISSUE,
    "failure": PickupStatus.ISSUE,
    "returning_to_sender": PickupStatus.ISSUE,
    "delivered": PickupStatus.PICKED_UP,
    "feedback_request": PickupStatus.PICKED_UP,
    "cancelled": PickupStatus.CANCELLED,
}

_FINISHED = frozenset({ShippingStatus.DELIVERED, PickupStatus.PICKED_UP})
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class OrderValidationError(ValueError):
    """The content would produce an order Wallet rejects."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str  # ISO 4217, e.g. "EUR"


@dataclass(frozen=True, slots=True)
class LineItem:
    title: str
    quantity: int
    price: Money | None = None
    subtitle: str | None = None
    sku: str | None = None
    image: bytes | None = None  # PNG; written to the package as item-<n>.png


@dataclass(frozen=True, slots=True)
class PickupPlace:
    """Where a pickup fulfillment waits; ``address_lines`` without postcode and town."""

    name: str
    address_lines: tuple[str, ...]
    postal_code: str | None = None
    locality: str | None = None
    country_code: str = "FR"
    opening_hours: str | None = None


@dataclass(frozen=True, slots=True)
class Fulfillment:
    """One shipment of the order. ``pickup`` set means a pickup fulfillment."""

    identifier: str
    milestone: str
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    estimated_delivery_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    pickup: PickupPlace | None = None
    line_items: tuple[int, ...] = ()  # indexes into WalletOrderContent.line_items


@dataclass(frozen=True, slots=True)
class Merchant:
    merchant_identifier: str
    display_name: str
    url: str
    logo: bytes | None = None  # PNG; the default parcel logo when absent
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class WalletOrderContent:
    """Everything an order shows, as plain values. ``previous_updated_at`` is the
    ``updatedAt`` of the last package sent for this order (``None`` for the first)."""

    order_type_identifier: str
    order_identifier: str
    order_number: str
    order_management_url: str
    merchant: Merchant
    created_at: datetime
    web_service_url: str
    authentication_token: str
    line_items: tuple[LineItem, ...] = ()
    fulfillments: tuple[Fulfillment, ...] = ()
    cancelled: bool = False
    previous_updated_at: datetime | None = None
    # Relais' public URL (APP_URL): with it the order names Relais as its provider.
    provider_url: str | None = None
    extra_files: tuple[PackageFile, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class OrderPackage:
    """A signed .order package, its documents, and the ``updatedAt`` to store."""

    content: bytes
    order_json: dict[str, Any]
    strings: dict[str, dict[str, str]]
    manifest: bytes
    names: tuple[str, ...]
    updated_at: datetime

    mime_type = MIME_TYPE


def next_updated_at(now: datetime, previous: datetime | None) -> datetime:
    """``now`` in whole seconds, but always after ``previous``: Wallet ignores a package
    whose updatedAt does not move forward, and two updates can fall in one second."""
    candidate = now.replace(microsecond=0)
    if previous is not None and candidate <= previous:
        candidate = previous.replace(microsecond=0) + timedelta(seconds=1)
    return candidate


def order_status(content: WalletOrderContent) -> OrderStatus:
    statuses = [_status(f) for f in content.fulfillments]
    if content.cancelled or (statuses and all(s.value == "cancelled" for s in statuses)):
        return OrderStatus.CANCELLED
    if statuses and all(s in _FINISHED or s.value == "cancelled" for s in statuses):
        return OrderStatus.COMPLETED
    return OrderStatus.OPEN


def _status(fulfillment: Fulfillment) -> ShippingStatus | PickupStatus:
    table: Mapping[str, ShippingStatus | PickupStatus] = (
        PICKUP_STATUS if fulfillment.pickup is not None else SHIPPING_STATUS
    )
    return table[fulfillment.milestone]


def _amount(money: Money) -> dict[str, object]:
    # A JSON number with the currency's cents, never a binary float artefact.
    return {"amount": float(money.amount.quantize(Decimal("0.01"))), "currency": money.currency}


def _fulfillment_json(content: WalletOrderContent, fulfillment: Fulfillment) -> dict[str, Any]:
    milestone = "cancelled" if content.cancelled else fulfillment.milestone
    status = (PICKUP_STATUS if fulfillment.pickup is not None else SHIPPING_STATUS)[milestone]
    document: dict[str, Any] = {
        "fulfillmentIdentifier": fulfillment.identifier,
        "status": status.value,
        "statusDescription": MILESTONE_NAMES[milestone].en,
    }
    items = [
        _line_item_json(content.line_items[i], i)
        for i in fulfillment.line_items
        if 0 <= i < len(content.line_items)
    ]
    if fulfillment.pickup is not None:
        place = fulfillment.pickup
        address: dict[str, Any] = {"addressLines": list(place.address_lines)}
        for key, value in (
            ("postalCode", place.postal_code),
            ("locality", place.locality),
            ("countryCode", place.country_code),
        ):
            if value:
                address[key] = value
        document |= {"fulfillmentType": "pickup", "displayName": place.name, "address": address}
        if place.opening_hours:
            document["notes"] = place.opening_hours
        if fulfillment.delivered_at is not None and status is PickupStatus.PICKED_UP:
            document["pickedUpAt"] = rfc3339(fulfillment.delivered_at)
    else:
        document["fulfillmentType"] = "shipping"
        if fulfillment.delivered_at is not None and status is ShippingStatus.DELIVERED:
            document["deliveredAt"] = rfc3339(fulfillment.delivered_at)
        pending = status not in _FINISHED and status is not ShippingStatus.CANCELLED
        if fulfillment.estimated_delivery_at is not None and pending:
            document["estimatedDeliveryAt"] = rfc3339(fulfillment.estimated_delivery_at)
    if fulfillment.shipped_at is not None and fulfillment.pickup is None:
        document["shippedAt"] = rfc3339(fulfillment.shipped_at)
    for key, value in (
        ("carrier", fulfillment.carrier),
        ("trackingNumber", fulfillment.tracking_number),
        ("trackingURL", fulfillment.tracking_url),
    ):
        # Pickup fulfillments have no tracking keys in Apple's schema.
        if value and fulfillment.pickup is None:
            document[key] = value
    if items:
        document["lineItems"] = items
    return document


def _line_item_json(item: LineItem, index: int) -> dict[str, Any]:
    document: dict[str, Any] = {"title": item.title, "quantity": item.quantity}
    if item.subtitle:
        document["subtitle"] = item.subtitle
    if item.price is not None:
        document["price"] = _amount(item.price)
    if item.sku:
        document["sku"] = item.sku
    if item.image is not None:
        document["image"] = f"item-{index + 1}.png"
    return document


def build_order_json(content: WalletOrderContent, *, now: datetime) -> dict[str, Any]:
    """The ``order.json`` document; ``updatedAt`` comes from :func:`next_updated_at`."""
    updated_at = next_updated_at(now, content.previous_updated_at)
    created_at = min(content.created_at, updated_at)
    merchant: dict[str, Any] = {
        "merchantIdentifier": content.merchant.merchant_identifier,
        "displayName": content.merchant.display_name,
        "url": content.merchant.url,
        "logo": "logo.png",
    }
    if content.merchant.email:
        merchant["emailAddress"] = content.merchant.email
    if content.merchant.phone:
        merchant["phoneNumber"] = content.merchant.phone
    status = order_status(content)
    document: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "orderType": ORDER_TYPE,
        "orderTypeIdentifier": content.order_type_identifier,
        "orderIdentifier": content.order_identifier,
        "orderNumber": content.order_number,
        "orderManagementURL": content.order_management_url,
        "createdAt": rfc3339(created_at),
        "updatedAt": rfc3339(updated_at),
        "status": status.value,
        "merchant": merchant,
        "lineItems": [_line_item_json(item, i) for i, item in enumerate(content.line_items)],
        "fulfillments": [_fulfillment_json(content, f) for f in content.fulfillments],
        "webServiceURL": content.web_service_url,
        "authenticationToken": content.authentication_token,
        "changeNotifications": "enabled",
    }
    if content.provider_url:
        # Relais provides the data on the merchant's behalf: Apple asks platforms to say so.
        document["orderProvider"] = {
            "displayName": PROVIDER_NAME,
            "url": content.provider_url,
            "trackingLogoNameLightColorScheme": PROVIDER_LOGOS[0],
            "trackingLogoNameDarkColorScheme": PROVIDER_LOGOS[1],
        }
    return document


def order_strings(content: WalletOrderContent) -> dict[str, dict[str, str]]:
    """``order.strings`` per language: the status descriptions the order uses."""
    tables: dict[str, dict[str, str]] = {language: {} for language in LANGUAGES}
    milestones = {"cancelled" if content.cancelled else f.milestone for f in content.fulfillments}
    for milestone in sorted(milestones):
        for language, table in tables.items():
            add_text(table, MILESTONE_NAMES[milestone], language)
    return tables


# ------------------------------------------------------------------------- validation

_REQUIRED = (
    "schemaVersion",
    "orderType",
    "orderTypeIdentifier",
    "orderIdentifier",
    "orderManagementURL",
    "createdAt",
    "updatedAt",
    "status",
    "merchant",
)


def _https(url: object) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return bool(parts.netloc) and (
        parts.scheme == "https"
        or (parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1"))
    )


def validate_order(
    document: Mapping[str, Any], *, previous_updated_at: datetime | None = None
) -> list[str]:
    """Apple's rules for order.json (required keys, enums, dates, token) plus the
    strictly increasing ``updatedAt``; returns the problems found."""
    problems = [f"{key} is required" for key in _REQUIRED if key not in document]
    if document.get("schemaVersion") != SCHEMA_VERSION:
        problems.append("schemaVersion must be 1")
    if document.get("orderType") != ORDER_TYPE:
        problems.append("orderType must be 'ecommerce'")
    if not str(document.get("orderTypeIdentifier", "")).startswith("order."):
        problems.append("orderTypeIdentifier must start with 'order.'")
    if document.get("status") not in {s.value for s in OrderStatus}:
        problems.append("status must be open, completed or cancelled")
    for key in ("createdAt", "updatedAt"):
        if key in document and not is_rfc3339(document[key]):
            problems.append(f"{key} must be an RFC 3339 timestamp")
    if is_rfc3339(document.get("createdAt")) and is_rfc3339(document.get("updatedAt")):
        updated = parse_rfc3339(document["updatedAt"])
        if updated < parse_rfc3339(document["createdAt"]):
            problems.append("updatedAt must not precede createdAt")
        if previous_updated_at is not None and updated <= previous_updated_at:
            problems.append("updatedAt must be later than the previous package's")
    merchant = document.get("merchant", {})
    for key in ("merchantIdentifier", "displayName", "url"):
        if not merchant.get(key):
            problems.append(f"merchant.{key} is required")
    for key in ("orderManagementURL", "webServiceURL"):
        if key in document and not _https(document[key]):
            problems.append(f"{key} must be an https URL")
    if "webServiceURL" in document:
        token = document.get("authenticationToken")
        if not isinstance(token, str) or len(token) < MIN_TOKEN_LENGTH:
            problems.append(f"authenticationToken must have at least {MIN_TOKEN_LENGTH} characters")
    for item in document.get("lineItems", []):
        problems += _line_item_problems(item)
    identifiers = set()
    for fulfillment in document.get("fulfillments", []):
        identifier = fulfillment.get("fulfillmentIdentifier")
        if not identifier or identifier in identifiers:
            problems.append("fulfillmentIdentifier must be present and unique")
        identifiers.add(identifier)
        kind = fulfillment.get("fulfillmentType")
        allowed = {"shipping": ShippingStatus, "pickup": PickupStatus}.get(kind)
        if allowed is None:
            problems.append(f"unknown fulfillmentType {kind!r}")
        elif fulfillment.get("status") not in {s.value for s in allowed}:
            problems.append(f"status {fulfillment.get('status')!r} is not a {kind} status")
        if kind == "pickup" and not fulfillment.get("displayName"):
            problems.append("a pickup fulfillment needs displayName")
        for key in ("estimatedDeliveryAt", "deliveredAt", "shippedAt", "pickedUpAt", "pickupAt"):
            if key in fulfillment and not is_rfc3339(fulfillment[key]):
                problems.append(f"{key} must be an RFC 3339 timestamp")
        if "trackingURL" in fulfillment and not _https(fulfillment["trackingURL"]):
            problems.append("trackingURL must be an https URL")
        for item in fulfillment.get("lineItems", []):
            problems += _line_item_problems(item)
    return problems


def _line_item_problems(item: Mapping[str, Any]) -> list[str]:
    problems = []
    if not item.get("title"):
        problems.append("a line item needs a title")
    quantity = item.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        problems.append("a line item needs a positive integer quantity")
    price = item.get("price")
    if price is not None and not (
        isinstance(price.get("amount"), int | float) and _CURRENCY.match(str(price.get("currency")))
    ):
        problems.append("a price needs a numeric amount and an ISO 4217 currency")
    return problems


# ------------------------------------------------------------------------------ build


def build_order(
    content: WalletOrderContent,
    identity: SigningIdentity,
    *,
    now: datetime,
    compression: Compression = Compression.STORED,
) -> OrderPackage:
    """Build, check and sign the .order package; returns it with the ``updatedAt`` to
    store as ``previous_updated_at`` for the next update. ``compression`` applies to the
    text entries (see :func:`wallet.passes.build_pass`)."""
    problems = _content_problems(content)
    if problems:
        raise OrderValidationError(problems)
    document = build_order_json(content, now=now)
    problems = validate_order(document, previous_updated_at=content.previous_updated_at)
    if problems:
        raise OrderValidationError(problems)
    strings = order_strings(content)
    defaults = default_images()
    images = {"logo.png": content.merchant.logo or defaults["logo@3x.png"]}
    if "orderProvider" in document:
        # The parcel reads on light and dark backgrounds alike.
        images |= {name: defaults["logo@3x.png"] for name in PROVIDER_LOGOS}
    for index, item in enumerate(content.line_items):
        if item.image is not None:
            images[f"item-{index + 1}.png"] = item.image
    sha256 = HashAlgorithm.SHA256
    text = compression
    files = [
        PackageFile.make(
            "order.json",
            json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode(),
            sha256,
            text,
        ),
        *(
            PackageFile.make(f"{lang}.lproj/order.strings", encode_strings(table), sha256, text)
            for lang, table in strings.items()
            if table
        ),
        *(PackageFile.make(name, data, sha256) for name, data in images.items()),
        *content.extra_files,
    ]
    built: BuiltPackage = build_package(
        files, identity.sign, algorithm=sha256, compression=compression
    )
    return OrderPackage(
        built.content,
        document,
        strings,
        built.manifest,
        built.names,
        parse_rfc3339(document["updatedAt"]),
    )


def _content_problems(content: WalletOrderContent) -> list[str]:
    problems = []
    for fulfillment in content.fulfillments:
        if fulfillment.milestone not in MILESTONES:
            problems.append(f"unknown milestone {fulfillment.milestone!r}")
        for index in fulfillment.line_items:
            if not 0 <= index < len(content.line_items):
                problems.append(f"fulfillment {fulfillment.identifier!r}: no line item {index}")
    moments = [content.created_at, content.previous_updated_at]
    for fulfillment in content.fulfillments:
        moments += [
            fulfillment.estimated_delivery_at,
            fulfillment.shipped_at,
            fulfillment.delivered_at,
        ]
    if any(m is not None and m.utcoffset() is None for m in moments):
        problems.append("every datetime needs a time zone")
    images = [content.merchant.logo] + [item.image for item in content.line_items]
    for data in images:
        if data is not None:
            try:
                png_size(data)
            except ValueError:
                problems.append("order images must be PNG")
    for item in content.line_items:
        if item.price is not None and not _CURRENCY.match(item.price.currency):
            problems.append(f"{item.price.currency!r} is not an ISO 4217 currency code")
    return problems

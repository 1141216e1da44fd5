"""Translate Shopify webhook payloads into the tracking domain's snapshots.

Only what Relais needs is read; everything else in the payload is dropped here. A payload
that lacks what its topic must carry raises :class:`PayloadError` (no retry will fix it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from plugin.digits import ascii_int
from plugin.errors import PayloadError
from plugin.tracking import (
    FulfillmentEventSnapshot,
    FulfillmentSnapshot,
    LineItem,
    OrderSnapshot,
    PickupPoint,
    ShopSnapshot,
)

# Words carriers and shipping apps put in a shipping line for relay points and lockers.
_PICKUP_WORDS = re.compile(
    r"point ?relais|relais|relay|pick ?-?up|retrait|locker|consigne|pickup|click.?collect|"
    r"mondial|chronopost shop|pickup station",
    re.IGNORECASE,
)


def parse_time(value: object, *, field: str, required: bool = False) -> datetime | None:
    """An ISO-8601 timestamp as an aware UTC datetime."""
    if value in (None, ""):
        if required:
            raise PayloadError(f"{field} is missing")
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{field} is not a timestamp")
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise PayloadError(f"{field} is not an ISO-8601 timestamp") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:
        # 9999-12-31T23:00:00-01:00 is valid ISO-8601 but past datetime.max once in UTC.
        raise PayloadError(f"{field} is out of range") from exc


def parse_id(value: object, *, field: str, required: bool = True) -> int | None:
    if value is None or value == "":
        if required:
            raise PayloadError(f"{field} is missing")
        return None
    if isinstance(value, bool):
        raise PayloadError(f"{field} is not an id")
    if isinstance(value, int):
        return _in_id_range(value, field)
    if isinstance(value, str):
        # GraphQL-style gid://shopify/Order/123 is accepted too.
        tail = value.rsplit("/", 1)[-1]
        # Any plausible length: a larger number is refused by the range check, which says
        # "out of range" (int() itself reads up to 4,300 digits).
        number = ascii_int(tail, max_digits=1000)
        if number is not None:
            return _in_id_range(number, field)
    raise PayloadError(f"{field} is not an id")


# Ids are stored in 64-bit columns; a larger number would make every retry fail in the database.
_ID_RANGE = range(-(2**63), 2**63)


def _in_id_range(value: int, field: str) -> int:
    if value not in _ID_RANGE:
        raise PayloadError(f"{field} is out of range")
    return value


def require_id(value: object, *, field: str) -> int:
    parsed = parse_id(value, field=field)
    assert parsed is not None
    return parsed


def clean_text(value: object, limit: int = 255) -> str | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    # PostgreSQL text cannot hold NUL characters; they carry nothing a shopper would read.
    value = value.replace("\x00", "").strip()
    return value[:limit] or None


def _mapping(value: object, *, field: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PayloadError(f"{field} is not an object")
    return value


def _list(value: object, *, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{field} is not a list")
    return value


# Prices are stored as NUMERIC(14, 2): anything at or past 10^12 would not fit.
_PRICE_LIMIT = Decimal(10) ** 12


def _decimal(value: object) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        price = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None
    if not price.is_finite() or abs(price) >= _PRICE_LIMIT:
        return None
    return price


def _consent(customer: Mapping[str, Any], key: str) -> bool:
    consent = customer.get(key)
    if isinstance(consent, Mapping):
        return consent.get("state") == "subscribed"
    return False


def _line_items(items: list[Any], *, field: str) -> tuple[LineItem, ...]:
    parsed = []
    for index, raw in enumerate(items):
        item = _mapping(raw, field=f"{field}[{index}]")
        quantity = item.get("quantity")
        parsed.append(
            LineItem(
                shopify_id=parse_id(item.get("id"), field=f"{field}[{index}].id", required=False),
                title=clean_text(item.get("title")) or clean_text(item.get("name")) or "",
                quantity=quantity if isinstance(quantity, int) and quantity >= 0 else 1,
                variant_title=clean_text(item.get("variant_title")),
                price=clean_text(item.get("price"), 32),
                product_id=parse_id(item.get("product_id"), field="product_id", required=False),
                variant_id=parse_id(item.get("variant_id"), field="variant_id", required=False),
                sku=clean_text(item.get("sku"), 128),
            )
        )
    return tuple(parsed)


def _pickup_point(payload: Mapping[str, Any]) -> tuple[str | None, PickupPoint | None]:
    """The delivery method's title, and the pickup point when the shopper chose one."""
    lines = _list(payload.get("shipping_lines"), field="shipping_lines")
    first = _mapping(lines[0], field="shipping_lines[0]") if lines else {}
    title = clean_text(first.get("title"))
    hint = " ".join(
        filter(None, [title, clean_text(first.get("code")), clean_text(first.get("source"))])
    )
    if not hint or not _PICKUP_WORDS.search(hint):
        return title, None
    # For relay points, checkouts put the point's name and address in the shipping address.
    address = _mapping(payload.get("shipping_address"), field="shipping_address")
    name = clean_text(address.get("company")) or title or ""
    return title, PickupPoint(
        name=name,
        address1=clean_text(address.get("address1")),
        zip=clean_text(address.get("zip"), 32),
        city=clean_text(address.get("city"), 128),
        country_code=clean_text(address.get("country_code"), 2),
    )


def order_snapshot(payload: Mapping[str, Any]) -> OrderSnapshot:
    """An order payload (orders/create, updated, cancelled, fulfilled...)."""
    customer = _mapping(payload.get("customer"), field="customer")
    address = _mapping(payload.get("shipping_address"), field="shipping_address")
    billing = _mapping(payload.get("billing_address"), field="billing_address")
    delivery_method, pickup = _pickup_point(payload)
    # A pickup order's shipping address is the relay point, not the shopper's city.
    home = billing if pickup else address
    fulfillments = tuple(
        fulfillment_snapshot(_mapping(raw, field="fulfillments[]"), order_id=payload.get("id"))
        for raw in _list(payload.get("fulfillments"), field="fulfillments")
    )
    updated_at = parse_time(payload.get("updated_at"), field="updated_at", required=True)
    assert updated_at is not None
    return OrderSnapshot(
        shopify_id=require_id(payload.get("id"), field="id"),
        updated_at=updated_at,
        name=clean_text(payload.get("name"), 64),
        order_number=parse_id(payload.get("order_number"), field="order_number", required=False),
        created_at=parse_time(payload.get("created_at"), field="created_at"),
        locale=clean_text(payload.get("customer_locale"), 16),
        currency=clean_text(payload.get("currency"), 3),
        total_price=_decimal(payload.get("total_price")),
        customer_shopify_id=parse_id(customer.get("id"), field="customer.id", required=False),
        email=clean_text(
            payload.get("email") or payload.get("contact_email") or customer.get("email"), 320
        ),
        phone=clean_text(payload.get("phone") or customer.get("phone") or address.get("phone"), 32),
        first_name=clean_text(customer.get("first_name") or address.get("first_name"), 128),
        ship_city=clean_text(home.get("city"), 128),
        ship_zip=clean_text(home.get("zip"), 32),
        ship_province_code=clean_text(home.get("province_code"), 16),
        ship_country_code=clean_text(home.get("country_code"), 2),
        delivery_method=delivery_method,
        pickup_point=pickup,
        line_items=_line_items(
            _list(payload.get("line_items"), field="line_items"), field="line_items"
        ),
        email_marketing_consent=_consent(customer, "email_marketing_consent")
        or payload.get("buyer_accepts_marketing") is True,
        sms_marketing_consent=_consent(customer, "sms_marketing_consent"),
        financial_status=clean_text(payload.get("financial_status"), 32),
        cancelled_at=parse_time(payload.get("cancelled_at"), field="cancelled_at"),
        cancel_reason=clean_text(payload.get("cancel_reason"), 64),
        fulfillments=fulfillments,
        landing_site=clean_text(payload.get("landing_site"), 2000),
        referring_site=clean_text(payload.get("referring_site"), 2000),
        discount_codes=_discount_codes(payload),
    )


def _discount_codes(payload: Mapping[str, Any]) -> tuple[str, ...]:
    """The codes of ``discount_codes`` (``[{"code": ..., "amount": ..., "type": ...}]``)."""
    codes = []
    for raw in _list(payload.get("discount_codes"), field="discount_codes")[:50]:
        code = clean_text(raw.get("code"), 255) if isinstance(raw, Mapping) else None
        if code:
            codes.append(code)
    return tuple(codes)


def fulfillment_snapshot(
    payload: Mapping[str, Any], *, order_id: object = None
) -> FulfillmentSnapshot:
    """A fulfillment payload (fulfillments/create, fulfillments/update, or inside an order)."""
    updated_at = parse_time(
        payload.get("updated_at"), field="fulfillment.updated_at"
    ) or parse_time(payload.get("created_at"), field="fulfillment.created_at", required=True)
    assert updated_at is not None
    tracking_urls = _list(payload.get("tracking_urls"), field="tracking_urls")
    return FulfillmentSnapshot(
        shopify_id=require_id(payload.get("id"), field="fulfillment.id"),
        order_shopify_id=require_id(
            payload.get("order_id", order_id), field="fulfillment.order_id"
        ),
        status=clean_text(payload.get("status"), 32),
        shipment_status=clean_text(payload.get("shipment_status"), 64),
        updated_at=updated_at,
        created_at=parse_time(payload.get("created_at"), field="fulfillment.created_at"),
        name=clean_text(payload.get("name"), 64),
        tracking_company=clean_text(payload.get("tracking_company"), 128),
        tracking_number=clean_text(payload.get("tracking_number"), 128),
        tracking_url=clean_text(
            payload.get("tracking_url") or (tracking_urls[0] if tracking_urls else None), 2000
        ),
        estimated_delivery_at=parse_time(
            payload.get("estimated_delivery_at"), field="fulfillment.estimated_delivery_at"
        ),
        line_items=_line_items(
            _list(payload.get("line_items"), field="fulfillment.line_items"),
            field="fulfillment.line_items",
        ),
    )


def fulfillment_event_snapshot(payload: Mapping[str, Any]) -> FulfillmentEventSnapshot:
    """A fulfillment_events/create payload."""
    happened_at = parse_time(payload.get("happened_at"), field="happened_at") or parse_time(
        payload.get("created_at"), field="created_at", required=True
    )
    assert happened_at is not None
    return FulfillmentEventSnapshot(
        shopify_id=require_id(payload.get("id"), field="id"),
        fulfillment_shopify_id=require_id(payload.get("fulfillment_id"), field="fulfillment_id"),
        order_shopify_id=require_id(payload.get("order_id"), field="order_id"),
        status=clean_text(payload.get("status"), 64),
        happened_at=happened_at,
        message=clean_text(payload.get("message"), 1000),
        city=clean_text(payload.get("city"), 128),
        country_code=clean_text(payload.get("country"), 2),
        estimated_delivery_at=parse_time(
            payload.get("estimated_delivery_at"), field="estimated_delivery_at"
        ),
    )


def shop_snapshot(domain: str, payload: Mapping[str, Any]) -> ShopSnapshot:
    """A shop/update (or app/uninstalled) payload."""
    return ShopSnapshot(
        domain=domain,
        updated_at=parse_time(payload.get("updated_at"), field="updated_at"),
        shopify_id=parse_id(payload.get("id"), field="id", required=False),
        name=clean_text(payload.get("name")),
        primary_domain=clean_text(payload.get("domain")),
        contact_email=clean_text(payload.get("customer_email") or payload.get("email"), 320),
        primary_locale=clean_text(payload.get("primary_locale"), 16),
        iana_timezone=clean_text(payload.get("iana_timezone"), 64),
        currency=clean_text(payload.get("currency"), 3),
        country_code=clean_text(payload.get("country_code"), 2),
    )

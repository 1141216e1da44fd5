"""The GraphQL documents Relais runs, and their answers turned into domain snapshots.

Orders read through the Admin API become the same :mod:`plugin.tracking` snapshots as
webhook payloads, so there is one way to update an order. GraphQL spells enums in upper
case and ids as ``gid://shopify/Order/123``; both are normalised here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
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

SHOP_QUERY = """
query RelaisShop {
  shop {
    id
    name
    email
    contactEmail
    myshopifyDomain
    primaryDomain { host }
    ianaTimezone
    currencyCode
    billingAddress { countryCodeV2 }
    updatedAt
  }
  shopLocales(published: true) { locale primary }
}
"""

# One order with everything the tracking domain reads; nested sizes come from variables so
# that the backfill (many orders, small pages) and the reconcile (one order) share it.
_ORDER_FIELDS = """
fragment RelaisOrderFields on Order {
  id
  name
  number
  createdAt
  updatedAt
  cancelledAt
  cancelReason
  customerLocale
  currencyCode
  displayFinancialStatus
  email
  phone
  totalPriceSet { shopMoney { amount } }
  customer {
    id
    firstName
    emailMarketingConsent { marketingState }
    smsMarketingConsent { marketingState }
  }
  shippingAddress { firstName company address1 city zip provinceCode countryCodeV2 phone }
  billingAddress { city zip provinceCode countryCodeV2 }
  shippingLine { title code source }
  lineItems(first: $lineItems) {
    pageInfo { hasNextPage }
    nodes {
      id title quantity variantTitle sku
      originalUnitPriceSet { shopMoney { amount } }
      product { id }
      variant { id }
      image { url }
    }
  }
  fulfillments(first: $fulfillments) {
    id
    name
    status
    createdAt
    updatedAt
    estimatedDeliveryAt
    trackingInfo(first: 1) { company number url }
    fulfillmentLineItems(first: $lineItems) {
      nodes { quantity lineItem { id title variantTitle sku product { id } variant { id } } }
    }
    events(first: $events, sortKey: HAPPENED_AT) {
      pageInfo { hasNextPage }
      nodes { id status happenedAt message city country estimatedDeliveryAt }
    }
  }
}
"""

OPEN_ORDERS_QUERY = (
    """
query RelaisOpenOrders(
  $first: Int!, $after: String, $query: String!,
  $lineItems: Int!, $fulfillments: Int!, $events: Int!
) {
  orders(first: $first, after: $after, query: $query, sortKey: CREATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ...RelaisOrderFields }
  }
}
"""
    + _ORDER_FIELDS
)

ORDER_QUERY = (
    """
query RelaisOrder($id: ID!, $lineItems: Int!, $fulfillments: Int!, $events: Int!) {
  order(id: $id) { ...RelaisOrderFields }
}
"""
    + _ORDER_FIELDS
)

# Nested page sizes: a backfill page stays well under the 1,000-point limit of one query.
BACKFILL_SIZES = {"first": 10, "lineItems": 10, "fulfillments": 3, "events": 10}
RECONCILE_SIZES = {"lineItems": 50, "fulfillments": 10, "events": 40}

PRODUCTS_QUERY = """
query RelaisProducts($first: Int!, $query: String) {
  products(first: $first, query: $query, sortKey: BEST_SELLING) {
    nodes {
      id handle title status
      featuredMedia { preview { image { url } } }
      priceRangeV2 { minVariantPrice { amount currencyCode } }
    }
  }
}
"""

COLLECTION_QUERY = """
query RelaisCollection($handle: String!) {
  collectionByIdentifier(identifier: { handle: $handle }) {
    id handle title
    productsCount { count }
  }
}
"""

DISCOUNT_CODE_QUERY = """
query RelaisDiscountCode($code: String!) {
  codeDiscountNodeByCode(code: $code) {
    id
    codeDiscount {
      __typename
      ... on DiscountCodeBasic { title status endsAt }
      ... on DiscountCodeBxgy { title status endsAt }
      ... on DiscountCodeFreeShipping { title status endsAt }
    }
  }
}
"""

# An amount-off code (a percentage of every item, once per customer), for every buyer.
DISCOUNT_CODE_CREATE = """
mutation RelaisDiscountCodeCreate($basicCodeDiscount: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) {
    codeDiscountNode { id }
    userErrors { field message code }
  }
}
"""

# Words carriers and checkouts put in a shipping line for relay points and lockers.
_PICKUP_WORDS = re.compile(
    r"point ?relais|relais|relay|pick ?-?up|retrait|locker|consigne|click.?collect|"
    r"mondial|chronopost shop|pickup station",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class OrderPage:
    """One page of the open-orders query."""

    orders: tuple[OrderSnapshot, ...]
    events: tuple[FulfillmentEventSnapshot, ...]
    # Orders whose line items or events did not fit the page: read again one by one.
    truncated: tuple[int, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class ProductSummary:
    id: int
    handle: str
    title: str
    price: str | None
    currency: str | None
    image_url: str | None


@dataclass(frozen=True)
class CollectionSummary:
    handle: str
    title: str
    products: int


@dataclass(frozen=True)
class DiscountSummary:
    code: str
    title: str
    active: bool
    ends_at: datetime | None
    gid: str | None = None


@dataclass(frozen=True)
class DiscountUserError:
    """One of ``userErrors``: what Shopify refused in a mutation's input, and why."""

    field: str  # dotted path, e.g. "basicCodeDiscount.code"
    message: str
    code: str | None  # DiscountErrorCode, e.g. TAKEN, INVALID


@dataclass(frozen=True)
class DiscountCreated:
    """The answer to :data:`DISCOUNT_CODE_CREATE`: the new node's id, or the user errors."""

    gid: str | None
    errors: tuple[DiscountUserError, ...]


# --- parsing helpers ----------------------------------------------------------------------


def gid_number(value: object, *, field: str) -> int:
    """The numeric tail of ``gid://shopify/Type/123`` (or a plain number)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        tail = value.rsplit("/", 1)[-1].split("?", 1)[0]
        number = ascii_int(tail, max_digits=19)  # as many as a 64-bit id has
        if number is not None:
            return number
    raise PayloadError(f"{field} is not a Shopify id")


def order_gid(order_id: int) -> str:
    return f"gid://shopify/Order/{order_id}"


def _optional_gid(value: object) -> int | None:
    if value is None:
        return None
    try:
        return gid_number(value, field="id")
    except PayloadError:
        return None


def _time(value: object, *, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{field} is not a timestamp")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise PayloadError(f"{field} is not an ISO-8601 timestamp") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _required_time(value: object, *, field: str) -> datetime:
    parsed = _time(value, field=field)
    if parsed is None:
        raise PayloadError(f"{field} is missing")
    return parsed


def _text(value: object, limit: int = 255) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value[:limit] or None


def _lower(value: object, limit: int = 64) -> str | None:
    text = _text(value, limit)
    return text.lower() if text else None


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _nodes(connection: object) -> list[Mapping[str, Any]]:
    nodes = _map(connection).get("nodes")
    return [n for n in nodes if isinstance(n, Mapping)] if isinstance(nodes, list) else []


def _has_next(connection: object) -> bool:
    return bool(_map(_map(connection).get("pageInfo")).get("hasNextPage"))


def _amount(money_set: object) -> str | None:
    amount = _map(_map(money_set).get("shopMoney")).get("amount")
    return str(amount) if amount is not None else None


def _decimal(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None


def _subscribed(consent: object) -> bool:
    return _lower(_map(consent).get("marketingState")) == "subscribed"


def _country(value: object) -> str | None:
    text = _text(value, 8)
    return text.upper() if text and len(text) == 2 else None


# --- shop ---------------------------------------------------------------------------------


def shop_snapshot(domain: str, data: Mapping[str, Any]) -> ShopSnapshot:
    """The answer of :data:`SHOP_QUERY` as the domain's shop snapshot."""
    shop = _map(data.get("shop"))
    if not shop:
        raise PayloadError("shop is missing from the answer")
    locales = data.get("shopLocales") if isinstance(data.get("shopLocales"), list) else []
    primary = next(
        (_text(loc.get("locale"), 16) for loc in locales or [] if _map(loc).get("primary")), None
    )
    return ShopSnapshot(
        domain=domain,
        updated_at=_time(shop.get("updatedAt"), field="shop.updatedAt"),
        shopify_id=_optional_gid(shop.get("id")),
        name=_text(shop.get("name")),
        primary_domain=_text(_map(shop.get("primaryDomain")).get("host")),
        contact_email=_text(shop.get("contactEmail") or shop.get("email"), 320),
        primary_locale=primary,
        iana_timezone=_text(shop.get("ianaTimezone"), 64),
        currency=_text(shop.get("currencyCode"), 3),
        country_code=_country(_map(shop.get("billingAddress")).get("countryCodeV2")),
    )


# --- orders -------------------------------------------------------------------------------


def _line_item(node: Mapping[str, Any], quantity: object = None) -> LineItem:
    qty = quantity if quantity is not None else node.get("quantity")
    return LineItem(
        shopify_id=_optional_gid(node.get("id")),
        title=_text(node.get("title")) or "",
        quantity=qty if isinstance(qty, int) and qty >= 0 else 1,
        variant_title=_text(node.get("variantTitle")),
        price=_text(_amount(node.get("originalUnitPriceSet")), 32),
        product_id=_optional_gid(_map(node.get("product")).get("id")),
        variant_id=_optional_gid(_map(node.get("variant")).get("id")),
        sku=_text(node.get("sku"), 128),
        image_url=_text(_map(node.get("image")).get("url"), 2000),
    )


def _pickup(order: Mapping[str, Any]) -> tuple[str | None, PickupPoint | None]:
    line = _map(order.get("shippingLine"))
    title = _text(line.get("title"))
    hint = " ".join(filter(None, [title, _text(line.get("code")), _text(line.get("source"))]))
    if not hint or not _PICKUP_WORDS.search(hint):
        return title, None
    address = _map(order.get("shippingAddress"))
    return title, PickupPoint(
        name=_text(address.get("company")) or title or "",
        address1=_text(address.get("address1")),
        zip=_text(address.get("zip"), 32),
        city=_text(address.get("city"), 128),
        country_code=_country(address.get("countryCodeV2")),
    )


def _event(
    node: Mapping[str, Any], *, fulfillment_id: int, order_id: int
) -> FulfillmentEventSnapshot:
    return FulfillmentEventSnapshot(
        shopify_id=gid_number(node.get("id"), field="event.id"),
        fulfillment_shopify_id=fulfillment_id,
        order_shopify_id=order_id,
        status=_lower(node.get("status")),
        happened_at=_required_time(node.get("happenedAt"), field="event.happenedAt"),
        message=_text(node.get("message"), 1000),
        city=_text(node.get("city"), 128),
        country_code=_country(node.get("country")),
        estimated_delivery_at=_time(node.get("estimatedDeliveryAt"), field="estimatedDeliveryAt"),
    )


def _fulfillment(
    node: Mapping[str, Any], *, order_id: int
) -> tuple[FulfillmentSnapshot, list[FulfillmentEventSnapshot], bool]:
    fulfillment_id = gid_number(node.get("id"), field="fulfillment.id")
    events_connection = node.get("events")
    events = [
        _event(e, fulfillment_id=fulfillment_id, order_id=order_id)
        for e in _nodes(events_connection)
    ]
    latest = max(events, key=lambda e: e.happened_at, default=None)
    tracking = node.get("trackingInfo") if isinstance(node.get("trackingInfo"), list) else []
    first_tracking = _map(tracking[0]) if tracking else {}
    created_at = _time(node.get("createdAt"), field="fulfillment.createdAt")
    snapshot = FulfillmentSnapshot(
        shopify_id=fulfillment_id,
        order_shopify_id=order_id,
        status=_lower(node.get("status"), 32),
        # A webhook's shipment_status is the status of the latest carrier event.
        shipment_status=latest.status if latest else None,
        updated_at=_time(node.get("updatedAt"), field="fulfillment.updatedAt")
        or _required_time(node.get("createdAt"), field="fulfillment.createdAt"),
        created_at=created_at,
        name=_text(node.get("name"), 64),
        tracking_company=_text(first_tracking.get("company"), 128),
        tracking_number=_text(first_tracking.get("number"), 128),
        tracking_url=_text(first_tracking.get("url"), 2000),
        estimated_delivery_at=_time(node.get("estimatedDeliveryAt"), field="estimatedDeliveryAt"),
        line_items=tuple(
            _line_item(_map(item.get("lineItem")), item.get("quantity"))
            for item in _nodes(node.get("fulfillmentLineItems"))
        ),
    )
    return snapshot, events, _has_next(events_connection)


def order_snapshot(
    node: Mapping[str, Any],
) -> tuple[OrderSnapshot, list[FulfillmentEventSnapshot], bool]:
    """An order node: its snapshot, its carrier events, and whether a list was cut short."""
    order_id = gid_number(node.get("id"), field="order.id")
    customer = _map(node.get("customer"))
    address = _map(node.get("shippingAddress"))
    billing = _map(node.get("billingAddress"))
    delivery_method, pickup = _pickup(node)
    # A pickup order's shipping address is the relay point, not the shopper's city.
    home = billing if pickup else address
    fulfillments = []
    events: list[FulfillmentEventSnapshot] = []
    truncated = _has_next(node.get("lineItems"))
    raw_fulfillments = node.get("fulfillments")
    for raw in raw_fulfillments if isinstance(raw_fulfillments, list) else []:
        fulfillment, fulfillment_events, cut = _fulfillment(_map(raw), order_id=order_id)
        fulfillments.append(fulfillment)
        events.extend(fulfillment_events)
        truncated = truncated or cut
    number = node.get("number")
    order = OrderSnapshot(
        shopify_id=order_id,
        updated_at=_required_time(node.get("updatedAt"), field="order.updatedAt"),
        name=_text(node.get("name"), 64),
        order_number=number if isinstance(number, int) else None,
        created_at=_time(node.get("createdAt"), field="order.createdAt"),
        locale=_text(node.get("customerLocale"), 16),
        currency=_text(node.get("currencyCode"), 3),
        total_price=_decimal(_amount(node.get("totalPriceSet"))),
        customer_shopify_id=_optional_gid(customer.get("id")),
        email=_text(node.get("email"), 320),
        phone=_text(node.get("phone") or address.get("phone"), 32),
        first_name=_text(customer.get("firstName") or address.get("firstName"), 128),
        ship_city=_text(home.get("city"), 128),
        ship_zip=_text(home.get("zip"), 32),
        ship_province_code=_text(home.get("provinceCode"), 16),
        ship_country_code=_country(home.get("countryCodeV2")),
        delivery_method=delivery_method,
        pickup_point=pickup,
        line_items=tuple(_line_item(item) for item in _nodes(node.get("lineItems"))),
        email_marketing_consent=_subscribed(customer.get("emailMarketingConsent")),
        sms_marketing_consent=_subscribed(customer.get("smsMarketingConsent")),
        financial_status=_lower(node.get("displayFinancialStatus"), 32),
        cancelled_at=_time(node.get("cancelledAt"), field="order.cancelledAt"),
        cancel_reason=_lower(node.get("cancelReason")),
        fulfillments=tuple(fulfillments),
    )
    return order, events, truncated


def order_page(data: Mapping[str, Any]) -> OrderPage:
    """The answer of :data:`OPEN_ORDERS_QUERY`."""
    connection = _map(data.get("orders"))
    orders = []
    events: list[FulfillmentEventSnapshot] = []
    truncated = []
    for node in _nodes(connection):
        snapshot, order_events, cut = order_snapshot(node)
        orders.append(snapshot)
        events.extend(order_events)
        if cut:
            truncated.append(snapshot.shopify_id)
    page_info = _map(connection.get("pageInfo"))
    cursor = page_info.get("endCursor") if page_info.get("hasNextPage") else None
    return OrderPage(
        orders=tuple(orders),
        events=tuple(events),
        truncated=tuple(truncated),
        next_cursor=cursor if isinstance(cursor, str) else None,
    )


def open_orders_filter(since: datetime) -> str:
    """Shopify's search syntax for open orders created on or after ``since``."""
    return f"status:open created_at:>={since.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"


# --- products and discounts ---------------------------------------------------------------


def products(data: Mapping[str, Any]) -> list[ProductSummary]:
    found = []
    for node in _nodes(data.get("products")):
        product_id = _optional_gid(node.get("id"))
        handle = _text(node.get("handle"))
        if product_id is None or handle is None:
            continue
        price = _map(_map(node.get("priceRangeV2")).get("minVariantPrice"))
        image = _map(_map(_map(node.get("featuredMedia")).get("preview")).get("image"))
        found.append(
            ProductSummary(
                id=product_id,
                handle=handle,
                title=_text(node.get("title")) or handle,
                price=_text(str(price["amount"])) if price.get("amount") is not None else None,
                currency=_text(price.get("currencyCode"), 3),
                image_url=_text(image.get("url"), 2000),
            )
        )
    return found


def collection(data: Mapping[str, Any]) -> CollectionSummary | None:
    node = _map(data.get("collectionByIdentifier"))
    if not node:
        return None
    count = _map(node.get("productsCount")).get("count")
    return CollectionSummary(
        handle=_text(node.get("handle")) or "",
        title=_text(node.get("title")) or "",
        products=count if isinstance(count, int) else 0,
    )


def discount(code: str, data: Mapping[str, Any]) -> DiscountSummary | None:
    node = _map(data.get("codeDiscountNodeByCode"))
    if not node:
        return None
    details = _map(node.get("codeDiscount"))
    return DiscountSummary(
        code=code,
        title=_text(details.get("title")) or code,
        active=_lower(details.get("status")) == "active",
        ends_at=_time(details.get("endsAt"), field="endsAt"),
        gid=_text(node.get("id")),
    )


def basic_code_input(
    *, title: str, code: str, percentage: int, starts_at: datetime
) -> dict[str, Any]:
    """The ``DiscountCodeBasicInput`` of a percentage off every item, once per customer."""
    return {
        "title": title,
        "code": code,
        "startsAt": starts_at.isoformat(),
        "context": {"all": "ALL"},
        "customerGets": {"value": {"percentage": percentage / 100}, "items": {"all": True}},
        "appliesOncePerCustomer": True,
    }


def discount_created(data: Mapping[str, Any]) -> DiscountCreated:
    payload = _map(data.get("discountCodeBasicCreate"))
    errors = tuple(
        DiscountUserError(
            field=".".join(str(part) for part in (error.get("field") or [])),
            message=_text(error.get("message"), 1000) or "",
            code=_text(error.get("code"), 64),
        )
        for error in (payload.get("userErrors") or [])
        if isinstance(error, Mapping)
    )
    node = _map(payload.get("codeDiscountNode"))
    return DiscountCreated(gid=None if errors else _text(node.get("id")), errors=errors)

"""Hypothesis strategies for hostile webhook input, built on realistic Shopify payloads.

A realistic payload (from :mod:`plugin.shopify_payloads`) is taken apart into paths, and a
few of them are replaced by values chosen to break parsers and databases: wrong types,
integers past 64 bits, timestamps at the ends of the calendar, NUL characters, very long
text, markup. What is left intact keeps the payload close enough to the real thing that
the handlers' deeper code runs too.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from plugin.shopify_payloads import (
    Item,
    Shopper,
    fulfillment_event_payload,
    fulfillment_payload,
    order_payload,
    shop_payload,
)

ORDER_ID = 820982911946154508
FULFILLMENT_ID = 255858046
EVENT_ID = 944956391
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

# Personal values that must never reach a log line, whatever the payload looks like.
CANARY_EMAIL = "canary.shopper@example.org"
CANARY_PHONE = "+33699887766"
CANARY_LAST_NAME = "Canaryfamilyname"
CANARY_STREET = "7 impasse du Canari"
CANARIES = (CANARY_EMAIL, CANARY_PHONE, CANARY_LAST_NAME, CANARY_STREET)

SHOPPER = Shopper(
    first_name="Camille",
    last_name=CANARY_LAST_NAME,
    email=CANARY_EMAIL,
    phone=CANARY_PHONE,
    city="Lyon",
    zip="69003",
    country_code="FR",
    locale="fr",
    address1=CANARY_STREET,
    email_consent=True,
)
ITEMS = [Item("Bougie", "32.00", id=1, product_id=2, variant_id=3)]


def _order() -> dict[str, Any]:
    return order_payload(
        order_id=ORDER_ID, number=1001, shopper=SHOPPER, items=ITEMS, created_at=T0
    )


def _fulfillment() -> dict[str, Any]:
    return fulfillment_payload(
        fulfillment_id=FULFILLMENT_ID, order_id=ORDER_ID, name="#1001.1", items=ITEMS,
        created_at=T0,
    )


def _event() -> dict[str, Any]:
    return fulfillment_event_payload(
        event_id=EVENT_ID, fulfillment_id=FULFILLMENT_ID, order_id=ORDER_ID,
        status="in_transit", happened_at=T0, message="Colis pris en charge", city="Lyon",
    )


def _shop() -> dict[str, Any]:
    return shop_payload(name="Maison Lumière", domain="maison.fr", email="shop@maison.fr")


def _customer_request(orders_key: str) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        payload: dict[str, Any] = {
            "shop_id": 548380009,
            "shop_domain": "demo-shop.myshopify.com",
            "customer": {"id": 7000000001001, "email": CANARY_EMAIL, "phone": CANARY_PHONE},
            orders_key: [ORDER_ID],
        }
        if orders_key == "orders_requested":
            payload["data_request"] = {"id": 9999}
        return payload

    return build


# Every handled topic and the realistic payload its mutations start from.
BASE_PAYLOADS: dict[str, Callable[[], dict[str, Any]]] = {
    "orders/create": _order,
    "orders/updated": _order,
    "orders/cancelled": _order,
    "orders/fulfilled": _order,
    "orders/partially_fulfilled": _order,
    "orders/paid": _order,
    "fulfillments/create": _fulfillment,
    "fulfillments/update": _fulfillment,
    "fulfillment_events/create": _event,
    "fulfillment_events/delete": _event,
    "app/uninstalled": _shop,
    "shop/update": _shop,
    "customers/data_request": _customer_request("orders_requested"),
    "customers/redact": _customer_request("orders_to_redact"),
    "shop/redact": lambda: {"shop_id": 548380009, "shop_domain": "demo-shop.myshopify.com"},
}

# Values that have broken parsers and databases elsewhere.
NASTY_SCALARS: list[Any] = [
    None, True, False, 0, -1, 2**63, -(2**63) - 1, 2**64 + 7, 10**30, 1.5, 1e308, -0.0,
    "", " ", "0", "-1", "9" * 40, "1e400", "NaN", "Infinity", "-Infinity", "0x1F",
    "gid://shopify/Order/" + "9" * 30, "gid://shopify/Order/12",
    "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "2026-13-45T99:99:99Z",
    "2026-11-02T09:00:00", "2026-11-02", "yesterday", "\x00", "a\x00b", "\u202e\u0000",
    "<script>alert(1)</script>", "{{ shop.secret }}", "{% raw %}", "' OR 1=1 --",
    "x" * 5000, "é" * 300, "\ud7ff", "🙂" * 50, [], {}, [None], {"id": None},
]

# One value per class of trouble, for the systematic sweep over every field a handler reads.
EDGE_VALUES: list[Any] = [
    None, "", 2**64, -(2**63) - 1, "9" * 30, 1.5, True, -1, [], {"x": 1},
    "9999-12-31T23:59:59-01:00", "not a date", "a\x00b", "x" * 5000,
]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=60),
    st.sampled_from(NASTY_SCALARS),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (dict keys and list indexes) inside ``value``, parents before children."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def read_paths(payload: Any) -> list[tuple[Any, ...]]:
    """Paths whose last key a handler reads, at most three levels deep (lists: index 0)."""
    return [
        p
        for p in _paths(payload)
        if len(p) <= 3 and p[-1] in READ_KEYS and all(s == 0 for s in p if isinstance(s, int))
    ]


def with_value(payload: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A copy of ``payload`` with ``value`` at ``path``."""
    changed = copy.deepcopy(payload)
    _apply(changed, path, "replace", value)
    return changed


def _apply(payload: Any, path: tuple[Any, ...], action: str, value: Any) -> None:
    parent = payload
    for step in path[:-1]:
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return  # an earlier mutation replaced this branch
    last = path[-1]
    if isinstance(parent, dict):
        if action == "delete":
            parent.pop(last, None)
        else:
            parent[last] = value
    elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
        if action == "delete":
            parent.pop(last)
        else:
            parent[last] = value


# Keys the handlers read: mutations aim at them half of the time, where bugs would be.
READ_KEYS = frozenset(
    {"id", "order_id", "fulfillment_id", "updated_at", "created_at", "happened_at",
     "cancelled_at", "name", "email", "phone", "total_price", "order_number", "customer",
     "first_name", "shipping_address", "billing_address", "shipping_lines", "line_items",
     "fulfillments", "status", "shipment_status", "tracking_url", "tracking_urls",
     "tracking_number", "quantity", "title", "estimated_delivery_at", "city", "country", "zip",
     "data_request", "orders_requested", "orders_to_redact", "customer_locale", "currency",
     "iana_timezone"}
)


@st.composite
def mutated_payload(draw: st.DrawFn, topic: str) -> dict[str, Any]:
    """The base payload of ``topic`` with one to four paths replaced, deleted or added."""
    payload = copy.deepcopy(BASE_PAYLOADS[topic]())
    paths = _paths(payload)
    read = [p for p in paths if p[-1] in READ_KEYS] or paths
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "add":
            path: tuple[Any, ...] = (draw(st.text(min_size=1, max_size=12)),)
        else:
            path = draw(st.sampled_from(read) | st.sampled_from(paths))
        value = draw(st.sampled_from(NASTY_SCALARS) | json_values)
        _apply(payload, path, action, value)
    return payload


@st.composite
def topic_and_payload(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    topic = draw(st.sampled_from(sorted(BASE_PAYLOADS)))
    return topic, draw(mutated_payload(topic))


def body_of(payload: Any) -> bytes:
    return json.dumps(payload).encode()

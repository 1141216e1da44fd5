"""One handler per Shopify topic: payload in, domain change out.

Handlers run inside the delivery's transaction (see :mod:`webhooks.jobs`). They raise
:class:`~plugin.errors.PayloadError` for payloads that can never be applied.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from plugin import privacy, tracking
from plugin.db import utcnow
from plugin.errors import PayloadError
from plugin.insights import tracking as attribution
from webhooks import payloads

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """What a handler knows of the webhook besides its payload."""

    topic: str
    shop_domain: str
    triggered_at: datetime | None
    payload: Mapping[str, Any]
    privacy_holders: Sequence[privacy.PersonalDataHolder] = ()
    on_uninstall: Sequence[Callable[[Session, int], None]] = ()


Handler = Callable[[Session, Delivery], str]


def _order(session: Session, delivery: Delivery) -> str:
    shop = tracking.ensure_shop(session, delivery.shop_domain)
    snapshot = payloads.order_snapshot(delivery.payload)
    outcome = tracking.apply_order(session, shop, snapshot)
    attribution.attribute_order(
        session,
        shop,
        outcome.order_id,
        landing_site=snapshot.landing_site,
        referring_site=snapshot.referring_site,
        discount_codes=snapshot.discount_codes,
    )
    return _describe(outcome)


def _fulfillment(session: Session, delivery: Delivery) -> str:
    shop = tracking.ensure_shop(session, delivery.shop_domain)
    snapshot = payloads.fulfillment_snapshot(delivery.payload)
    return _describe(tracking.apply_fulfillment(session, shop, snapshot))


def _fulfillment_event(session: Session, delivery: Delivery) -> str:
    shop = tracking.ensure_shop(session, delivery.shop_domain)
    snapshot = payloads.fulfillment_event_snapshot(delivery.payload)
    return _describe(tracking.apply_fulfillment_event(session, shop, snapshot))


def _fulfillment_event_deleted(session: Session, delivery: Delivery) -> str:
    shop = tracking.ensure_shop(session, delivery.shop_domain)
    snapshot = payloads.fulfillment_event_snapshot(delivery.payload)
    outcome = tracking.delete_fulfillment_event(
        session,
        shop,
        event_shopify_id=snapshot.shopify_id,
        order_shopify_id=snapshot.order_shopify_id,
    )
    return _describe(outcome)


def _shop_update(session: Session, delivery: Delivery) -> str:
    tracking.apply_shop(session, payloads.shop_snapshot(delivery.shop_domain, delivery.payload))
    return "shop updated"


def _app_uninstalled(session: Session, delivery: Delivery) -> str:
    shop = tracking.apply_shop(
        session, payloads.shop_snapshot(delivery.shop_domain, delivery.payload)
    )
    tracking.mark_uninstalled(session, shop, delivery.triggered_at or utcnow())
    for hook in delivery.on_uninstall:
        hook(session, shop.id)
    return "shop uninstalled"


def _customer_ref(delivery: Delivery, orders_key: str) -> privacy.CustomerRef:
    customer = delivery.payload.get("customer")
    if not isinstance(customer, Mapping):
        raise PayloadError("customer is missing")
    order_ids = delivery.payload.get(orders_key) or []
    if not isinstance(order_ids, list):
        raise PayloadError(f"{orders_key} is not a list")
    return privacy.CustomerRef(
        shop_domain=delivery.shop_domain,
        customer_shopify_id=payloads.parse_id(
            customer.get("id"), field="customer.id", required=False
        ),
        email=payloads.clean_text(customer.get("email"), 320),
        phone=payloads.clean_text(customer.get("phone"), 32),
        order_shopify_ids=tuple(
            i
            for i in (payloads.parse_id(o, field=orders_key, required=False) for o in order_ids)
            if i
        ),
    )


def _data_request(session: Session, delivery: Delivery) -> str:
    request = delivery.payload.get("data_request")
    if not isinstance(request, Mapping):
        raise PayloadError("data_request is missing")
    request_id = payloads.require_id(request.get("id"), field="data_request.id")
    shop = tracking.ensure_shop(session, delivery.shop_domain)
    ref = _customer_ref(delivery, "orders_requested")
    export_id = privacy.export_customer(session, shop, ref, request_id, delivery.privacy_holders)
    return f"export {export_id} ready"


def _customer_redact(session: Session, delivery: Delivery) -> str:
    shop = tracking.ensure_shop(session, delivery.shop_domain)
    ref = _customer_ref(delivery, "orders_to_redact")
    count = privacy.redact_customer(session, shop, ref, delivery.privacy_holders)
    return f"{count} order(s) anonymised"


def _shop_redact(session: Session, delivery: Delivery) -> str:
    erased = privacy.redact_shop(session, delivery.shop_domain, delivery.privacy_holders)
    return "shop erased" if erased else "nothing held for this shop"


def _describe(outcome: tracking.Outcome) -> str:
    parts = [f"order {outcome.order_id}"]
    if outcome.milestones:
        parts.append("milestones " + ", ".join(m for _, m in outcome.milestones))
    parts += outcome.notes
    return "; ".join(parts)


HANDLERS: dict[str, Handler] = {
    "orders/create": _order,
    "orders/updated": _order,
    "orders/cancelled": _order,
    "orders/fulfilled": _order,
    "orders/partially_fulfilled": _order,
    "orders/paid": _order,
    "fulfillments/create": _fulfillment,
    "fulfillments/update": _fulfillment,
    "fulfillment_events/create": _fulfillment_event,
    "fulfillment_events/delete": _fulfillment_event_deleted,
    "app/uninstalled": _app_uninstalled,
    "shop/update": _shop_update,
    "customers/data_request": _data_request,
    "customers/redact": _customer_redact,
    "shop/redact": _shop_redact,
}

# Topics that concern a shop that may already have uninstalled Relais.
COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})

"""The one milestone vocabulary, and how Shopify's status values map onto it."""

from __future__ import annotations

import logging
from enum import StrEnum

log = logging.getLogger(__name__)


class Milestone(StrEnum):
    """Where a shipment (or an order) stands, in words every part of Relais shares."""

    ORDERED = "ordered"
    CANCELLED = "cancelled"
    LABEL_CREATED = "label_created"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    ATTEMPTED_DELIVERY = "attempted_delivery"
    READY_FOR_PICKUP = "ready_for_pickup"
    DELAYED = "delayed"
    DELIVERED = "delivered"
    FAILURE = "failure"
    RETURNING_TO_SENDER = "returning_to_sender"
    # Derived by the scheduler, never sent by Shopify.
    NOT_SHIPPED = "not_shipped"
    STALLED = "stalled"
    PICKUP_REMINDER = "pickup_reminder"
    LATE = "late"
    FEEDBACK_REQUEST = "feedback_request"


CARRIER_MILESTONES = frozenset(
    {
        Milestone.LABEL_CREATED,
        Milestone.SHIPPED,
        Milestone.IN_TRANSIT,
        Milestone.OUT_FOR_DELIVERY,
        Milestone.ATTEMPTED_DELIVERY,
        Milestone.READY_FOR_PICKUP,
        Milestone.DELAYED,
        Milestone.DELIVERED,
        Milestone.FAILURE,
        Milestone.RETURNING_TO_SENDER,
        Milestone.CANCELLED,
    }
)
DERIVED_MILESTONES = frozenset(
    {
        Milestone.NOT_SHIPPED,
        Milestone.STALLED,
        Milestone.PICKUP_REMINDER,
        Milestone.LATE,
        Milestone.FEEDBACK_REQUEST,
    }
)
FINAL_MILESTONES = frozenset({Milestone.DELIVERED, Milestone.CANCELLED})

# Progress through a normal journey, used for progress bars and to break timestamp ties.
PROGRESS = {
    Milestone.ORDERED: 0,
    Milestone.LABEL_CREATED: 1,
    Milestone.SHIPPED: 2,
    Milestone.IN_TRANSIT: 3,
    Milestone.DELAYED: 3,
    Milestone.OUT_FOR_DELIVERY: 4,
    Milestone.ATTEMPTED_DELIVERY: 4,
    Milestone.READY_FOR_PICKUP: 4,
    Milestone.FAILURE: 4,
    Milestone.RETURNING_TO_SENDER: 4,
    Milestone.DELIVERED: 5,
    Milestone.CANCELLED: 5,
}

# Shopify's fulfillment `shipment_status` and fulfillment event `status` values (lower-case
# in webhooks, upper-case in GraphQL). Values Shopify adds later fall through to None.
_SHOPIFY_STATUS = {
    "confirmed": Milestone.LABEL_CREATED,
    "label_printed": Milestone.LABEL_CREATED,
    "label_purchased": Milestone.LABEL_CREATED,
    "carrier_picked_up": Milestone.SHIPPED,
    "in_transit": Milestone.IN_TRANSIT,
    "out_for_delivery": Milestone.OUT_FOR_DELIVERY,
    "attempted_delivery": Milestone.ATTEMPTED_DELIVERY,
    "buyer_action_required": Milestone.ATTEMPTED_DELIVERY,
    "ready_for_pickup": Milestone.READY_FOR_PICKUP,
    "ready_for_recipient_pickup": Milestone.READY_FOR_PICKUP,
    "picked_up": Milestone.DELIVERED,
    "delayed": Milestone.DELAYED,
    "delivered": Milestone.DELIVERED,
    "failure": Milestone.FAILURE,
    "not_delivered": Milestone.FAILURE,
    "returning_to_sender": Milestone.RETURNING_TO_SENDER,
    "returned_to_sender": Milestone.RETURNING_TO_SENDER,
}

# A fulfillment's own `status` (not the carrier's): what it says before any carrier update.
_FULFILLMENT_STATUS = {
    "pending": Milestone.LABEL_CREATED,
    "open": Milestone.LABEL_CREATED,
    "success": Milestone.SHIPPED,
    "cancelled": Milestone.CANCELLED,
    "error": Milestone.FAILURE,
    "failure": Milestone.FAILURE,
}


def from_shopify_status(value: str | None) -> Milestone | None:
    """Map a Shopify shipment or event status; ``None`` (and a log line) when unknown."""
    if not value:
        return None
    milestone = _SHOPIFY_STATUS.get(value.strip().lower())
    if milestone is None:
        log.warning("unknown Shopify shipment status %r kept as is", value)
    return milestone


def from_fulfillment_status(value: str | None) -> Milestone | None:
    """Map a fulfillment's own status (pending, success, cancelled...)."""
    if not value:
        return None
    milestone = _FULFILLMENT_STATUS.get(value.strip().lower())
    if milestone is None:
        log.warning("unknown Shopify fulfillment status %r kept as is", value)
    return milestone

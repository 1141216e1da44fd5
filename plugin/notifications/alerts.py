"""Proactive alerts: shipments that need a word before the shopper asks "where is it?".

A periodic job finds, with each shop's thresholds, orders not shipped after N days,
shipments with no carrier update for N days, parcels waiting at a pickup point for N days,
parcels past their estimated delivery date, and deliveries N days old (feedback request).
Each is announced once as a derived milestone (a domain event with a unique key), so every
subscriber hears of it and notifications treat it like any other milestone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from plugin import events
from plugin.milestones import Milestone
from plugin.models import Order, Shipment, Shop, TrackingEvent
from plugin.notifications.settings import AlertThresholds, get_settings
from plugin.runtime import Runtime

log = logging.getLogger(__name__)

# Orders older than this are not looked at any more (their story is over).
HORIZON = timedelta(days=60)
# A feedback request later than this after delivery would surprise more than help.
FEEDBACK_WINDOW = timedelta(days=14)
BATCH = 1000

IN_TRANSIT = (Milestone.SHIPPED.value, Milestone.IN_TRANSIT.value, Milestone.DELAYED.value)
SETTLED = (
    Milestone.DELIVERED.value,
    Milestone.CANCELLED.value,
    Milestone.RETURNING_TO_SENDER.value,
    Milestone.FAILURE.value,
)


@dataclass(frozen=True)
class Alert:
    milestone: Milestone
    order_id: int
    shipment_id: int | None

    @property
    def dedupe_key(self) -> str:
        # One alert of each kind per shipment (or order), however often the job runs.
        return f"alert:{self.milestone.value}:{self.order_id}:{self.shipment_id or '-'}"


def raise_due_alerts(runtime: Runtime, *, now: datetime) -> dict[str, int]:
    """Announce every alert that is due; returns how many of each kind were found."""
    counts: dict[str, int] = {}
    with runtime.db.transaction() as session:
        shops = list(session.scalars(select(Shop).where(Shop.uninstalled_at.is_(None))))
        for shop in shops:
            thresholds = get_settings(session, shop.id).thresholds
            for alert in due_alerts(session, shop.id, thresholds, now):
                events.record_milestone(
                    session,
                    shop_id=shop.id,
                    order_id=alert.order_id,
                    shipment_id=alert.shipment_id,
                    milestone=alert.milestone,
                    happened_at=now,
                    dedupe_key=alert.dedupe_key,
                )
                counts[alert.milestone.value] = counts.get(alert.milestone.value, 0) + 1
        recorded = events.recorded_event_ids(session)
    # Announced after the commit, like every domain event (the sweeper retries a crash here).
    events.dispatch(runtime.db, runtime.queues, runtime.subscribers, recorded)
    if counts:
        log.info("proactive alerts: %s", counts)
    return counts


def due_alerts(
    session: Session, shop_id: int, thresholds: AlertThresholds, now: datetime
) -> Iterator[Alert]:
    """The alerts of one shop that are due now (already raised ones come again; the unique
    key of their domain event makes that harmless)."""
    live_order = and_(
        Order.shop_id == shop_id,
        Order.cancelled_at.is_(None),
        Order.redacted_at.is_(None),
        func.coalesce(Order.shopify_created_at, Order.created_at) > now - HORIZON,
    )
    if thresholds.not_shipped_days:
        cutoff = now - timedelta(days=thresholds.not_shipped_days)
        ordered_at = func.coalesce(Order.shopify_created_at, Order.created_at)
        order_ids = session.scalars(
            select(Order.id)
            .where(
                live_order,
                Order.is_complete.is_(True),
                ordered_at < cutoff,
                ~exists().where(Shipment.order_id == Order.id),
            )
            .limit(BATCH)
        )
        for order_id in order_ids:
            yield Alert(Milestone.NOT_SHIPPED, order_id, None)

    shipments = select(Shipment.id, Shipment.order_id).join(Order, Order.id == Shipment.order_id)
    if thresholds.stalled_days:
        cutoff = now - timedelta(days=thresholds.stalled_days)
        last_update = (
            select(func.max(TrackingEvent.happened_at))
            .where(TrackingEvent.shipment_id == Shipment.id)
            .scalar_subquery()
        )
        rows = session.execute(
            shipments.where(
                live_order,
                Shipment.milestone.in_(IN_TRANSIT),
                func.coalesce(last_update, Shipment.milestone_at, Shipment.created_at) < cutoff,
            ).limit(BATCH)
        )
        for shipment_id, order_id in rows:
            yield Alert(Milestone.STALLED, order_id, shipment_id)
    if thresholds.pickup_reminder_days:
        cutoff = now - timedelta(days=thresholds.pickup_reminder_days)
        rows = session.execute(
            shipments.where(
                live_order,
                Shipment.milestone == Milestone.READY_FOR_PICKUP.value,
                Shipment.milestone_at < cutoff,
            ).limit(BATCH)
        )
        for shipment_id, order_id in rows:
            yield Alert(Milestone.PICKUP_REMINDER, order_id, shipment_id)
    if thresholds.late_days:
        cutoff = now - timedelta(days=thresholds.late_days)
        rows = session.execute(
            shipments.where(
                live_order,
                Shipment.estimated_delivery_at < cutoff,
                Shipment.milestone.not_in(SETTLED),
            ).limit(BATCH)
        )
        for shipment_id, order_id in rows:
            yield Alert(Milestone.LATE, order_id, shipment_id)
    if thresholds.feedback_days:
        cutoff = now - timedelta(days=thresholds.feedback_days)
        rows = session.execute(
            shipments.where(
                live_order,
                Shipment.milestone == Milestone.DELIVERED.value,
                Shipment.delivered_at < cutoff,
                Shipment.delivered_at > cutoff - FEEDBACK_WINDOW,
            ).limit(BATCH)
        )
        for shipment_id, order_id in rows:
            yield Alert(Milestone.FEEDBACK_REQUEST, order_id, shipment_id)

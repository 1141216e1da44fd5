"""From "this shipment reached this milestone" to the messages it calls for.

Each message is a row created once (its unique ``dedupe_key`` names order, shipment,
milestone and channel), whatever how often the subscriber job runs; only newly created
rows are handed to the send job, after the commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.events import MILESTONE_REACHED
from plugin.milestones import Milestone
from plugin.models import DomainEvent, Order, Shop
from plugin.notifications.channels import Channel
from plugin.notifications.models import (
    MessageKind,
    MessageState,
    NotificationMessage,
    NotificationSuppression,
)
from plugin.notifications.policy import Decision, Reachability, decide, unavailable_reason
from plugin.notifications.settings import NotificationSettings, get_settings
from plugin.notifications.shopper import (
    mobile_number,
    normalize_email,
    shopper_locale,
    shopper_timezone,
)
from plugin.notifications.wallet_presence import WalletPresence
from plugin.upsert import insert_once

log = logging.getLogger(__name__)

WALLET_REASON = "reached through the Wallet pass update"


@dataclass(frozen=True)
class QueuedMessage:
    """A message created in this transaction, to hand to the send job after the commit."""

    id: int
    not_before: datetime


# Built once: the event with its shop and order, and a shopper's opt-outs.
_EVENT_QUERY = (
    select(DomainEvent, Shop, Order)
    .join(Shop, Shop.id == DomainEvent.shop_id)
    .join(Order, Order.id == DomainEvent.order_id)
    .where(DomainEvent.id == bindparam("event_id"))
)
_SUPPRESSIONS = select(
    NotificationSuppression.channel,
    NotificationSuppression.address,
    NotificationSuppression.reason,
).where(
    NotificationSuppression.shop_id == bindparam("shop_id"),
    NotificationSuppression.address.in_(bindparam("addresses", expanding=True)),
)


def milestone_key(order_id: int, shipment_id: int | None, milestone: str, channel: str) -> str:
    """At most one message per shipment (or order), milestone and channel."""
    return f"m:{order_id}:{shipment_id or '-'}:{milestone}:{channel}"


def reachability(
    session: Session, shop: Shop, order: Order, wallet: WalletPresence
) -> Reachability:
    """Everything the policy needs to know about how to reach this order's shopper."""
    email = normalize_email(order.email)
    phone = mobile_number(order.phone, order.ship_country_code or shop.country_code)
    addresses = [a for a in (email, phone) if a]
    suppressed: dict[tuple[str, str], str] = {}
    if addresses:
        # On the session's connection: plain columns, no ORM work to pay for.
        rows = session.connection().execute(
            _SUPPRESSIONS, {"shop_id": shop.id, "addresses": addresses}
        )
        suppressed = {(channel, address): reason for channel, address, reason in rows}
    return Reachability(
        locale=shopper_locale(order, shop),
        timezone=shopper_timezone(order, shop),
        email=email,
        phone=phone,
        email_suppressed=suppressed.get((Channel.EMAIL.value, email)) if email else None,
        sms_opted_out=bool(phone and (Channel.SMS.value, phone) in suppressed),
        whatsapp_opted_out=bool(phone and (Channel.WHATSAPP.value, phone) in suppressed),
        email_marketing_consent=order.email_marketing_consent,
        sms_marketing_consent=order.sms_marketing_consent,
        wallet_installed=wallet.has_registered_device(session, order.id),
    )


# How long a milestone waits for its order's own webhook before it goes out to whatever is
# known (usually nothing: the skip then says why). Shopify retries a failed delivery for
# hours, but a delivery that arrives late by more than this rarely arrives at all.
ORDER_WAIT = timedelta(minutes=40)


class OrderNotArrived(Exception):
    """The milestone's order is only a placeholder so far: plan it again later."""

    def __init__(self, event_id: int, waited: timedelta) -> None:
        super().__init__(f"event {event_id}: order not received yet (waited {waited})")
        self.event_id = event_id
        self.waited = waited


def plan_event(
    session: Session, event_id: int, *, wallet: WalletPresence, now: datetime
) -> list[QueuedMessage]:
    """Create the messages a domain event calls for; return those to send."""
    row = session.execute(_EVENT_QUERY, {"event_id": event_id}).one_or_none()
    if row is None:
        return []
    event, shop, order = row
    if event.kind != MILESTONE_REACHED:
        return []
    try:
        milestone = Milestone(event.milestone)
    except ValueError:
        log.warning("event %s: milestone %r has no messages", event_id, event.milestone)
        return []
    if not shop.is_installed or order.redacted_at is not None:
        return []
    waited = utcnow() - event.created_at  # both on the real clock, like the event's stamp
    if not order.is_complete and waited < ORDER_WAIT:
        # A fulfillment came before its order (Shopify does not keep the order of its
        # webhooks): the order row holds no shopper yet, so every channel would be skipped.
        raise OrderNotArrived(event_id, waited)
    settings = get_settings(session, shop.id)
    if not settings.rule(milestone).enabled:
        return []
    who = reachability(session, shop, order, wallet)
    decisions = decide(milestone, who, settings, now)
    return _create(
        session,
        event,
        milestone,
        order,
        who,
        decisions,
        settings,
        now,
    )


def plan_fallback(
    session: Session, failed: NotificationMessage, *, wallet: WalletPresence, now: datetime
) -> list[QueuedMessage]:
    """After a permanent failure on one channel, the next channel of the rule that can reach
    the shopper (an invalid number still gets the email)."""
    if failed.kind != MessageKind.MILESTONE or not failed.milestone or failed.order_id is None:
        return []
    shop = session.get(Shop, failed.shop_id)
    order = session.get(Order, failed.order_id)
    if shop is None or order is None:
        return []
    milestone = Milestone(failed.milestone)
    settings = get_settings(session, shop.id)
    rule = settings.rule(milestone)
    if rule.all_channels or failed.channel not in rule.channels:
        return []
    who = reachability(session, shop, order, wallet)
    tried = set(
        session.scalars(
            select(NotificationMessage.channel).where(
                NotificationMessage.order_id == failed.order_id,
                NotificationMessage.shipment_id.is_(None)
                if failed.shipment_id is None
                else NotificationMessage.shipment_id == failed.shipment_id,
                NotificationMessage.milestone == failed.milestone,
            )
        )
    )
    later = list(rule.channels)[list(rule.channels).index(Channel(failed.channel)) + 1 :]
    from plugin.notifications.policy import due_time

    for channel in later:
        if channel.value in tried or channel == Channel.WALLET:
            continue
        if unavailable_reason(channel, milestone, rule, who, settings) is None:
            decision = Decision(
                channel=channel,
                recipient=who.email if channel == Channel.EMAIL else who.phone,
                not_before=due_time(channel, who.timezone, settings, now),
            )
            event = session.get(DomainEvent, failed.event_id) if failed.event_id else None
            return _create(
                session,
                event,
                milestone,
                order,
                who,
                [decision],
                settings,
                now,
                shipment_id=failed.shipment_id,
                milestone_at=failed.milestone_at,
            )
    return []


def _create(
    session: Session,
    event: DomainEvent | None,
    milestone: Milestone,
    order: Order,
    who: Reachability,
    decisions: list[Decision],
    settings: NotificationSettings,
    now: datetime,
    *,
    shipment_id: int | None = None,
    milestone_at: datetime | None = None,
) -> list[QueuedMessage]:
    rule = settings.rule(milestone)
    if event is not None:
        shipment_id = event.shipment_id
        milestone_at = event.happened_at
    queued: list[QueuedMessage] = []
    for decision in decisions:
        state, reason = MessageState.QUEUED, decision.skip_reason
        if reason is not None:
            state = MessageState.SKIPPED
        elif decision.channel == Channel.WALLET:
            state, reason = MessageState.SKIPPED, WALLET_REASON
        key = milestone_key(order.id, shipment_id, milestone.value, decision.channel.value)
        message_id = insert_once(
            session,
            NotificationMessage,
            {
                "shop_id": order.shop_id,
                "order_id": order.id,
                "shipment_id": shipment_id,
                "event_id": event.id if event is not None else None,
                "dedupe_key": key,
                "kind": MessageKind.MILESTONE,
                "milestone": milestone.value,
                "milestone_at": milestone_at,
                "channel": decision.channel.value,
                "locale": who.locale,
                "recipient": decision.recipient,
                "promotional": rule.promotional,
                "state": state,
                "reason": reason,
                "not_before": decision.not_before,
                "attempts": 0,
                "in_doubt": False,
                "created_at": now,
                "updated_at": now,
            },
            conflict_columns=["dedupe_key"],
        )
        if message_id is None or state != MessageState.QUEUED:
            continue
        queued.append(QueuedMessage(message_id, decision.not_before))
    return queued

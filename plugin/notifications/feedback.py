"""What comes back from the providers and the shoppers.

- SendGrid's Event Webhook (processed, delivered, open, click, bounce, dropped, spam report)
  and Twilio's status callbacks update each message; bounces and spam reports stop further
  email to that address.
- Inbound SMS and WhatsApp: STOP / ARRET opts out, START opts back in, anything else is
  forwarded to the merchant's support inbox with the order attached, and acknowledged.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from plugin.models import Order, Shop
from plugin.notifications.channels import Channel
from plugin.notifications.delivery import add_suppression, support_inbox
from plugin.notifications.messages.copy import LOCALES
from plugin.notifications.models import (
    MessageKind,
    MessageState,
    NotificationMessage,
    NotificationSuppression,
)
from plugin.notifications.orchestration import QueuedMessage, plan_fallback
from plugin.notifications.settings import get_settings
from plugin.notifications.shopper import normalize_phone, shopper_locale
from plugin.notifications.wallet_presence import WalletPresence
from plugin.upsert import insert_once

log = logging.getLogger(__name__)

# Twilio's default opt-out and opt-in keywords, plus the French ones.
STOP_WORDS = frozenset(
    {
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        "ARRET",
        "ARRETER",
        "STOP SMS",
        "DESABONNER",
        "DESINSCRIPTION",
    }
)
START_WORDS = frozenset({"START", "UNSTOP", "YES", "OPTIN", "REPRENDRE"})

# Later statuses never replace further ones; failures replace anything.
_EMAIL_RANK = {"processed": 0, "deferred": 1, "delivered": 2, "opened": 3, "clicked": 4}
_TEXT_RANK = {"queued": 0, "accepted": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4}
_FAILURES = frozenset({"bounced", "dropped", "spam_report", "failed", "undelivered"})
_SENDGRID_STATUS = {
    "processed": "processed",
    "deferred": "deferred",
    "delivered": "delivered",
    "open": "opened",
    "click": "clicked",
    "bounce": "bounced",
    "dropped": "dropped",
    "spamreport": "spam_report",
}
# Dropped for one of these reasons: the address must not be tried again.
_DROP_SUPPRESSES = ("bounced address", "spam reporting address", "unsubscribed address", "invalid")


@dataclass
class FeedbackResult:
    updated: int = 0
    suppressed: int = 0
    follow_ups: list[QueuedMessage] = field(default_factory=list)


def _advance(message: NotificationMessage, status: str, rank: Mapping[str, int]) -> bool:
    """Move the delivery status forward (or to a failure); False when it would go back."""
    current = message.delivery_status
    if current in _FAILURES and status not in _FAILURES:
        return False
    if (
        status not in _FAILURES
        and current is not None
        and current in rank
        and rank.get(status, -1) <= rank[current]
    ):
        return False
    message.delivery_status = status
    return True


def _accept(message: NotificationMessage, provider_id: str | None, at: datetime) -> None:
    """The provider says it has the message: an attempt that never reported back is sent."""
    if message.state in (MessageState.SENDING, MessageState.QUEUED) and (
        message.state == MessageState.SENDING or message.in_doubt
    ):
        message.state = MessageState.SENT
        message.sent_at = message.sent_at or at
        message.lease_until = None
        message.in_doubt = False
        message.reason = "confirmed by the provider's callback"
    if provider_id and not message.provider_id:
        message.provider_id = provider_id


def apply_sendgrid_events(
    session: Session, events: Iterable[Mapping[str, Any]], *, now: datetime, wallet: WalletPresence
) -> FeedbackResult:
    """Apply a batch from SendGrid's Event Webhook (already verified)."""
    result = FeedbackResult()
    for event in events:
        kind = str(event.get("event") or "")
        status = _SENDGRID_STATUS.get(kind)
        message = _message_for(session, event.get("relais_message_id"))
        address = str(event.get("email") or "").strip().lower()
        if message is not None and status is not None:
            at = _timestamp(event.get("timestamp")) or now
            provider_id = str(event.get("sg_message_id") or "").split(".")[0] or None
            _accept(message, provider_id, at)
            if _advance(message, status, _EMAIL_RANK):
                message.delivery_updated_at = at
                detail = event.get("reason") or event.get("response") or event.get("type")
                message.delivery_detail = str(detail)[:500] if detail else None
                result.updated += 1
        shop_id = (
            message.shop_id if message is not None else _shop_id(session, event.get("relais_shop"))
        )
        if shop_id is None or not address:
            continue
        reason = _email_suppression_reason(kind, event)
        if reason and add_suppression(session, shop_id, Channel.EMAIL, address, reason):
            result.suppressed += 1
            log.info("email to a shopper of shop %s stopped: %s", shop_id, reason)
    return result


def _email_suppression_reason(kind: str, event: Mapping[str, Any]) -> str | None:
    if kind == "spamreport":
        return "spam_report"
    if kind == "bounce" and str(event.get("type") or "bounce") == "bounce":
        return "bounce"  # a "blocked" bounce is temporary: the address may work later
    if kind in ("unsubscribe", "group_unsubscribe"):
        return "unsubscribe"
    if kind == "dropped":
        reason = str(event.get("reason") or "").lower()
        if any(word in reason for word in _DROP_SUPPRESSES):
            return "dropped"
    return None


def apply_twilio_status(
    session: Session,
    message_id: str | None,
    form: Mapping[str, str],
    *,
    now: datetime,
    wallet: WalletPresence,
) -> FeedbackResult:
    """Apply one Twilio status callback (already verified)."""
    result = FeedbackResult()
    sid = form.get("MessageSid") or form.get("SmsSid")
    message = _message_for(session, message_id)
    if message is None and sid:
        message = session.scalar(
            select(NotificationMessage).where(NotificationMessage.provider_id == sid)
        )
    if message is None:
        return result
    if message.provider_id and sid and message.provider_id != sid:
        return result  # a callback for another message: the query string was tampered with
    status = str(form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    if status in ("canceled", "scheduled", "receiving", "received", ""):
        return result
    _accept(message, sid, now)
    if not _advance(message, status, _TEXT_RANK):
        return result
    message.delivery_updated_at = now
    error = form.get("ErrorCode")
    message.delivery_detail = f"Twilio error {error}" if error else None
    result.updated += 1
    if error == "21610" and message.recipient:
        add_suppression(session, message.shop_id, message.channel, message.recipient, "stop")
        result.suppressed += 1
    if status in ("failed", "undelivered") and message.kind == MessageKind.MILESTONE:
        message.reason = f"not delivered: {message.delivery_detail or status}"
        result.follow_ups = plan_fallback(session, message, wallet=wallet, now=now)
    return result


# --- inbound -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Inbound:
    """A message a shopper sent to one of the shop's numbers."""

    sid: str
    channel: str  # sms | whatsapp
    phone: str  # E.164
    body: str


def parse_inbound(form: Mapping[str, str]) -> Inbound | None:
    raw_from = form.get("From") or ""
    channel = Channel.WHATSAPP if raw_from.startswith("whatsapp:") else Channel.SMS
    phone = normalize_phone(raw_from.removeprefix("whatsapp:"), None)
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    if not phone or not sid:
        return None
    return Inbound(
        sid=sid, channel=channel.value, phone=phone, body=(form.get("Body") or "").strip()
    )


def keyword(body: str) -> str | None:
    """ "stop" or "start" when the whole message is an opt-out or opt-in keyword."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", body) if not unicodedata.combining(c))
    word = " ".join(folded.upper().strip(" .!?\n\t").split())
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    return None


def handle_inbound(
    session: Session, inbound: Inbound, *, app_url: str, now: datetime
) -> FeedbackResult:
    """STOP / START, or forward to the merchant and acknowledge to the shopper."""
    result = FeedbackResult()
    shop_ids = list(
        session.scalars(
            select(NotificationMessage.shop_id)
            .where(NotificationMessage.recipient == inbound.phone)
            .distinct()
        )
    )
    word = keyword(inbound.body)
    if word == "stop":
        # Every shop that wrote to this number from Relais: a STOP is never lost.
        for shop_id in shop_ids:
            if add_suppression(session, shop_id, inbound.channel, inbound.phone, "stop"):
                result.suppressed += 1
        return result
    if word == "start":
        if shop_ids:
            session.execute(
                delete(NotificationSuppression).where(
                    NotificationSuppression.shop_id.in_(shop_ids),
                    NotificationSuppression.channel == inbound.channel,
                    NotificationSuppression.address == inbound.phone,
                    NotificationSuppression.reason == "stop",
                )
            )
        return result
    latest = session.scalar(
        select(NotificationMessage)
        .where(
            NotificationMessage.recipient == inbound.phone,
            NotificationMessage.kind == MessageKind.MILESTONE,
        )
        .order_by(NotificationMessage.created_at.desc(), NotificationMessage.id.desc())
        .limit(1)
    )
    if latest is None:
        log.info("inbound %s from a number Relais never wrote to: ignored", inbound.channel)
        return result
    shop = session.get(Shop, latest.shop_id)
    order = session.get(Order, latest.order_id) if latest.order_id else None
    if shop is None or not shop.is_installed:
        return result
    settings = get_settings(session, shop.id)
    merchant_locale = (shop.primary_locale or "fr").split("-")[0].lower()
    merchant_locale = merchant_locale if merchant_locale in LOCALES else "en"
    shopper_lang = shopper_locale(order, shop) if order is not None else latest.locale
    context = {
        "from": inbound.phone,
        "channel": inbound.channel,
        "body": inbound.body[:1600],
        "inbound_sid": inbound.sid,
    }
    rows = [
        (
            f"in:{inbound.sid}:forward",
            MessageKind.FORWARD,
            Channel.EMAIL.value,
            support_inbox(settings, shop),
            merchant_locale,
        ),
        (
            f"in:{inbound.sid}:ack",
            MessageKind.ACKNOWLEDGEMENT,
            inbound.channel,
            inbound.phone,
            shopper_lang,
        ),
    ]
    for key, kind, channel, recipient, locale in rows:
        message_id = insert_once(
            session,
            NotificationMessage,
            {
                "shop_id": shop.id,
                "order_id": order.id if order is not None else None,
                "shipment_id": None,
                "dedupe_key": key,
                "kind": kind,
                "channel": channel,
                "locale": locale,
                "recipient": recipient,
                "state": MessageState.QUEUED,
                "not_before": now,
                "attempts": 0,
                "in_doubt": False,
                "promotional": False,
                "context": context,
                "created_at": now,
                "updated_at": now,
            },
            conflict_columns=["dedupe_key"],
        )
        if message_id is not None:
            result.follow_ups.append(QueuedMessage(message_id, now))
    return result


# --- helpers -----------------------------------------------------------------------------


def _message_for(session: Session, raw_id: object) -> NotificationMessage | None:
    try:
        message_id = int(str(raw_id))
    except (TypeError, ValueError):
        return None
    return session.get(NotificationMessage, message_id, with_for_update=True)


def _shop_id(session: Session, domain: object) -> int | None:
    if not domain:
        return None
    return session.scalar(select(Shop.id).where(Shop.domain == str(domain)))


def _timestamp(value: object) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(str(value)), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None

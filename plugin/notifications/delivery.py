"""Sending one message: the state machine queued → sending → sent | failed | skipped.

Each attempt claims the row in a transaction (checks it is still wanted, renders it, marks
it "sending" with a lease) and commits *before* calling the provider, then records the
outcome with a conditional update. A worker killed mid-call leaves the row "sending";
once its lease has passed, the next attempt is "in doubt": it first asks the provider (or
looks for a provider callback) whether the message was accepted, and sends only if not.
See docs/notifications.md for the duplicate window this leaves with each provider.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Update, bindparam, select, update
from sqlalchemy.orm import Session

from plugin.config import Config
from plugin.db import Database
from plugin.milestones import Milestone
from plugin.models import Order, Shipment, Shop
from plugin.notifications import clock
from plugin.notifications.channels import PHONE_CHANNELS, Channel
from plugin.notifications.editor import effective_copy
from plugin.notifications.links import ClickOrigin
from plugin.notifications.messages.copy import (
    ACKNOWLEDGEMENT,
    FORWARD_BODY,
    FORWARD_SUBJECT,
    LAYOUT,
)
from plugin.notifications.messages.render import (
    EmailCopy,
    MessageContext,
    fill_whatsapp,
    render_email,
    render_sms,
    whatsapp_variables,
)
from plugin.notifications.messages.sandbox import TemplateRefused, render_template
from plugin.notifications.models import (
    MessageKind,
    MessageState,
    NotificationMessage,
    NotificationSuppression,
)
from plugin.notifications.options import NotificationOptions
from plugin.notifications.orchestration import QueuedMessage, plan_fallback
from plugin.notifications.policy import overtaken_by
from plugin.notifications.quiet_hours import next_allowed
from plugin.notifications.services import NotificationServices
from plugin.notifications.settings import NotificationSettings, get_settings
from plugin.notifications.shopper import message_context, shopper_timezone
from plugin.notifications.transports import (
    Accepted,
    OutgoingEmail,
    OutgoingText,
    PermanentSendError,
    TransientSendError,
)
from plugin.queues import JobQueues
from plugin.upsert import insert_once

log = logging.getLogger(__name__)

SEND_JOB = "plugin.notifications.jobs.send_message"
QUEUE = "notifications"
# A message due within this much is sent now rather than scheduled (clock skew, rounding).
DUE_SLACK = timedelta(seconds=1)

Outgoing = OutgoingEmail | OutgoingText


class Unsendable(Exception):
    """The message cannot be built any more (its template or sender was removed)."""


def queue_send(
    queues: JobQueues,
    options: NotificationOptions,
    message: QueuedMessage,
    *,
    now: datetime,
    suffix: str = "",
    attempt: int = 0,
) -> str:
    """Hand a message to the send job, at its due time. Ids only; call after the commit.

    The job id names the message, the attempt and why it was queued, so queueing the same
    thing twice (a retried job, a sweep) keeps one job.
    """
    job_id = send_job_id(message.id, attempt, suffix)
    timeout = int(options.lease_seconds) + 5
    if message.not_before > now + DUE_SLACK:
        queues.enqueue(
            QUEUE,
            SEND_JOB,
            message.id,
            job_id=job_id,
            retry=None,
            timeout=timeout,
            at=message.not_before,
        )
    else:
        queues.enqueue(QUEUE, SEND_JOB, message.id, job_id=job_id, retry=None, timeout=timeout)
    return job_id


def send_job_id(message_id: int, attempt: int = 0, suffix: str = "") -> str:
    return f"notify-{message_id}-{attempt}{suffix}"


@dataclass
class Claim:
    """What an attempt took from the row: everything needed to send and record the outcome."""

    message_id: int
    attempt: int
    channel: str
    outgoing: Outgoing
    in_doubt: bool
    doubt_since: datetime | None


@dataclass
class Outcome:
    """What the attempt decided, and what to queue once it is committed."""

    result: str
    follow_ups: list[QueuedMessage]
    retry_at: datetime | None = None
    attempt: int = 0


def deliver(
    config: Config,
    db: Database,
    services: NotificationServices,
    message_id: int,
    *,
    claimed: Claim | Outcome | None = None,
) -> Outcome:
    """One attempt at one message: claim, (ask the provider if in doubt), send, record.

    ``claimed`` is what :func:`claim_in` already decided inside the caller's (committed)
    transaction; without it the attempt claims the message in a transaction of its own.
    """
    now = clock.now()
    claim_or_outcome = claimed
    if claim_or_outcome is None:
        with db.transaction() as session:
            claim_or_outcome = claim_in(session, config, services, message_id, now)
    if isinstance(claim_or_outcome, Outcome):
        return claim_or_outcome
    claim = claim_or_outcome
    transport = services.email if claim.channel == Channel.EMAIL else services.texts
    if claim.in_doubt and claim.doubt_since is not None:
        found = transport.find_accepted(claim.outgoing, claim.doubt_since)  # type: ignore[arg-type]
        if found is not None and not _taken_by_another(db, found, message_id):
            return _finish_sent(db, claim, found, recovered=True)
    try:
        accepted = transport.send(claim.outgoing)  # type: ignore[arg-type]
    except TransientSendError as exc:
        return _finish_transient(db, services, claim, exc)
    except PermanentSendError as exc:
        return _finish_permanent(db, services, claim, exc)
    except Exception as exc:  # a bug or an unforeseen client error: retry, bounded
        log.exception("message %s: unexpected error from %s", message_id, transport.name)
        return _finish_transient(
            db,
            services,
            claim,
            TransientSendError(f"unexpected error: {type(exc).__name__}"),
        )
    return _finish_sent(db, claim, accepted, recovered=False)


def _taken_by_another(db: Database, found: Accepted, message_id: int) -> bool:
    """True when the provider's message already belongs to another of our messages (two
    shipments of one order can produce identical texts)."""
    if not found.provider_id:
        return False
    with db.session() as session:
        owner = session.scalar(
            select(NotificationMessage.id).where(
                NotificationMessage.provider_id == found.provider_id,
                NotificationMessage.id != message_id,
            )
        )
    return owner is not None


# One round trip for the message, its shop, order, shipment and any opt-out; built once.
_CLAIM_QUERY = (
    select(
        NotificationMessage,
        Shop,
        Order,
        Shipment,
        select(NotificationSuppression.reason)
        .where(
            NotificationSuppression.shop_id == NotificationMessage.shop_id,
            NotificationSuppression.channel == NotificationMessage.channel,
            NotificationSuppression.address == NotificationMessage.recipient,
        )
        .limit(1)
        .scalar_subquery(),
    )
    .join(Shop, Shop.id == NotificationMessage.shop_id)
    .outerjoin(Order, Order.id == NotificationMessage.order_id)
    .outerjoin(Shipment, Shipment.id == NotificationMessage.shipment_id)
    .where(NotificationMessage.id == bindparam("message_id"))
    .with_for_update(of=NotificationMessage)
)


_SET_MESSAGE = update(NotificationMessage).where(NotificationMessage.id == bindparam("message_id"))


# --- claim -------------------------------------------------------------------------------


def claim_in(
    session: Session,
    config: Config,
    services: NotificationServices,
    message_id: int,
    now: datetime,
) -> Claim | Outcome:
    """Take a message for one attempt, in the caller's transaction, which must commit before
    the provider is called: a :class:`Claim` to send, or the :class:`Outcome` that settled
    it here (skipped, waiting, captured by the outbox...)."""
    options = services.options
    row = session.execute(_CLAIM_QUERY, {"message_id": message_id}).one_or_none()
    if row is None:
        return Outcome("unknown message", [])
    message, shop, order, shipment, suppressed = row
    if message.state in MessageState.FINAL:
        return Outcome(f"already {message.state}", [])
    in_doubt = message.in_doubt
    if message.state == MessageState.SENDING:
        lease = message.lease_until
        if lease is not None and lease > now:
            # Another attempt owns it (or died a moment ago): look again after its lease.
            return Outcome("in progress elsewhere", [], retry_at=lease, attempt=message.attempts)
        # The attempt that held it never came back: it may or may not have been accepted.
        in_doubt = True
    elif message.not_before > now + DUE_SLACK:
        return Outcome("not due yet", [], retry_at=message.not_before, attempt=message.attempts)
    settings = get_settings(session, shop.id)
    skip = _skip_reason(message, shop, order, shipment, suppressed)
    if skip is not None:
        _set_final(message, MessageState.SKIPPED, skip, now)
        return Outcome(f"skipped: {skip}", [])
    if (
        message.kind == MessageKind.MILESTONE
        and message.channel in PHONE_CHANNELS
        and order is not None
        and not in_doubt
    ):
        allowed = next_allowed(now, shopper_timezone(order, shop), settings.quiet_hours)
        if allowed > now + DUE_SLACK:
            message.state = MessageState.QUEUED
            message.not_before = allowed
            message.reason = "waiting for the end of quiet hours"
            return Outcome(
                "waiting for quiet hours to end", [], retry_at=allowed, attempt=message.attempts
            )
    # What is rendered is kept on the row (for the merchant and for support).
    record: dict[str, Any] = {}
    try:
        outgoing = _outgoing(
            config, options, session, message, shop, order, shipment, settings, record
        )
    except (Unsendable, TemplateRefused) as exc:
        _set_final(message, MessageState.FAILED, str(exc), now)
        return Outcome(f"failed: {exc}", [])
    attempt = message.attempts + 1
    transport = services.email if message.channel == Channel.EMAIL else services.texts
    capture = getattr(transport, "send_in_session", None)
    # The row is written with one statement, not through the ORM's change tracking:
    # this is the hot path of every message.
    connection = session.connection()
    if capture is not None:
        # A transport that writes to Relais' own database (the outbox) joins this
        # transaction: captured and marked sent together, nothing can be in doubt.
        accepted = capture(session, outgoing)
        connection.execute(
            _SET_MESSAGE,
            {
                "message_id": message.id,
                "state": MessageState.SENT,
                "attempts": attempt,
                "provider_id": accepted.provider_id,
                "sent_at": now,
                "reason": None,
                "lease_until": None,
                "in_doubt": False,
                "updated_at": now,
                **record,
            },
        )
        return Outcome("sent", [])
    started = message.attempt_started_at if in_doubt else now
    connection.execute(
        _SET_MESSAGE,
        {
            "message_id": message.id,
            "state": MessageState.SENDING,
            "attempts": attempt,
            "in_doubt": in_doubt,
            "lease_until": now + timedelta(seconds=options.lease_seconds),
            "attempt_started_at": started,
            "updated_at": now,
            **record,
        },
    )
    return Claim(
        message_id=message.id,
        attempt=attempt,
        channel=message.channel,
        outgoing=outgoing,
        in_doubt=in_doubt,
        doubt_since=message.attempt_started_at if in_doubt else None,
    )


def _skip_reason(
    message: NotificationMessage,
    shop: Shop,
    order: Order | None,
    shipment: Shipment | None,
    suppression: str | None,
) -> str | None:
    """Why a queued message should not leave any more (None: send it)."""
    if not shop.is_installed:
        return "the shop uninstalled Relais"
    if message.kind == MessageKind.FORWARD:
        return None if message.recipient else "no support email for this shop"
    if order is not None and order.redacted_at is not None:
        return "the shopper's data was erased"
    if not message.recipient:
        return "no recipient"
    if suppression is not None:
        return (
            "shopper replied STOP" if suppression == "stop" else f"address stopped: {suppression}"
        )
    if message.kind != MessageKind.MILESTONE or order is None or not message.milestone:
        return None
    milestone = Milestone(message.milestone)
    if order.cancelled_at is not None and milestone != Milestone.CANCELLED:
        return "the order was cancelled"
    if message.promotional:
        consent = (
            order.email_marketing_consent
            if message.channel == Channel.EMAIL
            else order.sms_marketing_consent
        )
        if not consent:
            return "promotional, and the marketing consent was withdrawn"
    if shipment is not None:
        try:
            current = Milestone(shipment.milestone)
        except ValueError:
            current = None
        newer = overtaken_by(milestone, message.milestone_at, current, shipment.milestone_at)
        if newer is not None:
            return f"overtaken by {newer.value}"
    elif milestone == Milestone.NOT_SHIPPED and order.shipments:
        return "overtaken by shipped"
    return None


# --- building what leaves ---------------------------------------------------------------


def _sender_email(
    options: NotificationOptions, settings: NotificationSettings, shop: Shop
) -> tuple[str, str, str | None]:
    from_email = settings.sender.from_email or options.from_email
    from_name = settings.sender.from_name or shop.name or shop.domain
    reply_to = (
        settings.sender.reply_to or (shop.settings or {}).get("support_email") or shop.contact_email
    )
    return from_email, from_name, reply_to


def support_inbox(settings: NotificationSettings, shop: Shop) -> str | None:
    """Where shoppers' replies reach the merchant."""
    return (
        settings.sender.reply_to or (shop.settings or {}).get("support_email") or shop.contact_email
    )


def _outgoing(
    config: Config,
    options: NotificationOptions,
    session: Session,
    message: NotificationMessage,
    shop: Shop,
    order: Order | None,
    shipment: Shipment | None,
    settings: NotificationSettings,
    record: dict[str, Any],
) -> Outgoing:
    """What leaves, built from the row; what was rendered goes into ``record``."""
    from_email, from_name, reply_to = _sender_email(options, settings, shop)
    tags = {"relais_message_id": str(message.id), "relais_shop": shop.domain}
    if message.kind == MessageKind.FORWARD:
        return _forward_email(config, message, shop, order, from_email, from_name, tags, record)
    if message.kind == MessageKind.ACKNOWLEDGEMENT:
        text = render_template(
            ACKNOWLEDGEMENT.get(message.locale) or ACKNOWLEDGEMENT["fr"],
            {"shop_name": shop.name or shop.domain},
            html=False,
        )
        record["body_text"] = text
        return OutgoingText(
            message_id=message.id,
            channel=message.channel,
            to=message.recipient or "",
            sender=_phone_sender(message.channel, options, settings),
            body=text,
            status_callback=_status_callback(config, message.id),
        )
    assert order is not None and message.milestone is not None
    milestone = Milestone(message.milestone)
    copy = effective_copy(session, shop.id, milestone, message.channel, message.locale)
    consent = (
        order.email_marketing_consent
        if message.channel == Channel.EMAIL
        else order.sms_marketing_consent
    )
    offer = settings.offer.get(message.locale) if consent else None
    context = message_context(
        config,
        shop,
        order,
        shipment,
        locale=message.locale,
        offer=offer,
        # Each link is signed for this message: an SMS gets the Wallet one only if it says it.
        wallet_button=milestone != Milestone.CANCELLED
        and (message.channel != Channel.SMS or "wallet_url" in copy.sms),
        origin=ClickOrigin(message.channel, milestone.value, message.id),
        ratings=_ratings(config, shop, order, shipment)
        if milestone == Milestone.FEEDBACK_REQUEST and message.channel == Channel.EMAIL
        else (),
    )
    if message.channel == Channel.EMAIL:
        email = render_email(copy.email, context, brand_color=settings.brand_color)
        record.update(subject=email.subject, body_text=email.text)
        return OutgoingEmail(
            message_id=message.id,
            to=message.recipient or "",
            from_email=from_email,
            from_name=from_name,
            reply_to=reply_to,
            subject=email.subject,
            html=email.html,
            text=email.text,
            categories=("relais", milestone.value, message.locale),
            custom_args={**tags, "relais_milestone": milestone.value},
        )
    if message.channel == Channel.SMS:
        sms = render_sms(copy.sms, context)
        record.update(body_text=sms.text, segments=sms.count.segments, encoding=sms.count.encoding)
        return OutgoingText(
            message_id=message.id,
            channel=message.channel,
            to=message.recipient or "",
            sender=_phone_sender(message.channel, options, settings),
            body=sms.text,
            status_callback=_status_callback(config, message.id),
        )
    template = settings.whatsapp_template(milestone, message.locale)
    if template is None:
        raise Unsendable("the approved WhatsApp template was removed from the settings")
    variables = whatsapp_variables(template.variables, context)
    record["body_text"] = fill_whatsapp(copy.whatsapp, variables)
    return OutgoingText(
        message_id=message.id,
        channel=message.channel,
        to=message.recipient or "",
        sender=_phone_sender(message.channel, options, settings),
        content_sid=template.content_sid,
        content_variables=variables,
        status_callback=_status_callback(config, message.id),
        preview=record["body_text"],
    )


def _ratings(
    config: Config, shop: Shop, order: Order, shipment: Shipment | None
) -> tuple[tuple[int, str], ...]:
    """The one-tap rating links of a feedback request email, on the shop's scale."""
    if shipment is None:
        return ()
    from plugin.insights.feedback import rating_links  # the insights package owns scales

    return tuple(rating_links(config, shop, order, shipment, channel=Channel.EMAIL.value))


def _forward_email(
    config: Config,
    message: NotificationMessage,
    shop: Shop,
    order: Order | None,
    from_email: str,
    from_name: str,
    tags: dict[str, str],
    record: dict[str, Any],
) -> OutgoingEmail:
    """A shopper's reply, forwarded to the merchant's support inbox with the order attached:
    its items, carrier and tracking number, and a button to its tracking page."""
    data = message.context or {}
    locale = message.locale
    labels = LAYOUT.get(locale) or LAYOUT["fr"]
    channel_label = labels["whatsapp"] if data.get("channel") == Channel.WHATSAPP else labels["sms"]
    extra = {
        "sender": str(data.get("from") or ""),
        "channel_label": channel_label,
        "shopper_message": str(data.get("body") or ""),
    }
    if order is not None:
        shipment = order.shipments[-1] if order.shipments else None
        context = message_context(config, shop, order, shipment, locale=locale, wallet_button=False)
        context = replace(context, extra=extra)
    else:
        context = MessageContext(
            locale=locale,
            shop_name=shop.name or shop.domain,
            order_name="",
            tracking_url=config.app_url,
            extra=extra,
        )
    copy = EmailCopy(
        subject=FORWARD_SUBJECT.get(locale) or FORWARD_SUBJECT["fr"],
        body=FORWARD_BODY.get(locale) or FORWARD_BODY["fr"],
        cta=labels["open_tracking"],
    )
    email = render_email(copy, context, audience="merchant")
    record.update(subject=email.subject, body_text=email.text)
    return OutgoingEmail(
        message_id=message.id,
        to=message.recipient or "",
        from_email=from_email,
        from_name=f"{from_name} (Relais)",
        # The merchant can answer by email when the order has an address.
        reply_to=order.email if order is not None and order.email else None,
        subject=email.subject,
        html=email.html,
        text=email.text,
        categories=("relais", "forward"),
        custom_args=tags,
    )


def _phone_sender(
    channel: str, options: NotificationOptions, settings: NotificationSettings
) -> str | None:
    if channel == Channel.WHATSAPP:
        return settings.sender.whatsapp_sender or options.whatsapp_sender
    return settings.sender.sms_sender or options.sms_sender


def _status_callback(config: Config, message_id: int) -> str:
    return f"{config.app_url}/notifications/twilio/status?m={message_id}"


# --- outcomes ----------------------------------------------------------------------------


def _set_final(message: NotificationMessage, state: str, reason: str | None, now: datetime) -> None:
    message.state = state
    message.reason = reason
    message.lease_until = None
    message.updated_at = now


def _owned(claim: Claim) -> Update:
    """The row as long as this attempt still owns it (nobody took over after its lease)."""
    return update(NotificationMessage).where(
        NotificationMessage.id == claim.message_id,
        NotificationMessage.state == MessageState.SENDING,
        NotificationMessage.attempts == claim.attempt,
    )


def _finish_sent(db: Database, claim: Claim, accepted: Accepted, *, recovered: bool) -> Outcome:
    now = clock.now()
    with db.write_connection() as connection:
        result = connection.execute(
            _owned(claim).values(
                state=MessageState.SENT,
                provider_id=accepted.provider_id,
                sent_at=now,
                reason="recovered: the provider had already accepted it" if recovered else None,
                lease_until=None,
                in_doubt=False,
                updated_at=now,
            )
        )
    if not result.rowcount:
        return Outcome("sent, but another attempt had taken over", [])
    return Outcome("recovered" if recovered else "sent", [])


def _finish_transient(
    db: Database,
    services: NotificationServices,
    claim: Claim,
    exc: TransientSendError,
) -> Outcome:
    now = clock.now()
    options = services.options
    if claim.attempt >= options.max_attempts:
        with db.write_connection() as connection:
            connection.execute(
                _owned(claim).values(
                    state=MessageState.FAILED,
                    reason=f"gave up after {claim.attempt} attempts: {exc.reason}",
                    lease_until=None,
                    updated_at=now,
                )
            )
        return Outcome(f"failed: {exc.reason}", [])
    wait = options.backoff(claim.attempt)
    if exc.retry_after is not None:
        wait = max(wait, exc.retry_after)
    wait *= random.uniform(1.0, 1.2)  # spread a burst of retries
    retry_at = now + timedelta(seconds=wait)
    with db.write_connection() as connection:
        result = connection.execute(
            _owned(claim).values(
                state=MessageState.QUEUED,
                not_before=retry_at,
                reason=f"retrying: {exc.reason}",
                lease_until=None,
                # Keep the start of the attempt that may have been accepted, to ask later.
                in_doubt=exc.maybe_accepted,
                updated_at=now,
            )
        )
    if not result.rowcount:
        return Outcome("transient error, but another attempt had taken over", [])
    return Outcome(
        f"retry at {retry_at.isoformat()}: {exc.reason}",
        [],
        retry_at=retry_at,
        attempt=claim.attempt,
    )


def _finish_permanent(
    db: Database,
    services: NotificationServices,
    claim: Claim,
    exc: PermanentSendError,
) -> Outcome:
    now = clock.now()
    follow_ups: list[QueuedMessage] = []
    with db.transaction() as session:
        result = session.connection().execute(
            _owned(claim).values(
                state=MessageState.FAILED, reason=exc.reason, lease_until=None, updated_at=now
            )
        )
        if not result.rowcount:
            return Outcome("failed, but another attempt had taken over", [])
        message = session.get(NotificationMessage, claim.message_id)
        assert message is not None
        if exc.unsubscribed and message.recipient:
            add_suppression(session, message.shop_id, message.channel, message.recipient, "stop")
        follow_ups = plan_fallback(session, message, wallet=services.wallet, now=now)
    return Outcome(f"failed: {exc.reason}", follow_ups)


def add_suppression(
    session: Session, shop_id: int, channel: str, address: str, reason: str
) -> bool:
    """Stop further messages from this shop to this address on this channel (True if new)."""
    created = insert_once(
        session,
        NotificationSuppression,
        {
            "shop_id": shop_id,
            "channel": channel,
            "address": address.lower() if channel == Channel.EMAIL else address,
            "reason": reason,
            "created_at": clock.now(),
        },
        conflict_columns=["shop_id", "channel", "address"],
    )
    return created is not None

"""Floor jobs for benchmarks/notifications_throughput.py --floors: not Relais code.

Each does only the database work its Relais job cannot avoid, in one SQLite transaction
on Relais' own engine, with SQLAlchemy Core (no ORM objects), and with the message already
written out (no policy, no consent or opt-out reads, no template, no signed links):

- ``floor_send(message_id)``: read the message with its shop, order and shipment (the
  claim's one read), capture it in the outbox, mark it sent, commit.
- ``floor_milestone(event_id)``: read the event with its shop and order, create the message
  row (created once, like Relais), capture it in the outbox, mark it sent, commit.

What is captured has the size of what Relais renders from its default French copy: an email
of about 6.4 KB of HTML and 1.2 KB of text, or an SMS of about 140 characters. The
benchmark prints the sizes the real jobs captured in the same run, to compare.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, insert, select, update

from plugin.models import DomainEvent, Order, Shipment, Shop
from plugin.notifications.models import NotificationMessage, OutboxEntry
from plugin.runtime import current_runtime
from plugin.upsert import insert_once

_PARAGRAPH = "<p>" + "Bonjour Camille, votre colis est en route vers Lyon. " * 17 + "</p>\n"
EMAIL_HTML = _PARAGRAPH * 7
EMAIL_TEXT = EMAIL_HTML[:1200]
EMAIL_SUBJECT = "Votre commande arrive aujourd'hui"
SMS_TEXT = (
    "Maison Lumière : votre commande #1042 arrive aujourd'hui. Suivi : "
    "https://relais.example/s/AbCdEfGhIjKlMnOpQrStUv0123456789 STOP au 36111"
)

_MESSAGE, _SHOP, _ORDER, _SHIPMENT = (
    NotificationMessage.__table__,
    Shop.__table__,
    Order.__table__,
    Shipment.__table__,
)
_CLAIM_READ = (
    select(_MESSAGE, _SHOP, _ORDER, _SHIPMENT)
    .select_from(
        _MESSAGE.join(_SHOP, _SHOP.c.id == _MESSAGE.c.shop_id)
        .outerjoin(_ORDER, _ORDER.c.id == _MESSAGE.c.order_id)
        .outerjoin(_SHIPMENT, _SHIPMENT.c.id == _MESSAGE.c.shipment_id)
    )
    .where(_MESSAGE.c.id == bindparam("message_id"))
)
_EVENT_READ = (
    select(DomainEvent.__table__, _SHOP, _ORDER)
    .select_from(
        DomainEvent.__table__.join(_SHOP, _SHOP.c.id == DomainEvent.shop_id).join(
            _ORDER, _ORDER.c.id == DomainEvent.order_id
        )
    )
    .where(DomainEvent.id == bindparam("event_id"))
)
_CAPTURE = insert(OutboxEntry)
_MARK_SENT = update(NotificationMessage).where(NotificationMessage.id == bindparam("message_id"))


def floor_send(message_id: int) -> str:
    """The least a send job writes: one read, the outbox row, the message marked sent."""
    db = current_runtime().db
    now = datetime.now(UTC)
    with db.transaction() as session:
        connection = session.connection()
        row = connection.execute(_CLAIM_READ, {"message_id": message_id}).one()
        _capture_and_mark(connection, message_id, row.channel, row.recipient, now)
    return "sent"


def floor_milestone(event_id: int) -> str:
    """The least a milestone job writes: one read, the message created, captured, marked."""
    db = current_runtime().db
    now = datetime.now(UTC)
    # Half emails, half SMS: fewer emails than the real run's policy picks, so this floor is
    # if anything below the real one.
    channel = "email" if event_id % 2 else "sms"
    with db.transaction() as session:
        connection = session.connection()
        event = connection.execute(_EVENT_READ, {"event_id": event_id}).one()
        recipient = event.email if channel == "email" else event.phone
        message_id = insert_once(
            connection,
            NotificationMessage,
            {
                "shop_id": event.shop_id,
                "order_id": event.order_id,
                "shipment_id": event.shipment_id,
                "event_id": event_id,
                "dedupe_key": f"floor:{event_id}",
                "kind": "milestone",
                "milestone": event.milestone,
                "milestone_at": event.happened_at,
                "channel": channel,
                "locale": "fr",
                "recipient": recipient,
                "promotional": False,
                "state": "queued",
                "reason": None,
                "not_before": now,
                "attempts": 0,
                "in_doubt": False,
                "created_at": now,
                "updated_at": now,
            },
            conflict_columns=["dedupe_key"],
        )
        if message_id is None:
            return "already planned"
        _capture_and_mark(connection, message_id, channel, recipient, now)
    return "sent"


def _capture_and_mark(
    connection: Connection, message_id: int, channel: str, recipient: str, now: datetime
) -> None:
    email = channel == "email"
    provider_id = f"outbox-floor-{message_id}"
    subject = EMAIL_SUBJECT if email else None
    text = EMAIL_TEXT if email else SMS_TEXT
    connection.execute(
        _CAPTURE,
        {
            "provider_id": provider_id,
            "message_id": message_id,
            "channel": channel,
            "recipient": recipient,
            "sender": "Maison Lumière <bonjour@maison-lumiere.fr>" if email else "Relais",
            "subject": subject,
            "text": text,
            "html": EMAIL_HTML if email else None,
            "meta": {},
            "created_at": now,
        },
    )
    connection.execute(
        _MARK_SENT,
        {
            "message_id": message_id,
            "state": "sent",
            "attempts": 1,
            "provider_id": provider_id,
            "sent_at": now,
            "subject": subject,
            "body_text": text,
            "lease_until": None,
            "updated_at": now,
        },
    )

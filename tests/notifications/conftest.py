"""Fixtures of the notification tests: provider stand-ins, a clock, signed callbacks, and a
small story builder over the real webhook intake."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from plugin.notifications import clock
from plugin.notifications.models import NotificationMessage, OutboxEntry
from plugin.notifications.services import build_services, install_services
from plugin.shopify_payloads import (
    Item,
    Shopper,
    fulfillment_event_payload,
    fulfillment_payload,
    next_id,
    order_payload,
)
from tests.standins import sendgrid_server, twilio_server

# A Tuesday morning in Paris, no public holiday: phones may buzz. In the future, so that
# RQ's scheduler (on the real clock) leaves jobs scheduled for "tomorrow morning" alone.
PARIS = ZoneInfo("Europe/Paris")
TUESDAY_10H_PARIS = datetime(2031, 3, 4, 10, 0, tzinfo=PARIS).astimezone(UTC)


def paris(days: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A time in Paris, ``days`` after that Tuesday, in UTC."""
    day = TUESDAY_10H_PARIS.astimezone(PARIS).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=PARIS).astimezone(
        UTC
    )


@pytest.fixture(scope="session")
def sendgrid_keys() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """An Event Webhook key pair: the private half signs, the public half goes in settings."""
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(public).decode()


@pytest.fixture
def config(config, sendgrid_keys):  # type: ignore[no-untyped-def]
    """The shared test config, with Twilio credentials (to sign callbacks) and SendGrid's
    Event Webhook key; transports stay the outbox unless a test asks for the stand-ins."""
    return config.with_overrides(
        twilio_account_sid=twilio_server.ACCOUNT_SID,
        twilio_auth_token=twilio_server.AUTH_TOKEN,
        sendgrid_webhook_public_key=sendgrid_keys[1],
        twilio_sms_from="MaisonLum",
        twilio_whatsapp_from="+14155238886",
    )


@pytest.fixture
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Set the time notifications decide with (quiet hours, due times)."""

    def set_now(when: datetime) -> None:
        monkeypatch.setattr(clock, "now", lambda: when)

    set_now(TUESDAY_10H_PARIS)
    return set_now


@pytest.fixture
def providers(app, runtime, config) -> Iterator[tuple[Any, Any]]:  # type: ignore[no-untyped-def]
    """SendGrid and Twilio stand-ins, with the app's transports pointed at them."""
    with sendgrid_server.sendgrid_standin() as sendgrid, twilio_server.twilio_standin() as twilio:
        pointed = config.with_overrides(
            email_backend="sendgrid",
            sendgrid_api_key=sendgrid_server.API_KEY,
            sendgrid_host=sendgrid.url,
            sms_backend="twilio",
            twilio_base_url=twilio.url,
            notifications_send_timeout=2.0,
            notifications_lease_seconds=5.0,
        )
        install_services(app, build_services(dataclasses.replace(runtime, config=pointed)))
        yield sendgrid, twilio


def twilio_post(client, config, path: str, form: dict[str, str]):  # type: ignore[no-untyped-def]
    """POST a form as Twilio does, signed with the auth token."""
    url = config.app_url + path
    signature = RequestValidator(config.twilio_auth_token).compute_signature(url, form)
    return client.post(
        path,
        data=urlencode(form),
        headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )


def sendgrid_post(client, private_key, events: list[dict[str, Any]], *, tamper: bool = False):  # type: ignore[no-untyped-def]
    """POST events as SendGrid's signed Event Webhook does (ECDSA P-256 over ts + body)."""
    body = json.dumps(events)
    timestamp = str(int(datetime.now(UTC).timestamp()))
    signature = private_key.sign((timestamp + body).encode(), ec.ECDSA(hashes.SHA256()))
    sent = body.replace("delivered", "open") if tamper else body
    return client.post(
        "/notifications/sendgrid/events",
        data=sent,
        headers={
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        },
    )


@dataclasses.dataclass
class Story:
    """Builds one order's webhooks and posts them through the real intake."""

    post_webhook: Callable[..., Any]
    shopper: Shopper
    number: int
    start: datetime
    order_id: int = dataclasses.field(default_factory=next_id)
    items: list[Item] = dataclasses.field(
        default_factory=lambda: [Item("Bougie parfumée", "32.00")]
    )
    pickup: dict[str, str] | None = None

    def ordered(self) -> None:
        self._post(
            "orders/create",
            order_payload(
                order_id=self.order_id,
                number=self.number,
                shopper=self.shopper,
                items=self.items,
                created_at=self.start,
                pickup=self.pickup,
            ),
        )

    def shipped(self, hours: float = 5, fulfillment_id: int | None = None) -> int:
        fulfillment_id = fulfillment_id or next_id()
        self._post(
            "fulfillments/create",
            fulfillment_payload(
                fulfillment_id=fulfillment_id,
                order_id=self.order_id,
                name=f"#{self.number}.1",
                items=self.items,
                created_at=self.start + timedelta(hours=hours),
            ),
        )
        return fulfillment_id

    def event(self, fulfillment_id: int, status: str, hours: float, **extra: Any) -> None:
        self._post(
            "fulfillment_events/create",
            fulfillment_event_payload(
                event_id=next_id(),
                fulfillment_id=fulfillment_id,
                order_id=self.order_id,
                status=status,
                happened_at=self.start + timedelta(hours=hours),
                city="Lyon",
                **extra,
            ),
        )

    def _post(self, topic: str, payload: dict[str, Any]) -> None:
        response = self.post_webhook(topic, payload)
        assert response.status_code == 200, response.get_json()


@pytest.fixture
def story(post_webhook, shop) -> Callable[..., Story]:  # type: ignore[no-untyped-def]
    start = TUESDAY_10H_PARIS - timedelta(days=2)

    def make(shopper: Shopper, number: int, **kwargs: Any) -> Story:
        return Story(post_webhook, shopper, number, start, **kwargs)

    return make


CAMILLE = Shopper(
    "Camille",
    "Martin",
    "camille.martin@example.fr",
    "+33612345678",
    "Lyon",
    "69003",
    "FR",
    "fr",
    sms_consent=True,
)
EMMA = Shopper(
    "Emma", "Wilson", "emma.wilson@example.com", "+447700900123", "Paris", "75011", "FR", "en"
)


def messages(runtime) -> list[NotificationMessage]:  # type: ignore[no-untyped-def]
    with runtime.db.session() as session:
        return list(session.scalars(select(NotificationMessage).order_by(NotificationMessage.id)))


def outbox(runtime) -> list[OutboxEntry]:  # type: ignore[no-untyped-def]
    with runtime.db.session() as session:
        return list(session.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))

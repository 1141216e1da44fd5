"""The official clients (sendgrid, twilio, smtplib) against local stand-ins of their servers."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest

from plugin.notifications.transports import (
    OutgoingEmail,
    OutgoingText,
    PermanentSendError,
    TransientSendError,
)
from plugin.notifications.transports.outbox import OutboxEmailTransport, OutboxTextTransport
from plugin.notifications.transports.sendgrid import SendGridTransport
from plugin.notifications.transports.smtp import SmtpTransport
from plugin.notifications.transports.twilio import TwilioTransport
from tests.standins import sendgrid_server, twilio_server
from tests.standins.http_recorder import Answer
from tests.standins.smtp_server import SmtpStandIn

EMAIL = OutgoingEmail(
    message_id=42,
    to="camille.martin@example.fr",
    from_email="notifications@relais.test",
    from_name="Maison Lumière",
    reply_to="bonjour@maison-lumiere.fr",
    subject="Votre colis est en route",
    html="<p>Bonjour Camille</p>",
    text="Bonjour Camille",
    categories=("relais", "shipped"),
    custom_args={"relais_message_id": "42", "relais_shop": "demo-shop.myshopify.com"},
)
SMS = OutgoingText(
    message_id=7,
    channel="sms",
    to="+33612345678",
    sender="MaisonLum",
    body="Maison Lumière : votre colis arrive aujourd'hui. Répondez STOP pour arrêter",
    status_callback="https://relais.test/notifications/twilio/status?m=7",
)


@pytest.fixture
def sendgrid():
    with sendgrid_server.sendgrid_standin() as server:
        yield server


@pytest.fixture
def twilio():
    with twilio_server.twilio_standin() as server:
        yield server


def sendgrid_transport(server, timeout: float = 5.0) -> SendGridTransport:
    return SendGridTransport(sendgrid_server.API_KEY, host=server.url, timeout=timeout)


def twilio_transport(server, timeout: float = 5.0) -> TwilioTransport:
    return TwilioTransport(
        twilio_server.ACCOUNT_SID, twilio_server.AUTH_TOKEN, base_url=server.url, timeout=timeout
    )


# --- SendGrid ----------------------------------------------------------------------------


def test_sendgrid_202_returns_the_message_id_and_sends_v3_body(sendgrid):
    accepted = sendgrid_transport(sendgrid).send(EMAIL)
    assert accepted.provider_id and len(accepted.provider_id) == 22
    (request,) = sendgrid.posts("/v3/mail/send")
    body = request.json()
    assert request.headers["Authorization"] == f"Bearer {sendgrid_server.API_KEY}"
    assert body["personalizations"][0]["to"] == [{"email": "camille.martin@example.fr"}]
    assert body["from"] == {"email": "notifications@relais.test", "name": "Maison Lumière"}
    assert body["reply_to"] == {"email": "bonjour@maison-lumiere.fr"}
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert sorted(body["categories"]) == ["relais", "shipped"]
    assert body["custom_args"] == {
        "relais_message_id": "42",
        "relais_shop": "demo-shop.myshopify.com",
    }


def test_sendgrid_400_is_permanent_with_sendgrids_reason(sendgrid):
    bad = OutgoingEmail(**{**EMAIL.__dict__, "to": "camille@localhost"})
    with pytest.raises(PermanentSendError) as caught:
        sendgrid_transport(sendgrid).send(bad)
    assert caught.value.code == "400"
    assert "valid address" in caught.value.reason


def test_sendgrid_wrong_key_is_permanent(sendgrid):
    transport = SendGridTransport("SG.wrong", host=sendgrid.url, timeout=5)
    with pytest.raises(PermanentSendError) as caught:
        transport.send(EMAIL)
    assert caught.value.code == "401"


def test_sendgrid_429_is_transient_with_retry_after(sendgrid):
    sendgrid.script(
        Answer(429, {"errors": [{"message": "too many requests"}]}, headers={"Retry-After": "17"})
    )
    with pytest.raises(TransientSendError) as caught:
        sendgrid_transport(sendgrid).send(EMAIL)
    assert caught.value.retry_after == 17
    assert not caught.value.maybe_accepted


def test_sendgrid_500_is_transient(sendgrid):
    sendgrid.script(Answer(500, {"errors": [{"message": "internal"}]}))
    with pytest.raises(TransientSendError) as caught:
        sendgrid_transport(sendgrid).send(EMAIL)
    assert caught.value.code == "500"
    assert caught.value.retry_after is None


def test_sendgrid_slow_answer_times_out_and_may_have_been_accepted(sendgrid):
    sendgrid.script(Answer(202, delay=3))
    started = time.monotonic()
    with pytest.raises(TransientSendError) as caught:
        sendgrid_transport(sendgrid, timeout=0.5).send(EMAIL)
    assert time.monotonic() - started < 2
    assert caught.value.maybe_accepted


def test_sendgrid_unreachable_is_transient_and_not_accepted():
    with sendgrid_server.sendgrid_standin() as server:
        url = server.url
    transport = SendGridTransport(sendgrid_server.API_KEY, host=url, timeout=1)
    with pytest.raises(TransientSendError) as caught:
        transport.send(EMAIL)
    assert not caught.value.maybe_accepted


# --- Twilio ------------------------------------------------------------------------------


def test_twilio_201_sms_returns_the_sid(twilio):
    accepted = twilio_transport(twilio).send(SMS)
    assert accepted.provider_id and accepted.provider_id.startswith("SM")
    (request,) = twilio.posts("/Messages.json")
    form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
    assert request.path == f"/2010-04-01/Accounts/{twilio_server.ACCOUNT_SID}/Messages.json"
    assert form["To"] == "+33612345678"
    assert form["From"] == "MaisonLum"
    assert form["Body"] == SMS.body
    assert form["StatusCallback"] == SMS.status_callback


def test_twilio_messaging_service_sender(twilio):
    text = OutgoingText(**{**SMS.__dict__, "sender": "MG" + "1" * 32})
    twilio_transport(twilio).send(text)
    form = twilio.state.sent_forms()[0]
    assert form["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in form


def test_twilio_whatsapp_uses_the_approved_template(twilio):
    text = OutgoingText(
        message_id=8,
        channel="whatsapp",
        to="+33612345678",
        sender="+14155238886",
        content_sid="HX" + "a" * 32,
        content_variables={"1": "Camille", "2": "#1001"},
    )
    twilio_transport(twilio).send(text)
    form = twilio.state.sent_forms()[0]
    assert form["To"] == "whatsapp:+33612345678"
    assert form["From"] == "whatsapp:+14155238886"
    assert form["ContentSid"] == "HX" + "a" * 32
    assert json.loads(form["ContentVariables"]) == {"1": "Camille", "2": "#1001"}
    assert "Body" not in form


def test_twilio_invalid_number_is_permanent(twilio):
    text = OutgoingText(**{**SMS.__dict__, "to": "+33"})
    with pytest.raises(PermanentSendError) as caught:
        twilio_transport(twilio).send(text)
    assert caught.value.code == "21211"
    assert "invalid number" in caught.value.reason


def test_twilio_unsubscribed_number_is_permanent_and_flagged(twilio):
    twilio.state.opted_out.add("+33612345678")
    with pytest.raises(PermanentSendError) as caught:
        twilio_transport(twilio).send(SMS)
    assert caught.value.unsubscribed
    assert caught.value.code == "21610"


def test_twilio_429_is_transient_with_retry_after(twilio):
    twilio.script(
        Answer(
            429,
            {"code": 20429, "message": "Too Many Requests", "status": 429},
            headers={"Retry-After": "30"},
        )
    )
    with pytest.raises(TransientSendError) as caught:
        twilio_transport(twilio).send(SMS)
    assert caught.value.retry_after == 30
    assert twilio.state.messages == []


def test_twilio_500_is_transient(twilio):
    twilio.script(Answer(500, {"code": 20500, "message": "Internal Server Error", "status": 500}))
    with pytest.raises(TransientSendError):
        twilio_transport(twilio).send(SMS)


def test_twilio_slow_answer_times_out_then_the_message_is_found(twilio):
    twilio.script(Answer(201, delay=3))
    transport = twilio_transport(twilio, timeout=0.5)
    since = datetime.now(UTC)
    started = time.monotonic()
    with pytest.raises(TransientSendError) as caught:
        transport.send(SMS)
    assert time.monotonic() - started < 2
    assert caught.value.maybe_accepted
    # The stand-in accepted it before stalling: asking Twilio finds it, no second send.
    found = transport.find_accepted(SMS, since)
    assert found is not None and found.provider_id == twilio.state.messages[0]["sid"]
    other = OutgoingText(**{**SMS.__dict__, "body": "something else"})
    assert transport.find_accepted(other, since) is None
    assert transport.find_accepted(SMS, since + timedelta(minutes=5)) is None


# --- SMTP --------------------------------------------------------------------------------


def test_smtp_sends_both_parts_with_reply_to():
    with SmtpStandIn() as server:
        accepted = SmtpTransport(server.url, timeout=5).send(EMAIL)
        (message,) = server.state.messages
    assert accepted.provider_id and "relais42" in accepted.provider_id
    assert message["Reply-To"] == "bonjour@maison-lumiere.fr"
    assert message["X-Relais-Message-Id"] == "42"
    assert message.get_body(("plain",)).get_content().strip() == "Bonjour Camille"
    assert "<p>Bonjour Camille</p>" in message.get_body(("html",)).get_content()


def test_smtp_refusals_are_classified():
    with SmtpStandIn() as server:
        server.state.refuse[EMAIL.to] = 550
        with pytest.raises(PermanentSendError):
            SmtpTransport(server.url, timeout=5).send(EMAIL)
        server.state.refuse[EMAIL.to] = 451
        with pytest.raises(TransientSendError):
            SmtpTransport(server.url, timeout=5).send(EMAIL)


def test_smtp_unreachable_is_transient():
    with SmtpStandIn() as server:
        url = server.url
    with pytest.raises(TransientSendError):
        SmtpTransport(url, timeout=1).send(EMAIL)


# --- Outbox ------------------------------------------------------------------------------


def test_outbox_stores_and_finds(runtime):
    email_box, text_box = OutboxEmailTransport(runtime.db), OutboxTextTransport(runtime.db)
    since = datetime.now(UTC)
    assert email_box.find_accepted(EMAIL, since) is None
    accepted = email_box.send(EMAIL)
    assert email_box.find_accepted(EMAIL, since) == accepted
    assert text_box.send(SMS).provider_id.startswith("outbox-")

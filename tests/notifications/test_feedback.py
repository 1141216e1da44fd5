"""Provider callbacks and shopper replies: SendGrid's signed events, Twilio's status
callbacks and inbound messages, all through the real routes with real signatures."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from plugin.notifications import jobs
from plugin.notifications.models import (
    MessageKind,
    MessageState,
    NotificationMessage,
    NotificationSuppression,
)
from tests.notifications.conftest import (
    CAMILLE,
    EMMA,
    TUESDAY_10H_PARIS,
    messages,
    outbox,
    sendgrid_post,
    twilio_post,
)


def _shipped(story, run_jobs, shopper=CAMILLE, number=1001):  # type: ignore[no-untyped-def]
    s = story(shopper, number)
    s.ordered()
    fulfillment = s.shipped()
    run_jobs()
    return s, fulfillment


# --- SendGrid ----------------------------------------------------------------------------


def test_signed_events_update_the_message(
    client, story, run_jobs, runtime, frozen_now, sendgrid_keys
):
    _shipped(story, run_jobs)
    (email,) = messages(runtime)
    base = {
        "email": "camille.martin@example.fr",
        "relais_message_id": str(email.id),
        "relais_shop": "demo-shop.myshopify.com",
        "sg_message_id": "abc123.filter0001",
    }
    events = [
        {**base, "event": "processed", "timestamp": 1_900_000_000, "sg_event_id": "e1"},
        {**base, "event": "delivered", "timestamp": 1_900_000_005, "sg_event_id": "e2"},
        {**base, "event": "click", "timestamp": 1_900_000_100, "sg_event_id": "e4"},
        # Out of order: an open after the click does not move the status back.
        {**base, "event": "open", "timestamp": 1_900_000_050, "sg_event_id": "e3"},
    ]
    response = sendgrid_post(client, sendgrid_keys[0], events)
    assert response.status_code == 204
    (email,) = messages(runtime)
    assert email.delivery_status == "clicked"
    assert email.state == MessageState.SENT


def test_unsigned_or_tampered_events_are_refused(
    client, story, run_jobs, runtime, frozen_now, sendgrid_keys
):
    _shipped(story, run_jobs)
    (email,) = messages(runtime)
    event = {
        "email": "camille.martin@example.fr",
        "relais_message_id": str(email.id),
        "event": "delivered",
        "timestamp": 1_900_000_000,
    }
    assert sendgrid_post(client, sendgrid_keys[0], [event], tamper=True).status_code == 403
    bare = client.post("/notifications/sendgrid/events", json=[event])
    assert bare.status_code == 403
    from cryptography.hazmat.primitives.asymmetric import ec

    stranger = ec.generate_private_key(ec.SECP256R1())
    assert sendgrid_post(client, stranger, [event]).status_code == 403
    (email,) = messages(runtime)
    assert email.delivery_status is None


def test_bounce_and_spam_report_stop_further_email(
    client, story, run_jobs, runtime, frozen_now, sendgrid_keys, shop
):
    _shipped(story, run_jobs)
    emma, emma_fulfillment = _shipped(story, run_jobs, EMMA, 1002)
    first, second = messages(runtime)
    response = sendgrid_post(
        client,
        sendgrid_keys[0],
        [
            {
                "email": "Camille.Martin@example.fr",
                "event": "bounce",
                "type": "bounce",
                "reason": "550 5.1.1 unknown user",
                "relais_message_id": str(first.id),
                "timestamp": 1_900_000_000,
            },
            {
                "email": "emma.wilson@example.com",
                "event": "spamreport",
                "relais_message_id": str(second.id),
                "timestamp": 1_900_000_000,
            },
        ],
    )
    assert response.status_code == 204
    with runtime.db.session() as session:
        stopped = sorted(
            session.execute(
                select(NotificationSuppression.address, NotificationSuppression.reason)
            ).all()
        )
    assert stopped == [
        ("camille.martin@example.fr", "bounce"),
        ("emma.wilson@example.com", "spam_report"),
    ]
    sent_before = len(outbox(runtime))
    emma.event(emma_fulfillment, "delivered", 50)  # Emma has no SMS consent: email only
    run_jobs()
    delivered = [m for m in messages(runtime) if m.milestone == "delivered"]
    assert [(m.channel, m.state) for m in delivered] == [("email", "skipped")]
    assert "email stopped: spam_report" in (delivered[0].reason or "")
    assert len(outbox(runtime)) == sent_before
    assert messages(runtime)[0].delivery_status == "bounced"


def test_a_processed_event_settles_a_message_whose_sender_died(
    client, story, run_jobs, runtime, frozen_now, sendgrid_keys
):
    _shipped(story, run_jobs)
    (email,) = messages(runtime)
    with runtime.db.transaction() as session:
        row = session.get(NotificationMessage, email.id)
        row.state, row.provider_id, row.sent_at = MessageState.SENDING, None, None
    sendgrid_post(
        client,
        sendgrid_keys[0],
        [
            {
                "email": "camille.martin@example.fr",
                "event": "processed",
                "timestamp": 1_900_000_000,
                "relais_message_id": str(email.id),
                "sg_message_id": "XYZ987.filter",
            }
        ],
    )
    (email,) = messages(runtime)
    assert (email.state, email.provider_id) == (MessageState.SENT, "XYZ987")


# --- Twilio status callbacks -------------------------------------------------------------


def _sms(story, run_jobs, runtime):  # type: ignore[no-untyped-def]
    camille, fulfillment = _shipped(story, run_jobs)
    camille.event(fulfillment, "out_for_delivery", 40)
    run_jobs()
    return next(m for m in messages(runtime) if m.channel == "sms")


def test_status_callbacks_update_the_sms(client, config, story, run_jobs, runtime, frozen_now):
    sms = _sms(story, run_jobs, runtime)
    path = f"/notifications/twilio/status?m={sms.id}"
    for status in ("sent", "delivered", "sent"):
        response = twilio_post(
            client,
            config,
            path,
            {
                "MessageSid": sms.provider_id,
                "MessageStatus": status,
                "AccountSid": config.twilio_account_sid,
            },
        )
        assert response.status_code == 204
    (sms,) = [m for m in messages(runtime) if m.channel == "sms"]
    assert sms.delivery_status == "delivered"


def test_undelivered_sms_falls_back_to_email(client, config, story, run_jobs, runtime, frozen_now):
    sms = _sms(story, run_jobs, runtime)
    twilio_post(
        client,
        config,
        f"/notifications/twilio/status?m={sms.id}",
        {
            "MessageSid": sms.provider_id,
            "MessageStatus": "undelivered",
            "ErrorCode": "30003",
        },
    )
    run_jobs()
    urgent = [
        (m.channel, m.state, m.delivery_status)
        for m in messages(runtime)
        if m.milestone == "out_for_delivery"
    ]
    assert urgent == [("sms", "sent", "undelivered"), ("email", "sent", None)]
    sms = next(m for m in messages(runtime) if m.channel == "sms")
    assert sms.reason == "not delivered: Twilio error 30003"


def test_status_callbacks_must_be_signed_and_match(
    client, config, story, run_jobs, runtime, frozen_now
):
    sms = _sms(story, run_jobs, runtime)
    unsigned = client.post(
        f"/notifications/twilio/status?m={sms.id}",
        data={"MessageSid": sms.provider_id, "MessageStatus": "failed"},
    )
    assert unsigned.status_code == 403
    # Signed, but naming a message with another provider id: ignored.
    twilio_post(
        client,
        config,
        f"/notifications/twilio/status?m={sms.id}",
        {
            "MessageSid": "SM" + "f" * 32,
            "MessageStatus": "failed",
        },
    )
    sms = next(m for m in messages(runtime) if m.channel == "sms")
    assert sms.delivery_status is None


# --- inbound -----------------------------------------------------------------------------


def test_a_reply_is_forwarded_to_the_merchant_and_acknowledged(
    client, config, story, run_jobs, runtime, frozen_now
):
    _sms(story, run_jobs, runtime)
    form = {
        "MessageSid": "SM" + "a" * 32,
        "From": "+33612345678",
        "To": "+15005550006",
        "Body": "Bonjour, je ne serai pas là demain, pouvez-vous le laisser au gardien ?",
    }
    for _ in range(2):  # Twilio retries a webhook that timed out: one forward, one answer
        response = twilio_post(client, config, "/notifications/twilio/inbound", form)
        assert response.status_code == 200
    run_jobs()
    replies = [m for m in messages(runtime) if m.kind != MessageKind.MILESTONE]
    assert [(m.kind, m.channel, m.recipient, m.state) for m in replies] == [
        ("forward", "email", "bonjour@maison-lumiere.fr", "sent"),
        ("ack", "sms", "+33612345678", "sent"),
    ]
    captured = {e.message_id: e for e in outbox(runtime)}
    forward, ack = captured[replies[0].id], captured[replies[1].id]
    assert forward.subject == "Message de +33612345678 à propos de #1001"
    assert "pouvez-vous le laisser au gardien" in forward.text
    assert "Bougie parfumée" in forward.text  # the order is attached
    assert "Colissimo" in forward.text and "6A12345678901" in forward.text
    assert forward.meta["reply_to"] == "camille.martin@example.fr"
    assert "pouvez-vous le laisser au gardien" in forward.html
    assert ack.text == (
        "Maison Lumière : merci pour votre message ! Nous vous répondons au plus vite."
    )


def test_whatsapp_replies_are_acknowledged_on_whatsapp(
    client, config, story, run_jobs, runtime, frozen_now
):
    _sms(story, run_jobs, runtime)
    twilio_post(
        client,
        config,
        "/notifications/twilio/inbound",
        {
            "MessageSid": "SM" + "b" * 32,
            "From": "whatsapp:+33612345678",
            "To": "whatsapp:+14155238886",
            "Body": "Merci !",
        },
    )
    run_jobs()
    ack = [m for m in messages(runtime) if m.kind == MessageKind.ACKNOWLEDGEMENT]
    assert [(m.channel, m.state) for m in ack] == [("whatsapp", "sent")]


def test_inbound_must_be_signed_and_unknown_numbers_are_ignored(
    client, config, story, run_jobs, runtime, frozen_now
):
    _sms(story, run_jobs, runtime)
    before = len(messages(runtime))
    assert (
        client.post(
            "/notifications/twilio/inbound",
            data={"MessageSid": "SM1", "From": "+33612345678", "Body": "STOP"},
        ).status_code
        == 403
    )
    twilio_post(
        client,
        config,
        "/notifications/twilio/inbound",
        {"MessageSid": "SM" + "c" * 32, "From": "+33699999999", "Body": "Qui êtes-vous ?"},
    )
    assert len(messages(runtime)) == before
    with runtime.db.session() as session:
        assert session.scalar(select(NotificationSuppression)) is None


def test_stop_on_the_provider_side_is_remembered_from_the_callback(
    client, config, story, run_jobs, runtime, frozen_now
):
    sms = _sms(story, run_jobs, runtime)
    twilio_post(
        client,
        config,
        f"/notifications/twilio/status?m={sms.id}",
        {
            "MessageSid": sms.provider_id,
            "MessageStatus": "failed",
            "ErrorCode": "21610",
        },
    )
    with runtime.db.session() as session:
        (stop,) = session.scalars(select(NotificationSuppression)).all()
    assert (stop.channel, stop.address, stop.reason) == ("sms", "+33612345678", "stop")


def test_the_sweeper_requeues_a_lost_job(app, story, run_jobs, runtime, frozen_now, redis):
    _shipped(story, run_jobs)
    (email,) = messages(runtime)
    with runtime.db.transaction() as session:
        row = session.get(NotificationMessage, email.id)
        row.state, row.sent_at = MessageState.QUEUED, None
    redis.flushdb()  # the job is gone (Redis lost it, or a crash came before the enqueue)
    frozen_now(TUESDAY_10H_PARIS + timedelta(minutes=3))
    assert jobs.sweep() == {"overdue": 1, "abandoned": 0, "queued": 1}
    assert jobs.sweep()["queued"] == 0  # already waiting: not queued twice
    run_jobs()
    (email,) = messages(runtime)
    assert email.state == MessageState.SENT

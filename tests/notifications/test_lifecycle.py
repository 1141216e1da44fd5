"""Whole stories through the real webhook intake, the jobs, and the provider stand-ins."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from plugin.links import click_link, read_click_token, tracking_link, wallet_pass_link
from plugin.milestones import Milestone
from plugin.models import DomainEvent, Shop
from plugin.notifications import jobs
from plugin.notifications.channels import Channel
from plugin.notifications.models import MessageState, NotificationMessage
from plugin.notifications.records import messages_needing_attention
from plugin.notifications.settings import (
    DEFAULT_SETTINGS,
    MilestoneRule,
    QuietHours,
    WhatsAppTemplate,
    save_settings,
)
from plugin.shopify_payloads import Shopper
from tests.conftest import DEMO_SHOP
from tests.notifications.conftest import (
    CAMILLE,
    EMMA,
    TUESDAY_10H_PARIS,
    messages,
    paris,
    twilio_post,
)
from tests.standins.http_recorder import Answer

LOUIS = Shopper(
    "Louis",
    "Bernard",
    "louis.bernard@example.fr",
    "06 98 76 54 32",
    "Nantes",
    "44000",
    "FR",
    "fr",
    sms_consent=True,
)
WHATSAPP_SID = "HX" + "b" * 32


def summary(runtime) -> list[tuple[str, str, str, str, str]]:  # type: ignore[no-untyped-def]
    from plugin.models import Order

    with runtime.db.session() as session:
        names = dict(session.execute(select(Order.id, Order.name)).all())
    return [
        (names[m.order_id], m.milestone or m.kind, m.channel, m.locale, m.state)
        for m in messages(runtime)
    ]


def sms_bodies(twilio) -> list[str]:  # type: ignore[no-untyped-def]
    return [f["Body"] for f in twilio.state.sent_forms() if "Body" in f]


def sent_emails(sendgrid) -> list[dict]:  # type: ignore[no-untyped-def]
    return [r.json() for r in sendgrid.posts("/v3/mail/send")]


def test_full_lifecycle_yields_exactly_the_expected_messages(
    providers, story, run_jobs, runtime, frozen_now, shop
):
    sendgrid, twilio = providers
    with runtime.db.transaction() as session:
        save_settings(
            session,
            shop.id,
            replace(
                DEFAULT_SETTINGS,
                rules={
                    **DEFAULT_SETTINGS.rules,
                    Milestone.OUT_FOR_DELIVERY: MilestoneRule(
                        True, (Channel.WALLET, Channel.WHATSAPP, Channel.SMS, Channel.EMAIL)
                    ),
                },
                whatsapp_templates={
                    (Milestone.OUT_FOR_DELIVERY, "fr"): WhatsAppTemplate(WHATSAPP_SID)
                },
            ),
        )
    pickup = {
        "name": "Relais Tabac Presse du Parc",
        "address1": "8 avenue Foch",
        "zip": "69006",
        "city": "Lyon",
    }
    camille = story(CAMILLE, 1001, pickup=pickup)
    emma = story(EMMA, 1002)
    louis = story(LOUIS, 1003)

    def step(action, *args, **kwargs):  # type: ignore[no-untyped-def]
        result = action(*args, **kwargs)
        run_jobs()  # the worker keeps up: each webhook is handled before the next
        return result

    step(camille.ordered)
    c1 = step(camille.shipped)
    step(camille.event, c1, "in_transit", 20)
    step(camille.event, c1, "ready_for_pickup", 44)
    step(camille.event, c1, "picked_up", 60)

    step(emma.ordered)
    e1 = step(emma.shipped)
    for hours, status in [
        (30, "out_for_delivery"),
        (36, "attempted_delivery"),
        (54, "out_for_delivery"),
        (58, "delivered"),
    ]:
        step(emma.event, e1, status, hours)

    step(louis.ordered)
    l1 = step(louis.shipped)
    step(louis.event, l1, "out_for_delivery", 40)
    step(louis.event, l1, "delivered", 44)
    # Shopify delivers a webhook twice, and a subscriber job runs again: nothing new.
    with runtime.db.session() as session:
        event_ids = list(session.scalars(select(DomainEvent.id)))
    for event_id in event_ids:
        assert jobs.on_milestone(event_id) == "no message"
    run_jobs()

    assert summary(runtime) == [
        ("#1001", "shipped", "email", "fr", "sent"),
        ("#1001", "ready_for_pickup", "sms", "fr", "sent"),
        ("#1001", "delivered", "email", "fr", "sent"),
        ("#1002", "shipped", "email", "en", "sent"),
        ("#1002", "out_for_delivery", "email", "en", "sent"),  # no SMS consent: email
        ("#1002", "attempted_delivery", "email", "en", "sent"),
        # the second "out for delivery" is the same shipment, milestone and channel: no message
        ("#1002", "delivered", "email", "en", "sent"),
        ("#1003", "shipped", "email", "fr", "sent"),
        ("#1003", "out_for_delivery", "whatsapp", "fr", "sent"),
        ("#1003", "delivered", "email", "fr", "sent"),
    ]

    emails = sent_emails(sendgrid)
    assert [e["subject"] for e in emails] == [
        "Votre commande #1001 est en route",
        "Votre colis #1001 est arrivé",
        "Your order #1002 is on its way",
        "It's today! Your parcel #1002 is arriving",
        "We missed you: your parcel #1002 is waiting",
        "Your parcel #1002 has arrived",
        "Votre commande #1003 est en route",
        "Votre colis #1003 est arrivé",
    ]
    first = emails[0]
    assert first["reply_to"] == {"email": "bonjour@maison-lumiere.fr"}
    assert first["from"] == {"email": "notifications@relais.test", "name": "Maison Lumière"}
    assert sorted(first["categories"]) == ["fr", "relais", "shipped"]
    html = next(c["value"] for c in first["content"] if c["type"] == "text/html")
    with runtime.db.session() as session:
        first_row = session.scalar(select(NotificationMessage).order_by(NotificationMessage.id))
        assert first_row is not None
        from plugin.models import Order

        order = session.get(Order, first_row.order_id)
        assert order is not None
        shop = session.get(Shop, order.shop_id)
        assert shop is not None
        tracking = tracking_link(
            runtime.config, shop.domain, order.public_id, host=shop.primary_domain
        )
        wallet_pass = wallet_pass_link(runtime.config, shop.domain, order.public_id)
    assert first["custom_args"]["relais_message_id"] == str(first_row.id)
    # Both buttons go through the click-counting redirect, counted against this message.
    for target in (tracking, wallet_pass):
        counted = click_link(
            runtime.config,
            shop.domain,
            target,
            channel="email",
            milestone="shipped",
            message_id=first_row.id,
        )
        assert counted in html

    (sms,) = sms_bodies(twilio)
    assert sms.startswith("Maison Lumière : votre colis #1001 est en point retrait.")
    assert sms.endswith("Désinscription : STOP")
    forms = twilio.state.sent_forms()
    assert forms[0]["To"] == "+33612345678" and forms[0]["From"] == "MaisonLum"
    whatsapp = forms[1]
    assert whatsapp["To"] == "whatsapp:+33698765432"  # the national number, in E.164
    assert whatsapp["ContentSid"] == WHATSAPP_SID
    variables = json.loads(whatsapp["ContentVariables"])
    assert {k: variables[k] for k in "123"} == {"1": "Louis", "2": "Maison Lumière", "3": "#1003"}
    click = read_click_token(runtime.config.secret_key, variables["4"].rsplit("/r/", 1)[1])
    assert click is not None and (click.channel, click.milestone) == (
        "whatsapp",
        "out_for_delivery",
    )
    assert click.target_url == (
        tracking_link(
            runtime.config, DEMO_SHOP, _public_id(runtime, "#1003"), host="maison-lumiere.fr"
        ).split("?")[0]
        + "?utm_source=relais&utm_medium=whatsapp&utm_campaign=out_for_delivery"
    )
    assert whatsapp["StatusCallback"].startswith(
        "https://relais.test/notifications/twilio/status?m="
    )


def _public_id(runtime, name: str) -> str:  # type: ignore[no-untyped-def]
    from plugin.models import Order

    with runtime.db.session() as session:
        return session.scalar(select(Order.public_id).where(Order.name == name)) or ""


def test_quiet_hours_the_sms_waits_and_is_not_dropped(
    providers, story, run_jobs, runtime, frozen_now
):
    _, twilio = providers
    evening = paris(0, 21, 30)
    next_morning = paris(1, 8)
    frozen_now(evening)
    camille = story(CAMILLE, 1001)
    camille.ordered()
    fulfillment = camille.shipped()
    run_jobs()
    camille.event(fulfillment, "out_for_delivery", 40)
    run_jobs()
    sms = next(m for m in messages(runtime) if m.channel == "sms")
    assert sms.state == MessageState.QUEUED
    assert sms.not_before == next_morning
    # The send job waits in RQ's schedule until the morning.
    scheduled = ScheduledJobRegistry(queue=runtime.queues["notifications"])
    assert f"notify-{sms.id}-0" in scheduled.get_job_ids()
    assert scheduled.get_scheduled_time(f"notify-{sms.id}-0") == next_morning
    # Run early anyway (a retry, a sweep): it still waits, nothing is sent or dropped.
    assert jobs.send_message(sms.id) == "not due yet"
    assert sms_bodies(twilio) == []
    frozen_now(next_morning + timedelta(seconds=30))
    assert jobs.send_message(sms.id) == "sent"
    assert len(sms_bodies(twilio)) == 1
    # The email of the same night left at once (email has no quiet hours).
    shipped = next(m for m in messages(runtime) if m.milestone == "shipped")
    assert shipped.state == MessageState.SENT and shipped.sent_at == evening


def test_an_overtaken_milestone_is_not_sent(providers, story, run_jobs, runtime, frozen_now, shop):
    sendgrid, twilio = providers
    with runtime.db.transaction() as session:
        save_settings(
            session,
            shop.id,
            replace(
                DEFAULT_SETTINGS,
                rules={
                    **DEFAULT_SETTINGS.rules,
                    Milestone.IN_TRANSIT: MilestoneRule(True, (Channel.EMAIL,)),
                },
            ),
        )
    # 1. An "in transit" email waiting for its retry (SendGrid answered 500) when "delivered"
    # arrives: the retry finds it overtaken.
    emma = story(EMMA, 1002)
    emma.ordered()
    fulfillment = emma.shipped()
    run_jobs()
    sendgrid.script(Answer(500, {"errors": [{"message": "boom"}]}))
    emma.event(fulfillment, "in_transit", 20)
    run_jobs()
    waiting = next(m for m in messages(runtime) if m.milestone == "in_transit")
    assert (waiting.state, waiting.attempts) == (MessageState.QUEUED, 1)
    emma.event(fulfillment, "delivered", 30)
    run_jobs()
    frozen_now(waiting.not_before + timedelta(seconds=1))
    assert jobs.send_message(waiting.id) == "skipped: overtaken by delivered"
    assert summary(runtime)[-2:] == [
        ("#1002", "in_transit", "email", "en", "skipped"),
        ("#1002", "delivered", "email", "en", "sent"),
    ]
    # What reached SendGrid: the refused "in transit" attempt, never tried again.
    assert [e["subject"] for e in sent_emails(sendgrid)] == [
        "Your order #1002 is on its way",
        "Your parcel #1002 is making progress",
        "Your parcel #1002 has arrived",
    ]
    # 2. An "out for delivery" SMS waiting for the morning, overtaken by the delivery at 07:30.
    frozen_now(paris(0, 21, 30))
    camille = story(CAMILLE, 1001)
    camille.ordered()
    c1 = camille.shipped()
    camille.event(c1, "out_for_delivery", 59)
    run_jobs()
    waiting = next(m for m in messages(runtime) if m.channel == "sms")
    assert waiting.state == MessageState.QUEUED
    frozen_now(paris(1, 7, 30))
    camille.event(c1, "delivered", 70)
    run_jobs()
    frozen_now(paris(1, 8, 0, 30))
    assert jobs.send_message(waiting.id) == "skipped: overtaken by delivered"
    assert sms_bodies(twilio) == []


def test_stop_then_a_new_milestone_sends_no_sms(
    providers, story, run_jobs, runtime, frozen_now, client, config
):
    _, twilio = providers
    camille = story(CAMILLE, 1001)
    camille.ordered()
    fulfillment = camille.shipped()
    camille.event(fulfillment, "out_for_delivery", 40)
    run_jobs()
    assert len(sms_bodies(twilio)) == 1
    response = twilio_post(
        client,
        config,
        "/notifications/twilio/inbound",
        {
            "MessageSid": "SM" + "1" * 32,
            "AccountSid": config.twilio_account_sid,
            "From": "+33612345678",
            "To": "+15005550006",
            "Body": "Arrêt",
        },
    )
    assert response.status_code == 200
    assert response.data.startswith(b'<?xml version="1.0" encoding="UTF-8"?><Response>')
    camille.event(fulfillment, "attempted_delivery", 46)
    run_jobs()
    assert len(sms_bodies(twilio)) == 1  # no second SMS
    attempted = [m for m in messages(runtime) if m.milestone == "attempted_delivery"]
    assert [(m.channel, m.state) for m in attempted] == [("email", "sent")]
    # START opts back in: the next urgent milestone is a text again.
    twilio_post(
        client,
        config,
        "/notifications/twilio/inbound",
        {
            "MessageSid": "SM" + "2" * 32,
            "From": "+33612345678",
            "To": "+15005550006",
            "Body": "start",
        },
    )
    other = story(CAMILLE, 1005)
    other.ordered()
    f2 = other.shipped()
    other.event(f2, "out_for_delivery", 40)
    run_jobs()
    assert len(sms_bodies(twilio)) == 2


def test_a_stop_arriving_while_an_sms_waits_cancels_it(
    providers, story, run_jobs, runtime, frozen_now, client, config
):
    _, twilio = providers
    frozen_now(paris(0, 21, 30))
    camille = story(CAMILLE, 1001)
    camille.ordered()
    fulfillment = camille.shipped()
    camille.event(fulfillment, "ready_for_pickup", 40)
    run_jobs()
    waiting = next(m for m in messages(runtime) if m.channel == "sms")
    twilio_post(
        client,
        config,
        "/notifications/twilio/inbound",
        {
            "MessageSid": "SM" + "3" * 32,
            "From": "+33612345678",
            "To": "+15005550006",
            "Body": "STOP",
        },
    )
    frozen_now(paris(1, 8, 1))
    assert jobs.send_message(waiting.id) == "skipped: shopper replied STOP"
    assert sms_bodies(twilio) == []


# --- provider failures -------------------------------------------------------------------


def _urgent_sms(story, run_jobs, runtime):  # type: ignore[no-untyped-def]
    camille = story(CAMILLE, 1001)
    camille.ordered()
    fulfillment = camille.shipped()
    run_jobs()
    camille.event(fulfillment, "out_for_delivery", 40)
    run_jobs()
    return next(m for m in messages(runtime) if m.channel == "sms")


def test_429_waits_for_retry_after_then_sends(providers, story, run_jobs, runtime, frozen_now):
    _, twilio = providers
    twilio.script(
        Answer(
            429,
            {"code": 20429, "message": "Too Many Requests", "status": 429},
            headers={"Retry-After": "120"},
        )
    )
    sms = _urgent_sms(story, run_jobs, runtime)
    assert sms.state == MessageState.QUEUED
    assert sms.attempts == 1
    assert "rate limit" in (sms.reason or "")
    waited = (sms.not_before - TUESDAY_10H_PARIS).total_seconds()
    assert 120 <= waited <= 120 * 1.2 + 1
    scheduled = ScheduledJobRegistry(queue=runtime.queues["notifications"]).get_job_ids()
    assert [j for j in scheduled if j.startswith(f"notify-{sms.id}-1")]
    frozen_now(sms.not_before + timedelta(seconds=1))
    assert jobs.send_message(sms.id) == "sent"
    assert len(twilio.state.messages) == 1


def test_5xx_retries_with_backoff(providers, story, run_jobs, runtime, frozen_now):
    sendgrid, _ = providers
    sendgrid.script(
        Answer(500, {"errors": [{"message": "boom"}]}),
        Answer(503, {"errors": [{"message": "busy"}]}),
    )
    camille = story(CAMILLE, 1001)
    camille.ordered()
    camille.shipped()
    run_jobs()
    (email,) = messages(runtime)
    assert (email.state, email.attempts) == (MessageState.QUEUED, 1)
    first_wait = email.not_before
    frozen_now(first_wait + timedelta(seconds=1))
    assert jobs.send_message(email.id).startswith("retry at")
    (email,) = messages(runtime)
    assert email.attempts == 2
    assert (email.not_before - first_wait).total_seconds() >= 60  # the second wait is longer
    frozen_now(email.not_before + timedelta(seconds=1))
    assert jobs.send_message(email.id) == "sent"
    assert len(sendgrid.posts()) == 3


def test_invalid_number_fails_for_good_then_the_email_goes(
    providers, story, run_jobs, runtime, frozen_now, shop
):
    _, twilio = providers
    twilio.script(
        Answer(
            400,
            {
                "code": 21211,
                "message": "The 'To' number is not a valid phone number.",
                "status": 400,
            },
        )
    )
    camille = story(CAMILLE, 1001)
    camille.ordered()
    fulfillment = camille.shipped()
    camille.event(fulfillment, "out_for_delivery", 40)
    run_jobs()
    urgent = [
        (m.channel, m.state, m.attempts)
        for m in messages(runtime)
        if m.milestone == "out_for_delivery"
    ]
    assert urgent == [("sms", "failed", 1), ("email", "sent", 1)]
    with runtime.db.session() as session:
        (problem,) = messages_needing_attention(session, shop.id)
    assert problem.channel == "sms"
    assert problem.order_name == "#1001"
    assert "invalid number" in problem.reason and "21211" in problem.reason


def test_unsubscribed_number_is_remembered(providers, story, run_jobs, runtime, frozen_now):
    _, twilio = providers
    twilio.state.opted_out.add("+33612345678")
    sms = _urgent_sms(story, run_jobs, runtime)
    assert sms.state == MessageState.FAILED and "unsubscribed" in (sms.reason or "")
    other = story(CAMILLE, 1009)
    other.ordered()
    f2 = other.shipped()
    other.event(f2, "attempted_delivery", 40)
    run_jobs()
    latest = [m for m in messages(runtime) if m.milestone == "attempted_delivery"]
    assert [m.channel for m in latest] == ["email"]  # no SMS attempt at all
    assert len(twilio.requests) == 1


def test_a_lost_answer_is_asked_about_before_sending_again(
    providers, story, run_jobs, runtime, frozen_now, shop
):
    _, twilio = providers
    # Twilio dates its messages on the real clock: decide on it too (quiet hours off).
    with runtime.db.transaction() as session:
        save_settings(
            session, shop.id, replace(DEFAULT_SETTINGS, quiet_hours=QuietHours(enabled=False))
        )
    frozen_now(datetime.now(UTC))
    twilio.script(Answer(201, delay=3))  # accepted, but the answer comes after our timeout
    sms = _urgent_sms(story, run_jobs, runtime)
    assert sms.state == MessageState.QUEUED and sms.in_doubt
    frozen_now(sms.not_before + timedelta(seconds=1))
    assert jobs.send_message(sms.id) == "recovered"
    assert len(twilio.state.messages) == 1  # never sent twice
    (sms,) = [m for m in messages(runtime) if m.channel == "sms"]
    assert sms.state == MessageState.SENT and sms.provider_id == twilio.state.messages[0]["sid"]


def test_gives_up_after_the_last_attempt(providers, story, run_jobs, runtime, frozen_now):
    sendgrid, _ = providers
    sendgrid.script(*[Answer(500, {"errors": [{"message": "down"}]})] * 6)
    camille = story(CAMILLE, 1001)
    camille.ordered()
    camille.shipped()
    run_jobs()
    for _ in range(5):
        (email,) = messages(runtime)
        frozen_now(email.not_before + timedelta(seconds=1))
        jobs.send_message(email.id)
    (email,) = messages(runtime)
    assert email.state == MessageState.FAILED
    assert email.reason == "gave up after 6 attempts: SendGrid error 500: down"


def test_every_outbound_call_is_bounded_in_time(providers, story, run_jobs, runtime, frozen_now):
    sendgrid, _ = providers
    sendgrid.script(Answer(202, delay=10))
    camille = story(CAMILLE, 1001)
    camille.ordered()
    camille.shipped()
    started = datetime.now(UTC)
    run_jobs()
    assert (datetime.now(UTC) - started).total_seconds() < 6  # send timeout is 2 s here
    (email,) = messages(runtime)
    assert email.state == MessageState.QUEUED and "did not answer in time" in (email.reason or "")


def test_sms_form_fields(providers, story, run_jobs, runtime, frozen_now):
    _, twilio = providers
    sms = _urgent_sms(story, run_jobs, runtime)
    form = twilio.state.sent_forms()[0]
    assert parse_qs(f"m={sms.id}")["m"] == [form["StatusCallback"].rsplit("=", 1)[1]]
    assert sms.segments == 1 and sms.encoding == "GSM-7"
    assert form["Body"] == sms.body_text


def test_a_fulfillment_before_its_order_waits_for_the_shopper(
    providers, story, run_jobs, runtime, frozen_now
):
    """Shopify does not keep its webhooks in order: the shipment's milestone waits for the
    order's own webhook (which brings the shopper) instead of being skipped for want of an
    address, and goes out as soon as that webhook is applied."""
    sendgrid, _ = providers
    camille = story(CAMILLE, 1001)
    camille.shipped()
    run_jobs()
    assert messages(runtime) == []
    scheduled = ScheduledJobRegistry(queue=runtime.queues["notifications"]).get_job_ids()
    [waiting] = [job_id for job_id in scheduled if job_id.startswith("milestone-")]
    event_id = int(waiting.split("-")[1])
    camille.ordered()
    run_jobs()
    # Sent by the order's own job, not 10 s later by the planned-again one.
    assert summary(runtime) == [("#1001", "shipped", "email", "fr", "sent")]
    assert [e["personalizations"][0]["to"][0]["email"] for e in sent_emails(sendgrid)] == [
        CAMILLE.email
    ]
    # The planned-again job, when RQ's scheduler hands it over, sends nothing more.
    assert jobs.on_milestone(event_id) == "no message"
    assert len(sent_emails(sendgrid)) == 1
    # Nor does the order's webhook delivered twice.
    camille.ordered()
    run_jobs()
    assert len(sent_emails(sendgrid)) == 1


def test_a_milestone_stops_waiting_for_an_order_that_never_comes(
    providers, story, run_jobs, runtime, frozen_now, monkeypatch
):
    from plugin.notifications import orchestration

    camille = story(CAMILLE, 1001)
    camille.shipped()
    run_jobs()
    assert messages(runtime) == []
    monkeypatch.setattr(orchestration, "ORDER_WAIT", timedelta(0))
    with runtime.db.session() as session:
        event_id = session.scalar(select(DomainEvent.id).where(DomainEvent.milestone == "shipped"))
    jobs.on_milestone(event_id)
    [skipped] = messages(runtime)
    assert skipped.state == MessageState.SKIPPED
    assert "email: no email address" in (skipped.reason or "")

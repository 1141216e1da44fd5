"""The channel policy, quiet hours in the shopper's time zone, settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from plugin.milestones import Milestone
from plugin.notifications.channels import Channel
from plugin.notifications.policy import Reachability, decide, overtaken_by
from plugin.notifications.quiet_hours import next_allowed
from plugin.notifications.settings import (
    DEFAULT_SETTINGS,
    MilestoneRule,
    NotificationSettings,
    QuietHours,
    SettingsRefused,
    WhatsAppTemplate,
    get_settings,
    save_settings,
    settings_from_json,
    settings_to_json,
)

PARIS = ZoneInfo("Europe/Paris")
TUESDAY_10H = datetime(2026, 3, 10, 10, 0, tzinfo=PARIS).astimezone(UTC)
REACHABLE = Reachability(
    locale="fr",
    timezone=PARIS,
    email="camille@example.fr",
    phone="+33612345678",
    sms_marketing_consent=True,
)


def channels(decisions):  # type: ignore[no-untyped-def]
    return [(d.channel, d.skip_reason is None) for d in decisions]


def test_urgent_milestone_goes_by_sms_when_phone_and_consent():
    decisions = decide(Milestone.OUT_FOR_DELIVERY, REACHABLE, DEFAULT_SETTINGS, TUESDAY_10H)
    assert channels(decisions) == [(Channel.SMS, True)]
    assert decisions[0].recipient == "+33612345678"


def test_wallet_first_when_a_pass_is_installed():
    who = replace(REACHABLE, wallet_installed=True)
    assert channels(decide(Milestone.OUT_FOR_DELIVERY, who, DEFAULT_SETTINGS, TUESDAY_10H)) == [
        (Channel.WALLET, True)
    ]


def test_no_consent_or_stop_falls_back_to_email():
    for who in (
        replace(REACHABLE, sms_marketing_consent=False),
        replace(REACHABLE, sms_opted_out=True),
        replace(REACHABLE, phone=None),
    ):
        decisions = decide(Milestone.ATTEMPTED_DELIVERY, who, DEFAULT_SETTINGS, TUESDAY_10H)
        assert channels(decisions) == [(Channel.EMAIL, True)]


def test_record_milestones_go_by_email_and_disabled_ones_not_at_all():
    assert channels(decide(Milestone.SHIPPED, REACHABLE, DEFAULT_SETTINGS, TUESDAY_10H)) == [
        (Channel.EMAIL, True)
    ]
    assert decide(Milestone.IN_TRANSIT, REACHABLE, DEFAULT_SETTINGS, TUESDAY_10H) == []
    assert decide(Milestone.ORDERED, REACHABLE, DEFAULT_SETTINGS, TUESDAY_10H) == []


def test_unreachable_shopper_gets_one_skipped_decision_with_reasons():
    who = replace(REACHABLE, email=None, phone=None)
    (decision,) = decide(Milestone.OUT_FOR_DELIVERY, who, DEFAULT_SETTINGS, TUESDAY_10H)
    assert decision.skip_reason is not None
    assert "no email address" in decision.skip_reason and "no mobile number" in decision.skip_reason


def test_merchant_can_ask_for_more_and_for_whatsapp():
    settings = replace(
        DEFAULT_SETTINGS,
        rules={
            **DEFAULT_SETTINGS.rules,
            Milestone.READY_FOR_PICKUP: MilestoneRule(
                True, (Channel.WHATSAPP, Channel.SMS, Channel.EMAIL), all_channels=True
            ),
        },
        whatsapp_templates={(Milestone.READY_FOR_PICKUP, "fr"): WhatsAppTemplate("HX" + "0" * 32)},
    )
    decisions = decide(Milestone.READY_FOR_PICKUP, REACHABLE, settings, TUESDAY_10H)
    assert channels(decisions) == [
        (Channel.WHATSAPP, True),
        (Channel.SMS, True),
        (Channel.EMAIL, True),
    ]
    english = replace(REACHABLE, locale="en")  # no English template: no WhatsApp
    assert Channel.WHATSAPP not in [
        d.channel for d in decide(Milestone.READY_FOR_PICKUP, english, settings, TUESDAY_10H)
    ]


def test_promotional_messages_need_marketing_consent():
    settings = replace(
        DEFAULT_SETTINGS,
        rules={
            **DEFAULT_SETTINGS.rules,
            Milestone.FEEDBACK_REQUEST: MilestoneRule(True, (Channel.EMAIL,), promotional=True),
        },
    )
    (decision,) = decide(Milestone.FEEDBACK_REQUEST, REACHABLE, settings, TUESDAY_10H)
    assert decision.skip_reason and "marketing consent" in decision.skip_reason
    consenting = replace(REACHABLE, email_marketing_consent=True)
    (decision,) = decide(Milestone.FEEDBACK_REQUEST, consenting, settings, TUESDAY_10H)
    assert decision.skip_reason is None


def test_sms_in_the_evening_waits_for_the_morning():
    evening = datetime(2026, 3, 10, 21, 30, tzinfo=PARIS).astimezone(UTC)
    (decision,) = decide(Milestone.OUT_FOR_DELIVERY, REACHABLE, DEFAULT_SETTINGS, evening)
    assert decision.skip_reason is None
    assert decision.not_before == datetime(2026, 3, 11, 8, 0, tzinfo=PARIS)
    email_only = replace(REACHABLE, phone=None)
    (email,) = decide(Milestone.OUT_FOR_DELIVERY, email_only, DEFAULT_SETTINGS, evening)
    assert email.not_before == evening  # email does not wait


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        # Saturday 19:59: still allowed.
        (datetime(2026, 3, 14, 19, 59), datetime(2026, 3, 14, 19, 59)),
        # Saturday 20:00: Sunday is quiet, Monday 08:00.
        (datetime(2026, 3, 14, 20, 0), datetime(2026, 3, 16, 8, 0)),
        # Early morning.
        (datetime(2026, 3, 10, 6, 15), datetime(2026, 3, 10, 8, 0)),
        # Bastille Day (Tuesday 14 July 2026) is a public holiday.
        (datetime(2026, 7, 14, 11, 0), datetime(2026, 7, 15, 8, 0)),
        # Ascension Thursday 14 May 2026, then the Friday is a normal day.
        (datetime(2026, 5, 13, 21, 0), datetime(2026, 5, 15, 8, 0)),
        # Night before Christmas: 25 December is a Friday holiday, Saturday is allowed.
        (datetime(2026, 12, 24, 22, 0), datetime(2026, 12, 26, 8, 0)),
        # The Sunday the clocks go forward (29 March 2026), waiting for Monday.
        (datetime(2026, 3, 29, 2, 30), datetime(2026, 3, 30, 8, 0)),
    ],
)
def test_quiet_hours_in_paris(local, expected):
    at = local.replace(tzinfo=PARIS).astimezone(UTC)
    assert next_allowed(at, PARIS, QuietHours()) == expected.replace(tzinfo=PARIS)


def test_quiet_hours_follow_the_shoppers_zone():
    # 09:00 in Paris is 08:00 in London: a London shopper may be texted, Montreal not yet.
    at = datetime(2026, 3, 10, 9, 0, tzinfo=PARIS).astimezone(UTC)
    assert next_allowed(at, ZoneInfo("Europe/London"), QuietHours()) == at
    montreal = next_allowed(at, ZoneInfo("America/Montreal"), QuietHours(holidays_country="CA"))
    assert montreal == datetime(2026, 3, 10, 8, 0, tzinfo=ZoneInfo("America/Montreal"))


def test_quiet_hours_can_be_widened_or_turned_off():
    sunday = datetime(2026, 3, 15, 12, 0, tzinfo=PARIS).astimezone(UTC)
    assert next_allowed(sunday, PARIS, QuietHours(enabled=False)) == sunday
    every_day = QuietHours(days=frozenset(range(7)), start=time(9), end=time(21))
    assert next_allowed(sunday, PARIS, every_day) == sunday


def test_overtaken():
    t = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    later = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert overtaken_by(Milestone.IN_TRANSIT, t, Milestone.DELIVERED, later) == Milestone.DELIVERED
    assert overtaken_by(Milestone.IN_TRANSIT, t, Milestone.IN_TRANSIT, later) is None
    assert overtaken_by(Milestone.DELIVERED, later, Milestone.IN_TRANSIT, t) is None
    # Same second: the further step wins.
    assert overtaken_by(Milestone.SHIPPED, t, Milestone.IN_TRANSIT, t) == Milestone.IN_TRANSIT
    # A derived alert raised after the last carrier update still holds.
    assert overtaken_by(Milestone.STALLED, later, Milestone.IN_TRANSIT, t) is None


def test_settings_defaults_roundtrip_and_refusals(runtime, shop):
    with runtime.db.session() as session:
        assert get_settings(session, shop.id) == DEFAULT_SETTINGS
    custom = replace(
        DEFAULT_SETTINGS,
        rules={
            **DEFAULT_SETTINGS.rules,
            Milestone.IN_TRANSIT: MilestoneRule(True, (Channel.EMAIL,)),
        },
        quiet_hours=QuietHours(start=time(9), end=time(19), holidays_country=None),
        whatsapp_templates={(Milestone.SHIPPED, "en"): WhatsAppTemplate("HX" + "a" * 32)},
        offer={"fr": "-10 % avec MERCI"},
    )
    with runtime.db.transaction() as session:
        save_settings(session, shop.id, custom)
    with runtime.db.session() as session:
        assert get_settings(session, shop.id) == custom
    assert settings_from_json(settings_to_json(custom)) == custom
    broken = replace(
        custom,
        quiet_hours=QuietHours(start=time(20), end=time(8)),
        rules={Milestone.SHIPPED: MilestoneRule(True, ())},
    )
    with runtime.db.transaction() as session, pytest.raises(SettingsRefused) as caught:
        save_settings(session, shop.id, broken)
    assert len(caught.value.errors) == 2


def test_stored_settings_that_no_longer_make_sense_fall_back_to_defaults():
    settings = settings_from_json(
        {
            "rules": {"teleported": {"enabled": True}, "shipped": {"channels": ["pigeon"]}},
            "quiet_hours": {"start": "late"},
            "thresholds": {"stalled_days": "many"},
        }
    )
    assert settings.rule(Milestone.SHIPPED) == DEFAULT_SETTINGS.rule(Milestone.SHIPPED)
    assert settings.quiet_hours == QuietHours()
    assert isinstance(settings, NotificationSettings)

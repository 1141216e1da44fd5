"""Every text in French and English; dates in the shopper's locale and the shop's time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from frontend.i18n import MESSAGES, choose_language, make_translator
from plugin.milestones import Milestone


def test_french_and_english_have_the_same_texts():
    assert set(MESSAGES["fr"]) == set(MESSAGES["en"])
    assert all(text.strip() for language in MESSAGES.values() for text in language.values())


@pytest.mark.parametrize("milestone", list(Milestone))
def test_every_milestone_has_a_name(milestone):
    for language in ("fr", "en"):
        assert f"milestone_{milestone.value}" in MESSAGES[language]


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [(("fr-CA", "en"), "fr"), (("de", "fr"), "fr"), ((None, "en-US"), "en"), (("es", None), "en")],
)
def test_language_comes_from_the_order_then_the_shop(candidates, expected):
    assert choose_language(*candidates) == expected


def test_dates_use_the_shop_time_zone_and_the_shopper_locale():
    moment = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)  # already the 25th in Paris
    fr = make_translator("fr", "fr", "Europe/Paris")
    us = make_translator("en-US", "fr", "America/New_York")
    gb = make_translator("en-GB", "fr", "Europe/London")
    assert fr.long_date(moment) == "mercredi 25 novembre"
    assert fr.short_datetime(moment) == "mer. 25 nov., 00:30"
    assert us.long_date(moment) == "Tuesday, November 24"
    assert us.short_datetime(moment).endswith("6:30\u202fPM")
    assert gb.long_date(moment) == "Tuesday 24 November"


def test_prices_in_the_shop_currency():
    assert make_translator("fr", None, None).price("8.9", "EUR") == "8,90\u00a0€"
    assert make_translator("en-GB", None, None).price("8.9", "EUR") == "€8.90"

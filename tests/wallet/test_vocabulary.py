"""The Wallet library speaks Relais' one milestone vocabulary, in both languages."""

from __future__ import annotations

import pytest

from plugin.milestones import Milestone
from wallet.formats import LocalizedText, decode_strings, encode_strings, parse_rfc3339, rfc3339
from wallet.orders import PICKUP_STATUS, SHIPPING_STATUS
from wallet.texts import MILESTONE_NAMES, MILESTONES, NEXT_STEPS, PASS_LABELS, base_table


def test_same_milestones_as_the_domain() -> None:
    assert {m.value for m in Milestone} == MILESTONES
    # The domain's StrEnum members work wherever the library takes a milestone code.
    assert MILESTONE_NAMES[Milestone.DELIVERED].fr == "Livrée"


def test_every_milestone_has_words_and_statuses() -> None:
    assert set(MILESTONE_NAMES) == MILESTONES
    assert set(SHIPPING_STATUS) == MILESTONES
    assert set(PICKUP_STATUS) == MILESTONES
    assert set(NEXT_STEPS) <= MILESTONES


def test_tables_are_consistent_in_both_languages() -> None:
    french, english = base_table("fr"), base_table("en")
    assert set(french) == set(english)
    assert all(english[key] == key for key in english)
    for text in PASS_LABELS.values():
        assert text.fr != text.en


def test_localized_text_needs_both_languages() -> None:
    with pytest.raises(ValueError, match="both"):
        LocalizedText("Bonjour", " ")


def test_strings_round_trip_with_escapes() -> None:
    table = {'Say "hi"': 'Dites "bonjour"\\ à\nla ligne', "Tab\there": "Tab\tici"}
    assert decode_strings(encode_strings(table)) == table
    assert decode_strings(encode_strings(table).decode().encode("utf-16")) == table
    with pytest.raises(ValueError, match="empty"):
        encode_strings({"Key": ""})


def test_rfc3339() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    assert rfc3339(datetime(2025, 3, 1, 9, 5, 7, 999, tzinfo=UTC)) == "2025-03-01T09:05:07Z"
    paris = timezone(timedelta(hours=2))
    assert rfc3339(datetime(2025, 7, 1, 9, 0, tzinfo=paris)) == "2025-07-01T09:00:00+02:00"
    with pytest.raises(ValueError, match="time zone"):
        rfc3339(datetime(2025, 3, 1))
    assert parse_rfc3339("2025-07-01T09:00:00+02:00") == datetime(2025, 7, 1, 7, 0, tzinfo=UTC)
    for loose in ("2025-07-01", "2025-07-01 09:00:00Z", "2025-07-01T09:00:00"):
        with pytest.raises(ValueError):
            parse_rfc3339(loose)

"""Ids written in other digits than ASCII are refused with a reason, never a crash."""

from __future__ import annotations

import pytest

from plugin.digits import ascii_int
from plugin.errors import PayloadError
from plugin.shopify.graphql_shapes import gid_number
from webhooks.payloads import parse_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("1001", 1001), ("9" * 18, int("9" * 18)), ("9" * 19, None), ("", None),
     ("³", None), ("\uff11\uff12", None), ("١٢", None), ("12a", None), (" 12", None), ("-1", None)],
)  # fmt: skip
def test_only_ascii_digits_are_a_number(text: str, expected: int | None) -> None:
    assert ascii_int(text) == expected


def test_a_longer_limit_is_the_callers_choice() -> None:
    assert ascii_int("1" * 20, max_digits=20) == int("1" * 20)


@pytest.mark.parametrize(
    "value", ["gid://shopify/Order/³", "gid://shopify/Order/\uff11\uff12", "²"]
)
def test_a_payload_id_in_other_digits_is_a_payload_error(value: str) -> None:
    with pytest.raises(PayloadError):
        parse_id(value, field="id")
    with pytest.raises(PayloadError):
        gid_number(value, field="id")


def test_a_payload_id_in_ascii_digits_is_read() -> None:
    assert parse_id("gid://shopify/Order/450789469", field="id") == 450789469
    assert gid_number("gid://shopify/Order/450789469", field="id") == 450789469

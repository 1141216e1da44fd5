"""Signed order tokens and shopper links."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, urlparse

import pytest

from plugin.config import Config
from plugin.insights.models import EventKind, InsightEvent
from plugin.links import (
    ClickRef,
    OrderRef,
    click_link,
    make_order_token,
    read_click_token,
    read_order_token,
    standalone_tracking_link,
    tracking_link,
    wallet_pass_link,
    with_utm,
)

SECRET = "s3cret"
PUBLIC_ID = "AbCdEfGhIjKlMnOpQrStUv"


def _config() -> Config:
    return Config(
        shopify_api_key="k",
        shopify_api_secret="s",
        app_url="https://relais.example",
        secret_key=SECRET,
        database_url="sqlite://",
    )


def test_a_token_names_its_shop_and_order():
    token = make_order_token(SECRET, "demo-shop.myshopify.com", PUBLIC_ID)
    assert read_order_token(SECRET, token) == OrderRef("demo-shop.myshopify.com", PUBLIC_ID)
    assert len(token) < 90  # short enough for an SMS


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature changed
        lambda t: t.replace("demo-shop", "evil-shop", 1),  # another shop
        lambda t: t.replace(PUBLIC_ID, "ZZZZZZZZZZZZZZZZZZZZZZ", 1),  # another order
        lambda t: "",
        lambda t: "x" * 500,
        lambda t: "not a token",
    ],
)
def test_a_tampered_token_is_refused(tamper):
    token = make_order_token(SECRET, "demo-shop.myshopify.com", PUBLIC_ID)
    assert read_order_token(SECRET, tamper(token)) is None


def test_a_token_signed_with_another_secret_is_refused():
    token = make_order_token("other", "demo-shop.myshopify.com", PUBLIC_ID)
    assert read_order_token(SECRET, token) is None


def test_tracking_link_goes_through_the_app_proxy_with_utm_parameters():
    url = tracking_link(
        _config(),
        "demo-shop.myshopify.com",
        PUBLIC_ID,
        channel="sms",
        milestone="shipped",
        host="maison-lumiere.fr",
    )
    parsed = urlparse(url)
    assert parsed.scheme == "https" and parsed.netloc == "maison-lumiere.fr"
    assert parsed.path.startswith("/apps/track/o/")
    token = parsed.path.rsplit("/", 1)[1]
    assert read_order_token(SECRET, token) == OrderRef("demo-shop.myshopify.com", PUBLIC_ID)
    assert parse_qs(parsed.query) == {
        "utm_source": ["relais"],
        "utm_medium": ["sms"],
        "utm_campaign": ["shipped"],
    }


def test_other_links_carry_the_same_token():
    config = _config()
    token = make_order_token(SECRET, "demo-shop.myshopify.com", PUBLIC_ID)
    assert standalone_tracking_link(config, "demo-shop.myshopify.com", PUBLIC_ID) == (
        f"https://relais.example/t/{token}"
    )
    assert wallet_pass_link(config, "demo-shop.myshopify.com", PUBLIC_ID) == (
        f"https://relais.example/wallet/passes/{token}.pkpass"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.fr/p", "https://a.fr/p?{utm}"),
        ("https://a.fr/p?utm_source=x&utm_medium=sms", "https://a.fr/p?{utm}"),
        (
            "https://a.fr/p?q=a%20b&utm%5Fcampaign=x&flag#top",
            "https://a.fr/p?q=a%20b&flag&{utm}#top",
        ),
        ("https://a.fr/p#part?x=1", "https://a.fr/p?{utm}#part?x=1"),
    ],
)
def test_utm_parameters_replace_any_utm_and_keep_the_rest_as_written(url, expected):
    utm = "utm_source=relais&utm_medium=email&utm_campaign=delivered"
    assert with_utm(url, channel="email", milestone="delivered") == expected.format(utm=utm)


def test_click_tokens_are_compressed_and_earlier_tokens_still_read():
    from itsdangerous import URLSafeSerializer

    config = _config()
    target = tracking_link(config, "demo-shop.myshopify.com", PUBLIC_ID)
    link = click_link(
        config,
        "demo-shop.myshopify.com",
        target,
        channel="email",
        milestone="shipped",
        message_id=7,
    )
    token = link.removeprefix("https://relais.example/r/")
    expected = ClickRef(
        shop_domain="demo-shop.myshopify.com",
        target_url=with_utm(target, channel="email", milestone="shipped"),
        channel="email",
        milestone="shipped",
        message_id=7,
    )
    assert token.startswith(".")  # the repetitive JSON compresses
    assert read_click_token(SECRET, token) == expected
    # A token made by itsdangerous' own serializer (links already printed in emails).
    earlier = URLSafeSerializer(
        SECRET, salt="relais.click.v1", signer_kwargs={"digest_method": hashlib.sha256}
    ).dumps({"s": "demo-shop", "u": expected.target_url, "c": "email", "m": "shipped", "i": 7})
    assert earlier != token
    assert read_click_token(SECRET, earlier) == expected


def test_a_domain_that_is_not_myshopify_cannot_be_signed():
    with pytest.raises(ValueError):
        make_order_token(SECRET, "maison-lumiere.fr/evil", PUBLIC_ID)


def test_short_links_for_sms_lead_to_the_signed_tracking_page(app, client, post_webhook, run_jobs):
    """The SMS short link resolves to the shop's tracking page; forged codes are refused."""
    from sqlalchemy import select

    from plugin.links import read_order_token, read_short_code, short_tracking_link
    from plugin.models import Order
    from plugin.runtime import current_runtime
    from plugin.shopify_payloads import Item, Shopper, order_payload

    runtime = current_runtime()
    shopper = Shopper(
        "Léa", "Dubois", "lea@example.fr", "+33611223344", "Lille", "59000", "FR", "fr"
    )
    from datetime import UTC, datetime

    post_webhook(
        "orders/create",
        order_payload(
            order_id=424242,
            number=1042,
            shopper=shopper,
            items=[Item("Tasse", "18.00")],
            created_at=datetime(2026, 11, 2, tzinfo=UTC),
        ),
    )
    run_jobs()
    with runtime.db.session() as session:
        public_id = session.scalar(select(Order.public_id))
    link = short_tracking_link(runtime.config, public_id)
    assert len(link) < len(runtime.config.app_url) + 40
    code = link.rsplit("/", 1)[1]
    assert read_short_code(runtime.config.secret_key, code) == public_id
    response = client.get(f"/s/{code}")
    assert response.status_code == 302
    token = response.headers["Location"].split("/apps/track/o/", 1)[1].split("?", 1)[0]
    assert read_order_token(runtime.config.secret_key, token).public_id == public_id
    assert "utm_medium=sms" in response.headers["Location"]
    forged = code[:-1] + ("A" if code[-1] != "A" else "B")
    assert read_short_code(runtime.config.secret_key, forged) is None
    assert client.get(f"/s/{forged}").status_code == 404
    # The click is counted once, for SMS (no text was sent yet: no message to credit).
    with runtime.db.session() as session:
        clicks = session.execute(
            select(InsightEvent.channel, InsightEvent.message_id).where(
                InsightEvent.kind == EventKind.CLICK
            )
        ).all()
    assert clicks == [("sms", None)]

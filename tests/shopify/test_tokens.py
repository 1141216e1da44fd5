"""Token exchange, refresh under a lock, and encryption at rest, against the Shopify stand-in."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from plugin.shopify.crypto import SecretBox, SecretUnreadable, derive_key
from plugin.shopify.models import ShopifyAccessToken
from plugin.shopify.tokens import NoAccessToken, revoke_shop_access
from tests.standins.shopify_fixtures import TEST_API_KEY, TEST_API_SECRET, install_token
from tests.standins.shopify_server import id_token


def verified(runtime, shop_domain: str, **claims):
    """What verify_app_home_req gives for a document request carrying a fresh ID token."""
    token = id_token(shop_domain, client_id=TEST_API_KEY, secret=TEST_API_SECRET, **claims)
    result = runtime.shopify.verify_app_home_req(
        {
            "method": "GET",
            "headers": {},
            "url": f"https://relais.test/?shop={shop_domain}&id_token={token}",
            "body": "",
        },
        app_home_patch_id_token_path="/auth/patch-id-token",
    )
    assert result.ok, result.log
    return result


def test_token_exchange_stores_an_expiring_offline_token_encrypted(
    connection, runtime, standin, shop
):
    result = connection.tokens.exchange(shop.id, verified(runtime, shop.domain))

    assert result.ok, result.log
    assert standin.count("token_exchange") == 1
    stored = connection.tokens.get(shop.domain)
    assert stored is not None
    assert stored.access_token.startswith("shpat_")
    assert stored.refresh_token and stored.refresh_token.startswith("shprt_")
    # Expiring: about an hour, and a refresh token good for about 90 days.
    assert timedelta(minutes=55) < stored.expires_at - datetime.now(UTC) <= timedelta(hours=1)
    assert stored.refresh_token_expires_at - datetime.now(UTC) > timedelta(days=89)
    # Neither token is readable in the database.
    with runtime.db.session() as session:
        raw = session.execute(text("SELECT * FROM shopify_access_tokens")).mappings().one()
    dump = " ".join(str(v) for v in raw.values())
    assert stored.access_token not in dump
    assert stored.refresh_token not in dump


def test_token_exchange_with_an_id_token_for_another_app_fails(connection, runtime, standin, shop):
    forged = id_token(shop.domain, client_id=TEST_API_KEY, secret="not-the-app-secret")
    from shopify_app.types import IdTokenDetails

    details = IdTokenDetails(
        exchangeable=True, token=forged, claims={"dest": f"https://{shop.domain}"}
    )
    from types import SimpleNamespace

    result = connection.tokens.exchange(
        shop.id,
        SimpleNamespace(id_token=details, invalid_token_response=None),  # type: ignore[arg-type]
    )
    assert not result.ok
    assert result.log.code == "invalid_subject_token"
    assert connection.tokens.get(shop.domain) is None


def test_a_valid_token_is_used_without_refreshing(installed, connection, standin):
    token = connection.tokens.fresh(installed.domain)
    assert token.access_token.startswith("shpat_")
    assert standin.count("refresh") == 0


def test_a_token_about_to_expire_is_refreshed_and_the_new_pair_stored(
    connection, runtime, standin, shop
):
    standin.add_shop(shop.domain)
    old = install_token(connection, runtime, standin, shop, expires_in=30)

    token = connection.tokens.fresh(shop.domain)

    assert standin.count("refresh") == 1
    assert token.access_token != old
    assert token.expires_at - datetime.now(UTC) > timedelta(minutes=55)
    # The stand-in rotates refresh tokens: the stored one is the new one.
    assert connection.tokens.get(shop.domain).refresh_token == token.refresh_token


def test_two_workers_never_refresh_the_same_token_at_once(connection, runtime, standin, shop):
    standin.add_shop(shop.domain)
    install_token(connection, runtime, standin, shop, expires_in=30)
    standin.refresh_delay = 0.4  # a slow Shopify: both threads arrive while one refreshes
    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(connection.tokens.access_token(shop.domain))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert not errors
    assert standin.count("refresh") == 1
    assert len(set(results)) == 1  # every worker uses the one refreshed token


def test_an_expired_refresh_token_drops_the_tokens(connection, runtime, standin, shop):
    standin.add_shop(shop.domain)
    install_token(connection, runtime, standin, shop, expires_in=30)
    with runtime.db.transaction() as session:
        row = session.get(ShopifyAccessToken, shop.id)
        row.refresh_token_expires_at = datetime.now(UTC) - timedelta(minutes=1)

    with pytest.raises(NoAccessToken):
        connection.tokens.fresh(shop.domain)
    assert connection.tokens.get(shop.domain) is None


def test_revoking_deletes_the_tokens(installed, connection, runtime):
    with runtime.db.transaction() as session:
        revoke_shop_access(session, installed.id)
    with runtime.db.session() as session:
        assert session.scalar(select(ShopifyAccessToken)) is None
    with pytest.raises(NoAccessToken):
        connection.tokens.fresh(installed.domain)


def test_secret_box_rotates_keys_and_refuses_foreign_ciphertext():
    old_key, new_key = derive_key("old secret"), derive_key("new secret")
    sealed_with_old = SecretBox([old_key]).encrypt("shpat_abc")
    rotated = SecretBox([new_key, old_key])
    assert rotated.decrypt(sealed_with_old) == "shpat_abc"
    assert SecretBox([new_key]).decrypt(rotated.encrypt("x")) == "x"
    with pytest.raises(SecretUnreadable):
        SecretBox([new_key]).decrypt(sealed_with_old)


def test_a_malformed_encryption_key_is_refused_at_start(config):
    from plugin.errors import ConfigError

    with pytest.raises(ConfigError, match="TOKEN_ENCRYPTION_KEY"):
        SecretBox.from_config(config.with_overrides(token_encryption_key="not-a-key"))

"""A shop's expiring offline access token: obtained by token exchange, refreshed, encrypted.

Shopify's offline tokens for public apps expire after an hour and come with a refresh token
(valid 90 days) that is rotated on every refresh. Two workers refreshing the same token at
once would each spend the refresh token; a Redis lock per shop makes one of them refresh
and the other read what the first stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from redis import Redis
from redis.exceptions import LockError, RedisError
from shopify_app import ShopifyApp
from shopify_app.types import (
    ResultWithExchangeableIdToken,
    TokenExchangeAccessToken,
    TokenExchangeResult,
)
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from plugin.db import Database, utcnow
from plugin.errors import RelaisError
from plugin.models import Shop
from plugin.shopify.admin_api import AdminUnavailable
from plugin.shopify.crypto import SecretBox
from plugin.shopify.models import ShopifyAccessToken

log = logging.getLogger(__name__)

# Refresh this long before expiry. shopify_app refreshes within 60 s of expiry and answers
# "still valid" before; a little more room here only decides when to take the lock.
REFRESH_AHEAD = timedelta(seconds=90)
# A refresh makes at most 3 requests of 10 s; the lock outlives them.
LOCK_TIMEOUT_SECONDS = 45
_ISO = "%Y-%m-%dT%H:%M:%SZ"


class NoAccessToken(RelaisError):
    """The shop has no usable token; one is exchanged the next time the merchant opens Relais."""


@dataclass(frozen=True)
class ShopToken:
    """A decrypted token of one shop."""

    shop_id: int
    shop_domain: str
    access_token: str
    scope: str
    expires_at: datetime | None
    refresh_token: str | None
    refresh_token_expires_at: datetime | None

    def expires_soon(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at - now <= REFRESH_AHEAD

    def as_exchange_token(self) -> TokenExchangeAccessToken:
        """The package's shape of this token, to hand to its refresh function."""
        return TokenExchangeAccessToken(
            shop=self.shop_domain.removesuffix(".myshopify.com"),
            token=self.access_token,
            expires=_iso(self.expires_at),
            scope=self.scope,
            access_mode="offline",
            refresh_token=self.refresh_token,
            refresh_token_expires=_iso(self.refresh_token_expires_at),
            user=None,
        )


class AccessTokens:
    """Stores, reads and refreshes the offline tokens of every shop."""

    def __init__(
        self,
        db: Database,
        redis: Redis,
        shopify: ShopifyApp,
        box: SecretBox,
        http_client: httpx.Client,
    ) -> None:
        self.db = db
        self.redis = redis
        self.shopify = shopify
        self.box = box
        self.http_client = http_client

    # --- reading -------------------------------------------------------------------------

    def get(self, shop_domain: str) -> ShopToken | None:
        """The stored token of ``shop_domain``, decrypted, or None."""
        with self.db.session() as session:
            row = session.execute(
                select(ShopifyAccessToken, Shop.domain)
                .join(Shop, Shop.id == ShopifyAccessToken.shop_id)
                .where(Shop.domain == shop_domain)
            ).one_or_none()
        if row is None:
            return None
        stored, domain = row
        return ShopToken(
            shop_id=stored.shop_id,
            shop_domain=domain,
            access_token=self.box.decrypt(stored.access_token_encrypted),
            scope=stored.scope,
            expires_at=stored.expires_at,
            refresh_token=(
                self.box.decrypt(stored.refresh_token_encrypted)
                if stored.refresh_token_encrypted
                else None
            ),
            refresh_token_expires_at=stored.refresh_token_expires_at,
        )

    def access_token(self, shop_domain: str) -> str:
        """A token usable now for ``shop_domain`` (refreshed first when it expires soon)."""
        return self.fresh(shop_domain).access_token

    def fresh(self, shop_domain: str) -> ShopToken:
        """The stored token, refreshed under the shop's lock when it is about to expire."""
        token = self.get(shop_domain)
        if token is None:
            raise NoAccessToken(f"no access token for {shop_domain}")
        if not token.expires_soon(utcnow()):
            return token
        return self._refresh(shop_domain)

    # --- writing -------------------------------------------------------------------------

    def exchange(
        self, shop_id: int, verified: ResultWithExchangeableIdToken
    ) -> TokenExchangeResult:
        """Exchange the verified ID token for an expiring offline token and store it."""
        result = self.shopify.exchange_using_token_exchange(
            access_mode="offline",
            id_token=verified.id_token,
            invalid_token_response=verified.invalid_token_response,
            expiring=True,
            http_client=self.http_client,
        )
        if result.ok and result.access_token is not None:
            with self.db.transaction() as session:
                store_token(session, self.box, shop_id, result.access_token)
        else:
            log.warning("token exchange for shop %s failed: %s", shop_id, result.log.code)
        return result

    def discard(self, shop_domain: str) -> None:
        """Forget the token of ``shop_domain`` (Shopify answered that it is invalid)."""
        with self.db.transaction() as session:
            shop_id = session.scalar(select(Shop.id).where(Shop.domain == shop_domain))
            if shop_id is not None:
                revoke_shop_access(session, shop_id)
        log.warning("access token of %s discarded: Shopify no longer accepts it", shop_domain)

    def _refresh(self, shop_domain: str) -> ShopToken:
        lock = self.redis.lock(
            f"relais:shopify:token-refresh:{shop_domain}",
            timeout=LOCK_TIMEOUT_SECONDS,
            blocking_timeout=LOCK_TIMEOUT_SECONDS + 5,
        )
        try:
            acquired = lock.acquire()
        except RedisError as exc:
            raise AdminUnavailable(f"token refresh lock unavailable: {exc}") from exc
        if not acquired:
            raise AdminUnavailable(f"token of {shop_domain} is being refreshed; retry later")
        try:
            # Another process may have refreshed while this one waited for the lock.
            token = self.get(shop_domain)
            if token is None:
                raise NoAccessToken(f"no access token for {shop_domain}")
            if not token.expires_soon(utcnow()):
                return token
            result = self.shopify.refresh_token_exchanged_access_token(
                token.as_exchange_token(), http_client=self.http_client
            )
            if result.ok and result.access_token is not None:
                with self.db.transaction() as session:
                    store_token(session, self.box, token.shop_id, result.access_token)
                log.info("access token of %s refreshed", shop_domain)
                refreshed = self.get(shop_domain)
                assert refreshed is not None
                return refreshed
            if result.ok:
                return token  # the package judged it still valid
            if result.log.code in ("refresh_token_expired", "invalid_grant"):
                with self.db.transaction() as session:
                    revoke_shop_access(session, token.shop_id)
                raise NoAccessToken(
                    f"refresh token of {shop_domain} no longer valid ({result.log.code})"
                )
            raise AdminUnavailable(f"token refresh of {shop_domain} failed ({result.log.code})")
        finally:
            try:
                lock.release()
            except (LockError, RedisError):
                # The lock expired (a very slow refresh): nothing left to release.
                log.warning("token refresh lock of %s had expired", shop_domain)


def store_token(
    session: Session, box: SecretBox, shop_id: int, token: TokenExchangeAccessToken
) -> None:
    """Insert or replace the shop's token pair in one statement's worth of writes."""
    row = session.get(ShopifyAccessToken, shop_id)
    if row is None:
        row = ShopifyAccessToken(shop_id=shop_id, obtained_at=utcnow())
        session.add(row)
    else:
        row.refreshed_at = utcnow()
    row.access_mode = token.access_mode
    row.access_token_encrypted = box.encrypt(token.token)
    row.refresh_token_encrypted = box.encrypt(token.refresh_token) if token.refresh_token else None
    row.scope = token.scope or ""
    row.expires_at = _parse_iso(token.expires)
    row.refresh_token_expires_at = _parse_iso(token.refresh_token_expires)


def revoke_shop_access(session: Session, shop_id: int) -> None:
    """Delete the shop's tokens (``app/uninstalled``, or a token Shopify refused).

    Reinstalling works without anything else: the next embedded load finds no token and
    exchanges a new one.
    """
    session.execute(delete(ShopifyAccessToken).where(ShopifyAccessToken.shop_id == shop_id))


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime(_ISO) if value else None


def _parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None

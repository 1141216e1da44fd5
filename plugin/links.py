"""Signed shopper links: the one place that makes and reads the token naming an order.

A token is ``{shop handle}~{order public_id}`` signed with HMAC-SHA256 under ``SECRET_KEY``
(itsdangerous). It is bound to its shop: the handle is part of the signed value, so a token
made for one shop is refused by another shop's app proxy. It carries no expiry because it
is printed in emails and Wallet passes that live as long as the order; redacting the order
(or rotating ``SECRET_KEY``) is what retires it.

Pure functions, no Flask: notifications, Wallet and the storefront all build links here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit

from itsdangerous import BadSignature, Serializer, Signer, URLSafeSerializer
from itsdangerous.encoding import base64_encode

from plugin.config import Config

MYSHOPIFY_SUFFIX = ".myshopify.com"
# Where Shopify's app proxy is mounted on the shop's domain (shopify.app.toml).
PROXY_PATH_PREFIX = "/apps/track"
_SALT = "relais.order-link.v1"
_SEPARATOR = "~"
_SHOP_HANDLE = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
_PUBLIC_ID = re.compile(r"^[A-Za-z0-9_-]{8,32}$")


@dataclass(frozen=True)
class OrderRef:
    """What a valid token names: an order (by its public id) of one shop."""

    shop_domain: str
    public_id: str


@lru_cache(maxsize=8)
def _signer(secret_key: str) -> Signer:
    # Built once per key: every message signs several links.
    return Signer(secret_key, salt=_SALT, sep=".", digest_method=hashlib.sha256)


def shop_handle(shop_domain: str) -> str:
    """``demo-shop`` for ``demo-shop.myshopify.com``."""
    domain = shop_domain.strip().lower()
    if domain.endswith(MYSHOPIFY_SUFFIX):
        domain = domain[: -len(MYSHOPIFY_SUFFIX)]
    if not _SHOP_HANDLE.match(domain):
        raise ValueError(f"not a myshopify domain: {shop_domain!r}")
    return domain


def make_order_token(secret_key: str, shop_domain: str, order_public_id: str) -> str:
    """Sign the reference to one order of one shop (URL-safe, about 80 characters)."""
    if not _PUBLIC_ID.match(order_public_id):
        raise ValueError("order public id has an unexpected shape")
    value = f"{shop_handle(shop_domain)}{_SEPARATOR}{order_public_id}"
    return _signer(secret_key).sign(value).decode("ascii")


def read_order_token(secret_key: str, token: str) -> OrderRef | None:
    """The order a token names, or None when it is malformed or its signature is wrong."""
    if not token or len(token) > 200:
        return None
    try:
        value = _signer(secret_key).unsign(token.encode("ascii")).decode("ascii")
    except (BadSignature, UnicodeError):
        return None
    handle, sep, public_id = value.partition(_SEPARATOR)
    if not sep or not _SHOP_HANDLE.match(handle) or not _PUBLIC_ID.match(public_id):
        return None
    return OrderRef(shop_domain=handle + MYSHOPIFY_SUFFIX, public_id=public_id)


def utm_query(*, channel: str | None, milestone: str | None, extra: str | None = None) -> str:
    """``utm_source=relais&utm_medium=…&utm_campaign=…`` (only the parts that are known)."""
    params = {"utm_source": "relais"}
    if channel:
        params["utm_medium"] = channel
    if milestone:
        params["utm_campaign"] = milestone
    if extra:
        params["utm_content"] = extra
    return urlencode(params)


def tracking_link(
    config: Config,
    shop_domain: str,
    order_public_id: str,
    *,
    channel: str | None = None,
    milestone: str | None = None,
    host: str | None = None,
) -> str:
    """The shopper's tracking page on the shop's own domain, through the app proxy.

    ``host`` is the shop's primary domain when known (``shop.primary_domain``); the
    myshopify domain works too, Shopify redirects it. ``channel`` (email, sms, whatsapp,
    wallet) and ``milestone`` become the UTM medium and campaign.
    """
    token = make_order_token(config.secret_key, shop_domain, order_public_id)
    base = f"https://{host or shop_domain}{PROXY_PATH_PREFIX}/o/{token}"
    return f"{base}?{utm_query(channel=channel, milestone=milestone)}"


def standalone_tracking_link(config: Config, shop_domain: str, order_public_id: str) -> str:
    """The same page served by Relais itself, for shops without the app proxy."""
    token = make_order_token(config.secret_key, shop_domain, order_public_id)
    return f"{config.app_url}/t/{token}"


_SHORT_SALT = b"relais.short-link.v1:"
_SHORT_SIGNATURE_LENGTH = 10
_SHORT_CODE = re.compile(r"^[A-Za-z0-9_-]{18,42}$")


def _short_signature(secret_key: str, order_public_id: str) -> str:
    digest = hmac.new(
        secret_key.encode(), _SHORT_SALT + order_public_id.encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:_SHORT_SIGNATURE_LENGTH]


def short_tracking_link(config: Config, order_public_id: str) -> str:
    """A tracking link short enough for one SMS segment: ``APP_URL/s/<public id><signature>``.

    The public id is already 128 random bits; the 60-bit signature makes codes that were
    never issued fail without a database look-up. ``/s/`` redirects to the tracking page.
    """
    if not _PUBLIC_ID.match(order_public_id):
        raise ValueError("order public id has an unexpected shape")
    signature = _short_signature(config.secret_key, order_public_id)
    return f"{config.app_url}/s/{order_public_id}{signature}"


def read_short_code(secret_key: str, code: str) -> str | None:
    """The order public id a short code names, or None when it is not one Relais issued."""
    if not _SHORT_CODE.match(code or ""):
        return None
    public_id, signature = code[:-_SHORT_SIGNATURE_LENGTH], code[-_SHORT_SIGNATURE_LENGTH:]
    if not _PUBLIC_ID.match(public_id):
        return None
    expected = _short_signature(secret_key, public_id)
    return public_id if hmac.compare_digest(signature, expected) else None


def wallet_pass_link(config: Config, shop_domain: str, order_public_id: str) -> str:
    """Where "Add to Apple Wallet" points: the order's pass, served by the Wallet package."""
    token = make_order_token(config.secret_key, shop_domain, order_public_id)
    return f"{config.app_url}/wallet/passes/{token}.pkpass"


def wallet_order_link(config: Config, shop_domain: str, order_public_id: str) -> str:
    """Where "Add to Apple Wallet" points for a Wallet order (the order, not a pass)."""
    token = make_order_token(config.secret_key, shop_domain, order_public_id)
    return f"{config.app_url}/wallet/orders/{token}.order"


# --- click-counting redirect and one-tap ratings -------------------------------------------

_CLICK_SALT = "relais.click.v1"
_RATING_SALT = "relais.rating.v1"
_UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content")


@dataclass(frozen=True)
class ClickRef:
    """What a click token carries: whose link, where to, and which message sent it."""

    shop_domain: str
    target_url: str
    channel: str | None
    milestone: str | None
    message_id: int | None


@dataclass(frozen=True)
class RatingRef:
    """One answer of a one-tap rating link: this shipment of this order, this score."""

    shop_domain: str
    public_id: str
    shipment_id: int
    score: int
    channel: str | None


class _LinkSerializer(URLSafeSerializer):
    """itsdangerous' URL-safe serializer, compressing with a small zlib window.

    ``zlib.compress`` sets up a 32 KB window and its full memory for a payload of a few
    hundred bytes: that was 35 µs of the 60 µs a click link took, and every email carries
    two. A 1 KB window makes tokens of the same length here. The output is ordinary zlib
    data with itsdangerous' own "." marker, so ``loads`` reads these tokens and every token
    issued before alike.
    """

    def dump_payload(self, obj: Any) -> bytes:
        data = Serializer.dump_payload(self, obj)  # the JSON, before the mixin compresses it
        # zlib's default level; a 2**10-byte window and little memory (the defaults: 2**15, 8).
        compressor = zlib.compressobj(level=6, wbits=10, memLevel=2)
        compressed = compressor.compress(data) + compressor.flush()
        if len(compressed) < len(data) - 1:
            return b"." + base64_encode(compressed)
        return base64_encode(data)


@lru_cache(maxsize=16)
def _serializer(secret_key: str, salt: str) -> URLSafeSerializer:
    return _LinkSerializer(secret_key, salt=salt, signer_kwargs={"digest_method": hashlib.sha256})


def with_utm(url: str, *, channel: str | None, milestone: str | None) -> str:
    """``url`` with Relais's UTM parameters (replacing any UTM it had, keeping the rest as
    it was written)."""
    # Plain string work rather than urlsplit/parse_qsl/urlencode: this runs for every link
    # of every email, and the parameters kept need no decoding, only their names.
    head, hashmark, fragment = url.partition("#")
    base, _, query = head.partition("?")
    kept = [
        pair
        for pair in query.split("&")
        if pair and unquote_plus(pair.partition("=")[0]) not in _UTM_KEYS
    ]
    kept.append(utm_query(channel=channel, milestone=milestone))
    return f"{base}?{'&'.join(kept)}{hashmark}{fragment}"


def click_link(
    config: Config,
    shop_domain: str,
    target_url: str,
    *,
    channel: str | None,
    milestone: str | None,
    message_id: int | None = None,
) -> str:
    """A link on Relais that counts the click, then sends to ``target_url`` with UTM added.

    The target must be on the shop's myshopify domain, its primary domain or Relais itself;
    the redirect checks it again when followed (see :func:`allowed_redirect_hosts`).
    """
    payload: dict[str, Any] = {
        "s": shop_handle(shop_domain),
        "u": with_utm(target_url, channel=channel, milestone=milestone),
    }
    if channel:
        payload["c"] = channel
    if milestone:
        payload["m"] = milestone
    if message_id is not None:
        payload["i"] = int(message_id)
    token = _serializer(config.secret_key, _CLICK_SALT).dumps(payload)
    return f"{config.app_url}/r/{token}"


def read_click_token(secret_key: str, token: str) -> ClickRef | None:
    """The click a token describes, or None when it is malformed or not signed by us."""
    if not token or len(token) > 4000:
        return None
    try:
        data = _serializer(secret_key, _CLICK_SALT).loads(token)
    except (BadSignature, UnicodeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    handle, target = data.get("s"), data.get("u")
    message_id = data.get("i")
    if not isinstance(handle, str) or not _SHOP_HANDLE.match(handle) or not isinstance(target, str):
        return None
    return ClickRef(
        shop_domain=handle + MYSHOPIFY_SUFFIX,
        target_url=target,
        channel=_short(data.get("c")),
        milestone=_short(data.get("m")),
        message_id=message_id if isinstance(message_id, int) else None,
    )


def allowed_redirect_hosts(
    config: Config, shop_domain: str, primary_domain: str | None
) -> set[str]:
    """Where the click redirect may send: the shop's own domains and Relais itself."""
    hosts = {shop_domain.lower(), urlsplit(config.app_url).netloc.lower()}
    if primary_domain:
        hosts.add(primary_domain.lower())
    return hosts


def is_allowed_target(url: str, hosts: set[str]) -> bool:
    """True for an absolute http(s) URL whose host (and port) is one of ``hosts``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in ("https", "http") or parts.username or parts.password:
        return False
    return parts.netloc.lower() in hosts


def rating_link(
    config: Config,
    shop_domain: str,
    order_public_id: str,
    shipment_id: int,
    score: int,
    *,
    channel: str | None,
) -> str:
    """A one-tap answer: following it records ``score`` for the shipment (a later tap updates)."""
    if not _PUBLIC_ID.match(order_public_id):
        raise ValueError("order public id has an unexpected shape")
    payload: list[Any] = [shop_handle(shop_domain), order_public_id, int(shipment_id), int(score)]
    if channel:
        payload.append(channel)
    token = _serializer(config.secret_key, _RATING_SALT).dumps(payload)
    query = utm_query(channel=channel, milestone="feedback_request")
    return f"{config.app_url}/f/{token}?{query}"


def read_rating_token(secret_key: str, token: str) -> RatingRef | None:
    if not token or len(token) > 400:
        return None
    try:
        data = _serializer(secret_key, _RATING_SALT).loads(token)
    except (BadSignature, UnicodeError, ValueError):
        return None
    if not isinstance(data, list) or len(data) not in (4, 5):
        return None
    handle, public_id, shipment_id, score = data[:4]
    if not (
        isinstance(handle, str)
        and _SHOP_HANDLE.match(handle)
        and isinstance(public_id, str)
        and _PUBLIC_ID.match(public_id)
        and isinstance(shipment_id, int)
        and isinstance(score, int)
    ):
        return None
    return RatingRef(
        shop_domain=handle + MYSHOPIFY_SUFFIX,
        public_id=public_id,
        shipment_id=shipment_id,
        score=score,
        channel=_short(data[4]) if len(data) == 5 else None,
    )


def _short(value: object) -> str | None:
    return value[:32] if isinstance(value, str) and value else None

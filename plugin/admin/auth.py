"""Who is asking: every admin page and JSON endpoint verifies App Bridge's ID token.

Pages (document requests) carry the token in the ``id_token`` query parameter Shopify adds;
without one, ``shopify_app`` answers with a redirect to the patch-ID-token page, where App
Bridge fetches a fresh token and reloads. JSON endpoints require ``Authorization: Bearer``.
``verify_app_home_req`` checks the signature, expiry (``exp``, ``nbf``) and audience;
:func:`check_shop_claims` adds that ``iss`` and ``dest`` name the same shop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Response, jsonify, make_response, request
from shopify_app.types import RequestInput, ResultWithExchangeableIdToken
from shopify_app.types import Res as ShopifyResponse
from sqlalchemy import select

from plugin.admin.i18n import Translator, language_from_locale
from plugin.models import Shop
from plugin.runtime import current_runtime
from plugin.shopify.installation import ensure_installed

log = logging.getLogger(__name__)

PATCH_ID_TOKEN_PATH = "/auth/patch-id-token"  # noqa: S105 - a path, not a secret
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class AdminSession:
    """A verified merchant request: which shop, which staff member, which language."""

    shop_id: int
    shop_domain: str
    user_id: str | None
    language: str
    shopify_locale: str

    @property
    def t(self) -> Translator:
        return Translator(self.language)


def shopify_request() -> RequestInput:
    """The request in ``shopify_app``'s shape. The origin is ``APP_URL`` (never the Host
    header), so redirects built from it point at Relais even behind a tunnel or a proxy."""
    app_url = current_runtime().config.app_url
    path = request.full_path[:-1] if request.full_path.endswith("?") else request.full_path
    return {
        "method": request.method,
        "headers": dict(request.headers),
        "url": app_url + path,
        "body": request.get_data(as_text=True) if request.method != "GET" else "",
    }


def as_flask_response(response: ShopifyResponse) -> Response:
    """Return the package's response verbatim: its status, body and security headers."""
    return Response(response.body, status=response.status, headers=dict(response.headers))


def check_shop_claims(result: ResultWithExchangeableIdToken) -> str | None:
    """The shop domain if ``iss`` and ``dest`` both name ``result.shop``; None otherwise."""
    if not result.shop or result.id_token is None:
        return None
    claims = result.id_token.claims
    expected = f"{result.shop}.myshopify.com"
    dest = urlsplit(str(claims.get("dest", ""))).hostname
    issuer = urlsplit(str(claims.get("iss", ""))).hostname
    if dest != expected or issuer != expected:
        return None
    return expected


def _locale() -> str:
    return (request.args.get("locale") or "").strip()[:16]


def app_home_page(view: F) -> F:
    """Decorate a page: verify the request, install the shop on first sight, copy headers.

    The view receives an :class:`AdminSession` as its first argument.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        runtime = current_runtime()
        result = runtime.shopify.verify_app_home_req(
            shopify_request(), app_home_patch_id_token_path=PATCH_ID_TOKEN_PATH
        )
        if not result.ok:
            log.info("app home not verified: %s", result.log.code)
            return as_flask_response(result.response)
        shop_domain = check_shop_claims(result)
        if shop_domain is None:
            log.warning("app home: iss and dest of the ID token disagree")
            return Response("Unauthorized", status=401)
        installation = ensure_installed(runtime, shop_domain, result)
        if installation.response is not None:
            return as_flask_response(installation.response)
        session = AdminSession(
            shop_id=installation.shop_id,
            shop_domain=shop_domain,
            user_id=result.user_id,
            language=language_from_locale(_locale()),
            shopify_locale=_locale(),
        )
        response = make_response(view(session, *args, **kwargs))
        for header, value in result.response.headers.items():
            response.headers[header] = value
        return response

    return cast(F, wrapper)


def admin_api(view: F) -> F:
    """Decorate a JSON endpoint: a valid bearer ID token of an installed shop is required."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response | tuple[Response, int]:
        runtime = current_runtime()
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return _unauthorized("missing bearer token")
        result = runtime.shopify.verify_app_home_req(
            shopify_request(), app_home_patch_id_token_path=PATCH_ID_TOKEN_PATH
        )
        if not result.ok:
            response = as_flask_response(result.response)
            response.headers["Content-Type"] = "application/json"
            response.set_data('{"error": "invalid session token"}')
            return response
        shop_domain = check_shop_claims(result)
        if shop_domain is None:
            return _unauthorized("token issuer and destination disagree")
        with runtime.db.session() as db_session:
            shop = db_session.execute(
                select(Shop.id, Shop.uninstalled_at).where(Shop.domain == shop_domain)
            ).one_or_none()
        if shop is None or shop.uninstalled_at is not None:
            return jsonify(error="shop not installed"), 403
        session = AdminSession(
            shop_id=shop.id,
            shop_domain=shop_domain,
            user_id=result.user_id,
            language=language_from_locale(_locale()),
            shopify_locale=_locale(),
        )
        return cast(Response, view(session, *args, **kwargs))

    return cast(F, wrapper)


def _unauthorized(reason: str) -> tuple[Response, int]:
    log.info("admin api refused: %s", reason)
    response = jsonify(error="invalid session token")
    # Tells App Bridge to fetch a fresh ID token and send the request again.
    response.headers["X-Shopify-Retry-Invalid-Session-Request"] = "1"
    return response, 401

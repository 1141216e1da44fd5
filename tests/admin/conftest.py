"""Admin tests: the app talks to the Shopify stand-in; SendGrid's and Twilio's account
endpoints answer from a local recording server; requests carry ID tokens signed here."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from plugin.config import Config
from tests.standins.http_recorder import Answer, RecordedRequest, RecordingServer
from tests.standins.shopify_fixtures import (  # noqa: F401 - fixtures
    TEST_API_KEY,
    TEST_API_SECRET,
    connection,
    installed,
    sleeps,
    standin,
)
from tests.standins.shopify_server import id_token

SENDGRID_KEY = "SG.abcdefghijklmnopqrstuv.ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg"
SENDGRID_READONLY_KEY = "SG.readonlyreadonlyread.ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg"
VERIFIED_SENDER = "bonjour@maison-lumiere.fr"
TWILIO_SID = "AC" + "1" * 32
TWILIO_TOKEN = "f" * 32


def _provider_accounts(request: RecordedRequest) -> Answer:
    """SendGrid's ``/v3/scopes`` and ``/v3/verified_senders``, Twilio's account resource."""
    auth = request.headers.get("Authorization", "")
    if request.path == "/v3/scopes":
        if auth == f"Bearer {SENDGRID_KEY}":
            return Answer(200, {"scopes": ["mail.send", "sender_verification_eligible"]})
        if auth == f"Bearer {SENDGRID_READONLY_KEY}":
            return Answer(200, {"scopes": ["stats.read"]})
        return Answer(401, {"errors": [{"field": None, "message": "authorization required"}]})
    if request.path.startswith("/v3/verified_senders"):
        return Answer(
            200, {"results": [{"id": 1, "from_email": VERIFIED_SENDER, "verified": True}]}
        )
    if request.path == f"/2010-04-01/Accounts/{TWILIO_SID}.json":
        expected = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        if auth == f"Basic {expected}":
            return Answer(200, {"sid": TWILIO_SID, "status": "active"})
        return Answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
    return Answer(404, {"message": "not found"})


@pytest.fixture
def providers() -> Iterator[RecordingServer]:
    with RecordingServer(_provider_accounts) as server:
        yield server


@pytest.fixture
def config(config: Config, providers: RecordingServer) -> Config:
    return config.with_overrides(sendgrid_host=providers.url, twilio_base_url=providers.url)


@pytest.fixture
def sign() -> Callable[..., str]:
    """An ID token for ``shop`` signed with the app's secret (claims may be overridden)."""

    def make(shop: str = "demo-shop.myshopify.com", **claims: Any) -> str:
        return id_token(shop, client_id=TEST_API_KEY, secret=TEST_API_SECRET, **claims)

    return make


@pytest.fixture
def api(client: FlaskClient, sign: Callable[..., str], installed) -> Callable[..., Any]:  # noqa: F811
    """Call a JSON endpoint as App Bridge would (bearer ID token of the installed shop)."""

    def call(
        method: str, path: str, body: dict[str, Any] | None = None, *, locale: str = "fr"
    ) -> Any:
        separator = "&" if "?" in path else "?"
        return client.open(
            f"{path}{separator}locale={locale}",
            method=method,
            json=body if body is not None else None,
            headers={"Authorization": f"Bearer {sign(installed.domain)}"},
        )

    return call

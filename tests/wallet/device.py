"""A Wallet device and a Shopify order, as the integration tests drive them.

``WalletDevice`` speaks Apple's web-service protocol the way iOS does (paths, headers and
status codes written here from Apple's documentation, not taken from the code under
test); ``OrderStory`` sends the signed webhooks of one order.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from plugin.config import Config
from plugin.links import wallet_order_link, wallet_pass_link
from plugin.models import Order
from plugin.runtime import Runtime
from plugin.shopify_payloads import (
    Item,
    Shopper,
    fulfillment_event_payload,
    fulfillment_payload,
    next_id,
    order_payload,
)
from tests.conftest import DEMO_SHOP
from tests.wallet.checks import check_manifest, unzip
from tests.wallet.conftest import ORDER_TYPE, PASS_TYPE

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


@dataclass(frozen=True)
class Kind:
    """What differs between passes and Wallet orders on the wire."""

    name: str
    base: str  # the webServiceURL's path
    type_identifier: str
    scheme: str
    since: str
    list_key: str
    tag_key: str
    package_path: str
    mime_type: str
    document: str
    identifier_key: str
    digest: str


PASS = Kind(
    "pass", "/wallet", PASS_TYPE, "ApplePass", "passesUpdatedSince", "serialNumbers",
    "lastUpdated", "passes", "application/vnd.apple.pkpass", "pass.json", "serialNumber",
    "sha1",
)  # fmt: skip
ORDER = Kind(
    "order", "/wallet/orders", ORDER_TYPE, "AppleOrder", "ordersModifiedSince",
    "orderIdentifiers", "lastModified", "orders", "application/vnd.apple.finance.order",
    "order.json", "orderIdentifier", "sha256",
)  # fmt: skip
KINDS = {"pass": PASS, "order": ORDER}


@dataclass
class Package:
    """A downloaded package, opened and its manifest checked."""

    kind: Kind
    files: dict[str, bytes]
    last_modified: str | None

    @property
    def document(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.files[self.kind.document])
        return result

    @property
    def identifier(self) -> str:
        return str(self.document[self.kind.identifier_key])

    @property
    def token(self) -> str:
        return str(self.document["authenticationToken"])

    def strings(self, language: str) -> str:
        name = "pass.strings" if self.kind is PASS else "order.strings"
        return self.files[f"{language}.lproj/{name}"].decode()


def open_package(kind: Kind, response: Any) -> Package:
    assert response.status_code == 200, response.data[:200]
    assert response.mimetype == kind.mime_type
    files = unzip(response.data)
    check_manifest(files, kind.digest)
    return Package(kind, files, response.headers.get("Last-Modified"))


def download(client: FlaskClient, config: Config, kind: Kind, public_id: str) -> Package:
    """What the shopper's browser does with the "Add to Apple Wallet" link."""
    make = wallet_pass_link if kind is PASS else wallet_order_link
    url = make(config, DEMO_SHOP, public_id)
    assert url.startswith(config.app_url)
    return open_package(kind, client.get(url.removeprefix(config.app_url)))


@dataclass
class WalletDevice:
    """One iPhone: a device library identifier and an APNs push token."""

    client: FlaskClient
    identifier: str
    push_token: str

    def _auth(self, kind: Kind, token: str | None) -> dict[str, str]:
        return {"Authorization": f"{kind.scheme} {token}"} if token is not None else {}

    def register(self, kind: Kind, serial: str, token: str | None) -> Any:
        return self.client.post(
            f"{kind.base}/v1/devices/{self.identifier}/registrations/{kind.type_identifier}/{serial}",
            json={"pushToken": self.push_token},
            headers=self._auth(kind, token),
        )

    def unregister(self, kind: Kind, serial: str, token: str | None) -> Any:
        return self.client.delete(
            f"{kind.base}/v1/devices/{self.identifier}/registrations/{kind.type_identifier}/{serial}",
            headers=self._auth(kind, token),
        )

    def changed(self, kind: Kind, tag: str | None = None) -> Any:
        query = {kind.since: tag} if tag is not None else {}
        return self.client.get(
            f"{kind.base}/v1/devices/{self.identifier}/registrations/{kind.type_identifier}",
            query_string=query,
        )

    def latest(
        self, kind: Kind, serial: str, token: str | None, *, since: str | None = None,
        method: str = "GET",
    ) -> Any:  # fmt: skip
        headers = self._auth(kind, token)
        if since is not None:
            headers["If-Modified-Since"] = since
        return self.client.open(
            f"{kind.base}/v1/{kind.package_path}/{kind.type_identifier}/{serial}",
            method=method,
            headers=headers,
        )


class OrderStory:
    """One French order of the demo shop, driven through signed webhooks."""

    def __init__(
        self, post_webhook: Callable[..., Any], run_jobs: Callable[[], int], number: int = 1001
    ) -> None:
        self.post, self.run = post_webhook, run_jobs
        self.order_id = next_id()
        self.number = number
        self.items = [Item("Bougie parfumée", "32.00", sku="BOU-1"), Item("Plaid", "59.00")]
        self.shopper = Shopper(
            "Camille", "Martin", "camille@example.fr", "+33612345678", "Lyon", "69003", "FR", "fr"
        )

    def create(self, **changes: Any) -> OrderStory:
        payload = order_payload(
            order_id=self.order_id,
            number=self.number,
            shopper=self.shopper,
            items=self.items,
            created_at=T0,
            **changes,
        )
        assert self.post("orders/create", payload).status_code == 200
        self.run()
        return self

    def cancel(self, hours: float) -> None:
        at = T0 + timedelta(hours=hours)
        payload = order_payload(
            order_id=self.order_id,
            number=self.number,
            shopper=self.shopper,
            items=self.items,
            created_at=T0,
            updated_at=at,
            cancelled_at=at,
        )
        assert self.post("orders/cancelled", payload).status_code == 200
        self.run()

    def ship(self, fulfillment_id: int, items: list[Item] | None = None, **changes: Any) -> None:
        changes.setdefault("created_at", T0 + timedelta(hours=2))
        payload = fulfillment_payload(
            fulfillment_id=fulfillment_id,
            order_id=self.order_id,
            name=f"#{self.number}.{fulfillment_id % 10}",
            items=items or self.items,
            **changes,
        )
        assert self.post("fulfillments/create", payload).status_code == 200
        self.run()

    def event(self, fulfillment_id: int, status: str, hours: float, **changes: Any) -> None:
        payload = fulfillment_event_payload(
            event_id=next_id(),
            fulfillment_id=fulfillment_id,
            order_id=self.order_id,
            status=status,
            happened_at=T0 + timedelta(hours=hours),
            **changes,
        )
        assert self.post("fulfillment_events/create", payload).status_code == 200
        self.run()

    def public_id(self, runtime: Runtime) -> str:
        with runtime.db.session() as session:
            public_id = session.scalar(
                select(Order.public_id).where(Order.shopify_id == self.order_id)
            )
        assert public_id is not None
        return public_id

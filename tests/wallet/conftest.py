"""Fixtures of the Wallet library tests: a development certificate chain, signing
identities, and typical pass and order contents."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from wallet.devcerts import DevCertificates, create_dev_certificates
from wallet.formats import LocalizedText
from wallet.orders import Fulfillment, LineItem, Merchant, Money, PickupPlace, WalletOrderContent
from wallet.passes import OrderPassContent, PickupPoint
from wallet.signing import SigningIdentity

PASS_TYPE = "pass.com.relais.order"
ORDER_TYPE = "order.com.relais"
TEAM = "RELAISDEV1"
KEY_PASSWORD = "correct horse battery staple"
PARIS = timezone(timedelta(hours=1), "CET")
NOW = datetime(2025, 3, 4, 9, 30, tzinfo=PARIS)
TOKEN = "tK4z9Qm2LxP7wR1vN8bY3cF6hJ0dS5aE"


@pytest.fixture(scope="session")
def chain(tmp_path_factory: pytest.TempPathFactory) -> DevCertificates:
    """A development chain whose keys are password-protected, as in production."""
    return create_dev_certificates(
        tmp_path_factory.mktemp("certs"),
        pass_type_identifier=PASS_TYPE,
        team_identifier=TEAM,
        order_type_identifier=ORDER_TYPE,
        key_password=KEY_PASSWORD,
    )


@pytest.fixture(scope="session")
def pass_identity(chain: DevCertificates) -> SigningIdentity:
    return SigningIdentity.from_files(
        chain.pass_certificate, chain.pass_key, chain.intermediate, password=KEY_PASSWORD
    )


@pytest.fixture(scope="session")
def order_identity(chain: DevCertificates) -> SigningIdentity:
    assert chain.order_certificate is not None and chain.order_key is not None
    return SigningIdentity.from_files(
        chain.order_certificate, chain.order_key, chain.intermediate, password=KEY_PASSWORD
    )


@pytest.fixture(scope="session")
def openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        pytest.skip("openssl is not installed: signatures cannot be checked independently")
    return path


def base_pass_content() -> OrderPassContent:
    return OrderPassContent(
        serial_number="demo-shop-1001-1",
        authentication_token=TOKEN,
        web_service_url="https://relais.example/wallet",
        pass_type_identifier=PASS_TYPE,
        team_identifier=TEAM,
        order_number="#1001",
        milestone="in_transit",
        milestone_at=NOW - timedelta(hours=3),
        shop_name="Maison Dupont",
        tracking_page_url="https://maison-dupont.fr/apps/track/o/Xy12",
        carrier="Colissimo",
        tracking_number="6A12345678901",
        tracking_url="https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901",
        estimated_delivery=NOW + timedelta(days=2),
        parcels=2,
        support_email="bonjour@maison-dupont.fr",
        support_phone="+33 1 23 45 67 89",
        offer=LocalizedText(
            "-10 % sur votre prochaine commande avec MERCI10",
            "10% off your next order with MERCI10",
        ),
    )


@pytest.fixture
def make_pass() -> Callable[..., OrderPassContent]:
    """Typical pass content; keyword arguments replace fields."""

    def make(**changes: Any) -> OrderPassContent:
        return dataclasses.replace(base_pass_content(), **changes)

    return make


PICKUP_POINT = PickupPoint(
    "Tabac de la Mairie", "12 place de la Mairie, 69003 Lyon", "Lun-Sam 8h-19h30"
)


def base_order_content() -> WalletOrderContent:
    return WalletOrderContent(
        order_type_identifier=ORDER_TYPE,
        order_identifier="demo-shop.myshopify.com/5551001",
        order_number="#1001",
        order_management_url="https://maison-dupont.fr/apps/track/o/Xy12",
        merchant=Merchant(
            merchant_identifier="merchant.com.relais.demo-shop",
            display_name="Maison Dupont",
            url="https://maison-dupont.fr",
            email="bonjour@maison-dupont.fr",
        ),
        created_at=NOW - timedelta(days=2),
        web_service_url="https://relais.example/wallet/orders",
        authentication_token=TOKEN,
        provider_url="https://relais.example",
        line_items=(
            LineItem("Tablier en lin", 1, Money(Decimal("39.90"), "EUR"), sku="TAB-LIN"),
            LineItem("Torchons (lot de 3)", 2, Money(Decimal("12.50"), "EUR")),
        ),
        fulfillments=(
            Fulfillment(
                identifier="ful-1",
                milestone="in_transit",
                carrier="Colissimo",
                tracking_number="6A12345678901",
                tracking_url="https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901",
                estimated_delivery_at=NOW + timedelta(days=2),
                shipped_at=NOW - timedelta(days=1),
                line_items=(0,),
            ),
            Fulfillment(
                identifier="ful-2",
                milestone="shipped",
                carrier="Mondial Relay",
                pickup=PickupPlace(
                    "Tabac de la Mairie",
                    ("12 place de la Mairie",),
                    postal_code="69003",
                    locality="Lyon",
                    opening_hours="Lun-Sam 8h-19h30",
                ),
                line_items=(1,),
            ),
        ),
    )


@pytest.fixture
def make_order() -> Callable[..., WalletOrderContent]:
    def make(**changes: Any) -> WalletOrderContent:
        return dataclasses.replace(base_order_content(), **changes)

    return make


@pytest.fixture
def now() -> datetime:
    return NOW


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ------------------------------------------------------- the app with Wallet wired in
#
# Tests of the integration (web services, push job) run the real app: the ``config``
# fixture of tests/conftest.py, plus the development chain above as the Wallet
# certificates and a local APNs stand-in as APNS_HOST.

APNS_KEY_ID = "RELAISKEY1"


@pytest.fixture(scope="session")
def apns_keys(tmp_path_factory: pytest.TempPathFactory, chain: DevCertificates) -> dict[str, Any]:
    from tests.standins.apns_server import write_server_certificate, write_token_key

    folder = tmp_path_factory.mktemp("apns-keys")
    certificate, key = write_server_certificate(folder)
    p8, public = write_token_key(folder, APNS_KEY_ID)
    client_ca = folder / "client-ca.pem"
    client_ca.write_bytes(chain.root.read_bytes() + chain.intermediate.read_bytes())
    return {"tls": certificate, "tls_key": key, "p8": p8, "public": public, "client_ca": client_ca}


@pytest.fixture
def apns(apns_keys: dict[str, Any]) -> Iterator[Any]:
    """The APNs stand-in: answers 200 unless a rule matches the device token's prefix."""
    from tests.standins.apns_server import ApnsStandIn, StandInConfig
    from wallet.jobs import close_clients

    stand_in_config = StandInConfig(
        certificate=apns_keys["tls"],
        key=apns_keys["tls_key"],
        topics=frozenset({PASS_TYPE, ORDER_TYPE}),
        token_keys={APNS_KEY_ID: (TEAM, apns_keys["public"])},
        client_ca=apns_keys["client_ca"],
    )
    with ApnsStandIn(stand_in_config) as server:
        yield server
        close_clients()


@pytest.fixture
def apns_auth_mode() -> str:
    """``certificate`` or ``token``; parametrize a test on it to run both."""
    return "certificate"


@pytest.fixture
def config(config: Any, chain: DevCertificates, apns: Any, apns_keys: dict[str, Any],
           apns_auth_mode: str) -> Any:  # fmt: skip
    assert chain.order_certificate is not None and chain.order_key is not None
    changes: dict[str, Any] = {
        "wallet_certificate": str(chain.pass_certificate),
        "wallet_key": str(chain.pass_key),
        "wallet_key_password": KEY_PASSWORD,
        "wallet_wwdr_certificate": str(chain.intermediate),
        "wallet_order_certificate": str(chain.order_certificate),
        "wallet_order_key": str(chain.order_key),
        "apns_host": apns.url,
        "apns_ca_file": str(apns_keys["tls"]),
    }
    if apns_auth_mode == "token":
        changes |= {"apns_key_path": str(apns_keys["p8"]), "apns_key_id": APNS_KEY_ID}
    return config.with_overrides(**changes)

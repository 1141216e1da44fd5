"""Wallet's place in the rest of Relais: privacy, uninstall, order view, links, presence,
development certificates, the CLI, and update numbers under concurrency."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from plugin.links import read_order_token
from plugin.models import DataExport, Order
from plugin.order_view import describe_order, render_text
from plugin.runtime import Runtime
from plugin.shopify_payloads import shop_payload
from tests.conftest import DEMO_SHOP
from tests.wallet.checks import openssl_verify
from tests.wallet.device import ORDER, PASS, OrderStory, WalletDevice, download, open_package
from wallet import service
from wallet.devcerts import DevCertificates
from wallet.models import WalletPass, WalletRegistration

PUSH_TOKEN = "ef" * 32


@pytest.fixture
def installed(
    shop: Any, post_webhook: Any, run_jobs: Any, client: Any, config: Any, runtime: Runtime
) -> OrderStory:
    """An order whose pass and Wallet order are on one device."""
    story = OrderStory(post_webhook, run_jobs).create()
    story.ship(6001)
    device = WalletDevice(client, "phone-of-camille", PUSH_TOKEN)
    for kind in (PASS, ORDER):
        package = download(client, config, kind, story.public_id(runtime))
        assert device.register(kind, package.identifier, package.token).status_code == 201
    return story


def _registrations(runtime: Runtime) -> int:
    with runtime.db.session() as session:
        return len(list(session.scalars(select(WalletRegistration.id))))


def test_push_tokens_are_exported_and_erased_with_the_customer(
    installed: OrderStory, post_webhook: Any, run_jobs: Any, runtime: Runtime
) -> None:
    customer = {"id": None, "email": installed.shopper.email, "phone": None}
    post_webhook(
        "customers/data_request",
        {"shop_domain": DEMO_SHOP, "customer": customer, "orders_requested": [],
         "data_request": {"id": 31}},
    )  # fmt: skip
    run_jobs()
    with runtime.db.session() as session:
        export = session.scalar(select(DataExport))
    assert export is not None
    wallet = export.content["wallet"]
    assert {(e["kind"], e["push_token"], e["order"]) for e in wallet} == {
        ("pass", PUSH_TOKEN, "#1001"),
        ("order", PUSH_TOKEN, "#1001"),
    }
    post_webhook(
        "customers/redact",
        {"shop_domain": DEMO_SHOP, "customer": customer, "orders_to_redact": []},
    )
    run_jobs()
    assert _registrations(runtime) == 0


def test_an_uninstalled_shop_pushes_no_more(
    installed: OrderStory, post_webhook: Any, run_jobs: Any, runtime: Runtime, apns: Any
) -> None:
    payload = shop_payload(name="Maison Lumière", domain=DEMO_SHOP, email="a@b.fr")
    post_webhook("app/uninstalled", payload)
    run_jobs()
    assert _registrations(runtime) == 0


def test_order_show_has_a_wallet_section_and_signed_links(
    installed: OrderStory, runtime: Runtime, client: Any, config: Any
) -> None:
    view = describe_order(runtime, "demo-shop", "#1001")
    wallet = view["wallet"]
    assert wallet["registrations"] == {"pass": 1, "order": 1}
    with runtime.db.session() as session:
        row = session.scalar(select(WalletPass))
        assert row is not None
    assert wallet["serial_number"] == row.serial_number
    assert wallet["last_update"] == row.updated_at.isoformat()
    assert f"wallet: pass {row.serial_number}, devices 1 pass, 1 order" in render_text(view)
    links = view["links"]
    public_id = installed.public_id(runtime)
    for key, suffix in (("wallet_pass", ".pkpass"), ("wallet_order", ".order")):
        token = links[key].rsplit("/", 1)[1].removesuffix(suffix)
        ref = read_order_token(config.secret_key, token)  # signed, bound to the shop
        assert ref is not None and (ref.shop_domain, ref.public_id) == (DEMO_SHOP, public_id)
    for key, kind in (("wallet_pass", PASS), ("wallet_order", ORDER)):
        response = client.get(links[key].removeprefix(config.app_url))
        assert open_package(kind, response).identifier == row.serial_number


def test_an_order_never_downloaded_has_no_wallet_section(
    shop: Any, post_webhook: Any, run_jobs: Any, runtime: Runtime
) -> None:
    OrderStory(post_webhook, run_jobs).create()
    assert describe_order(runtime, "demo-shop", "#1001")["wallet"] is None


def test_notifications_see_registered_devices(
    shop: Any, installed: OrderStory, runtime: Runtime, app: Any
) -> None:
    from plugin.notifications.services import current_services

    presence = current_services().wallet
    with runtime.db.session() as session:
        order_id = session.scalar(select(Order.id).where(Order.shopify_id == installed.order_id))
        assert order_id is not None
        assert presence.has_registered_device(session, order_id) is True
        assert presence.has_registered_device(session, order_id + 1000) is False


def test_without_certificates_a_development_chain_is_made_once(
    config: Any, shop: Any, post_webhook: Any, run_jobs: Any, runtime: Runtime,
    openssl: str, tmp_path: Path,
) -> None:  # fmt: skip
    from plugin import create_app

    bare = config.with_overrides(
        wallet_certificate=None, wallet_key=None, wallet_key_password=None,
        wallet_wwdr_certificate=None, wallet_order_certificate=None, wallet_order_key=None,
    )  # fmt: skip
    story = OrderStory(post_webhook, run_jobs).create()
    app = create_app(bare)
    try:
        other = app.test_client()
        package = download(other, bare, PASS, story.public_id(runtime))
        download(other, bare, ORDER, story.public_id(runtime))
    finally:
        app.extensions["relais"].db.dispose()
    folder = bare.instance_path / "wallet-dev"
    leaf = x509.load_pem_x509_certificate((folder / "pass-certificate.pem").read_bytes())
    subject = leaf.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        f"Pass Type ID: {bare.pass_type_identifier}"
    )
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == (
        bare.apple_team_id
    )
    chain = DevCertificates(
        root=folder / "root-ca.pem",
        intermediate=folder / "wwdr.pem",
        pass_certificate=folder / "pass-certificate.pem",
        pass_key=folder / "pass-key.pem",
    )
    openssl_verify(
        openssl, package.files["signature"], package.files["manifest.json"], chain, tmp_path
    )


def test_relais_wallet_dev_certs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from plugin.cli import cli

    monkeypatch.setenv("RELAIS_INSTANCE_DIR", str(tmp_path / "instance"))
    monkeypatch.setenv("APPLE_TEAM_ID", "ABCDE12345")
    runner = CliRunner()
    result = runner.invoke(cli, ["wallet", "dev-certs"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "instance" / "wallet-dev"
    assert f"WALLET_CERTIFICATE={folder / 'pass-certificate.pem'}" in result.output
    pem = (folder / "order-certificate.pem").read_bytes()
    leaf = x509.load_pem_x509_certificate(pem)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "Order Type ID: order.com.relais"
    )
    assert leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == (
        "ABCDE12345"
    )
    # Run again: the chain is kept; --force makes a new one.
    assert runner.invoke(cli, ["wallet", "dev-certs"]).exit_code == 0
    assert (folder / "order-certificate.pem").read_bytes() == pem
    assert runner.invoke(cli, ["wallet", "dev-certs", "--force"]).exit_code == 0
    assert (folder / "order-certificate.pem").read_bytes() != pem
    bad = runner.invoke(cli, ["wallet", "dev-certs", "--team", "lower"])
    assert bad.exit_code != 0


def test_update_numbers_are_unique_and_dates_strictly_increase_under_concurrency(
    shop: Any, post_webhook: Any, run_jobs: Any, client: Any, config: Any, runtime: Runtime
) -> None:
    story = OrderStory(post_webhook, run_jobs).create()
    download(client, config, PASS, story.public_id(runtime))
    with runtime.db.session() as session:
        order_id = session.scalar(select(Order.id).where(Order.shopify_id == story.order_id))
    assert order_id is not None
    seen: list[tuple[int, Any]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            for _ in range(10):
                with runtime.db.transaction() as session:
                    row = service.record_update(session, order_id)
                    assert row is not None
                    result = (row.update_seq, row.updated_at)
                with lock:
                    seen.append(result)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    seen.sort()
    numbers = [n for n, _ in seen]
    assert len(set(numbers)) == 40
    dates = [d for _, d in seen]
    assert all(a < b for a, b in itertools.pairwise(dates))

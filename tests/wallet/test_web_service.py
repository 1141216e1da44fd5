"""Apple's Wallet web services, driven as a device drives them, on the real app."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import pytest
from sqlalchemy import select, update

from plugin.models import Order
from plugin.runtime import Runtime
from tests.wallet.device import KINDS, ORDER, PASS, Kind, OrderStory, WalletDevice, download
from tests.wallet.device import open_package as opened
from wallet import service
from wallet.models import WalletPass, WalletRegistration

PUSH_TOKEN = "ab" * 32


@pytest.fixture(params=list(KINDS))
def kind(request: pytest.FixtureRequest) -> Kind:
    return KINDS[request.param]


@pytest.fixture
def story(shop: Any, post_webhook: Any, run_jobs: Any) -> OrderStory:
    story = OrderStory(post_webhook, run_jobs).create()
    story.ship(7001)
    return story


@pytest.fixture
def device(client: Any) -> WalletDevice:
    return WalletDevice(client, "0f9e8d7c6b5a49382716aabbccddeeff", PUSH_TOKEN)


def _http_date(value: str | None) -> datetime:
    assert value is not None
    return parsedate_to_datetime(value)


def test_the_full_device_dance(
    kind: Kind, story: OrderStory, device: WalletDevice, client: Any, config: Any,
    runtime: Runtime, apns: Any,
) -> None:  # fmt: skip
    # 1. The shopper taps "Add to Apple Wallet" on the tracking page (a signed link).
    first = download(client, config, kind, story.public_id(runtime))
    serial, token = first.identifier, first.token
    assert len(token) >= 16
    if kind is PASS:
        assert first.document["webServiceURL"] == f"{config.app_url}/wallet"
        assert first.document["generic"]["primaryFields"][0]["value"] == "Shipped"
    else:
        assert first.document["webServiceURL"] == f"{config.app_url}/wallet/orders"
        assert first.document["fulfillments"][0]["status"] == "shipped"

    # 2. Wallet registers the device: 201, then 200 for the same registration.
    assert device.register(kind, serial, token).status_code == 201
    assert device.register(kind, serial, token).status_code == 200

    # 3. It asks what changed (no tag yet): everything, with a tag as a string.
    listed = device.changed(kind)
    assert listed.status_code == 200
    body = listed.get_json()
    assert body[kind.list_key] == [serial]
    tag = body[kind.tag_key]
    assert isinstance(tag, str)
    assert device.changed(kind, tag).status_code == 204

    # 4. It fetches the package, then revalidates it: 304 with the same Last-Modified.
    current = opened(kind, device.latest(kind, serial, token))
    assert current.identifier == serial and current.token == token
    not_modified = device.latest(kind, serial, token, since=current.last_modified)
    assert not_modified.status_code == 304
    assert not_modified.data == b""

    # 5. The carrier scans the parcel out for delivery: a milestone webhook.
    story.event(7001, "out_for_delivery", 30)
    (push,) = [r for r in apns.requests if r.headers["apns-topic"] == kind.type_identifier]
    assert push.path == f"/3/device/{PUSH_TOKEN}"
    assert push.status == 200

    # 6. Pushed, the device polls again: its pass changed, under a newer tag.
    listed = device.changed(kind, tag)
    assert listed.status_code == 200
    assert listed.get_json()[kind.list_key] == [serial]
    new_tag = listed.get_json()[kind.tag_key]
    assert int(new_tag) > int(tag)
    assert device.changed(kind, new_tag).status_code == 204

    # 7. The package it had is stale: 200 with the new status and a later Last-Modified.
    fresh = opened(kind, device.latest(kind, serial, token, since=current.last_modified))
    assert _http_date(fresh.last_modified) > _http_date(current.last_modified)
    assert fresh.identifier == serial and fresh.token == token  # never change
    if kind is PASS:
        assert fresh.document["generic"]["primaryFields"][0]["value"] == "Out for delivery"
        assert '"Out for delivery" = "En cours de livraison";' in fresh.strings("fr")
    else:
        assert fresh.document["fulfillments"][0]["status"] == "outForDelivery"
        updated = datetime.fromisoformat(fresh.document["updatedAt"].replace("Z", "+00:00"))
        before = datetime.fromisoformat(current.document["updatedAt"].replace("Z", "+00:00"))
        assert updated > before
        assert updated == _http_date(fresh.last_modified)

    # 8. The shopper removes it from Wallet: unregistered, nothing more to list.
    assert device.unregister(kind, serial, token).status_code == 200
    assert device.changed(kind).status_code == 204


def test_credentials_are_checked(
    kind: Kind, story: OrderStory, device: WalletDevice, client: Any, config: Any,
    runtime: Runtime,
) -> None:  # fmt: skip
    package = download(client, config, kind, story.public_id(runtime))
    serial, token = package.identifier, package.token
    other_scheme = ORDER.scheme if kind is PASS else PASS.scheme
    for presented in (None, "", token[:-1] + ("x" if token[-1] != "x" else "y"), token + "x"):
        assert device.register(kind, serial, presented).status_code == 401
        assert device.unregister(kind, serial, presented).status_code == 401
        assert device.latest(kind, serial, presented).status_code == 401
    wrong_scheme = device.client.get(
        f"{kind.base}/v1/{kind.package_path}/{kind.type_identifier}/{serial}",
        headers={"Authorization": f"{other_scheme} {token}"},
    )
    assert wrong_scheme.status_code == 401
    assert device.latest(kind, "no-such-serial-number", token).status_code == 401
    # Another type identifier is not ours.
    wrong_type = device.client.get(f"{kind.base}/v1/{kind.package_path}/pass.other/{serial}")
    assert wrong_type.status_code == 404
    with runtime.db.session() as session:
        assert session.scalar(select(WalletRegistration)) is None


def test_a_registration_needs_a_push_token(
    story: OrderStory, device: WalletDevice, client: Any, config: Any, runtime: Runtime
) -> None:
    package = download(client, config, PASS, story.public_id(runtime))
    url = (
        f"/wallet/v1/devices/{device.identifier}/registrations/{PASS.type_identifier}/"
        f"{package.identifier}"
    )
    headers = {"Authorization": f"ApplePass {package.token}"}
    for body in ({}, {"pushToken": ""}, {"pushToken": "../../etc"}, {"pushToken": 12}):
        assert client.post(url, json=body, headers=headers).status_code == 400
    assert client.post(url, data=b"not json", headers=headers).status_code == 400


def test_a_known_device_with_a_new_push_token_keeps_one_registration(
    story: OrderStory, device: WalletDevice, client: Any, config: Any, runtime: Runtime
) -> None:
    package = download(client, config, PASS, story.public_id(runtime))
    assert device.register(PASS, package.identifier, package.token).status_code == 201
    device.push_token = "cd" * 32
    assert device.register(PASS, package.identifier, package.token).status_code == 200
    with runtime.db.session() as session:
        tokens = list(session.scalars(select(WalletRegistration.push_token)))
    assert tokens == ["cd" * 32]


def test_downloads_need_a_valid_signed_link(
    story: OrderStory, client: Any, config: Any, runtime: Runtime
) -> None:
    public_id = story.public_id(runtime)
    first = download(client, config, PASS, public_id)
    again = client.get(
        f"/wallet/passes/{first_link_token(config, public_id)}.pkpass"
    )  # the same link twice: the same serial number and token
    second = opened(PASS, again)
    assert (second.identifier, second.token) == (first.identifier, first.token)
    assert again.headers["Content-Disposition"] == 'attachment; filename="commande-1001.pkpass"'
    assert "no-cache" in again.headers["Cache-Control"]
    token = first_link_token(config, public_id)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/wallet/passes/{tampered}.pkpass").status_code == 404
    assert client.get(f"/wallet/passes/{public_id}.pkpass").status_code == 404
    assert client.get(f"/wallet/orders/{tampered}.order").status_code == 404
    # Another shop's secret signs nothing here.
    foreign = first_link_token(config.with_overrides(secret_key="another-app"), public_id)
    assert client.get(f"/wallet/passes/{foreign}.pkpass").status_code == 404
    # A redacted order retires its links and its pass.
    with runtime.db.transaction() as session:
        session.execute(update(Order).values(redacted_at=datetime.now(UTC)))
    assert client.get(f"/wallet/passes/{token}.pkpass").status_code == 404
    device = WalletDevice(client, "device0001", PUSH_TOKEN)
    assert device.latest(PASS, first.identifier, first.token).status_code == 401


def first_link_token(config: Any, public_id: str) -> str:
    from plugin.links import make_order_token

    return make_order_token(config.secret_key, "demo-shop.myshopify.com", public_id)


def test_head_answers_like_get_without_the_body(
    kind: Kind, story: OrderStory, device: WalletDevice, client: Any, config: Any,
    runtime: Runtime,
) -> None:  # fmt: skip
    package = download(client, config, kind, story.public_id(runtime))
    got = device.latest(kind, package.identifier, package.token)
    head = device.latest(kind, package.identifier, package.token, method="HEAD")
    assert head.status_code == 200
    assert head.data == b""
    assert head.mimetype == kind.mime_type
    assert head.headers["Last-Modified"] == got.headers["Last-Modified"]
    cached = device.latest(
        kind, package.identifier, package.token, since=got.headers["Last-Modified"], method="HEAD"
    )
    assert cached.status_code == 304
    # A date before the last change, or an unreadable one, gets the package.
    earlier = format_datetime(_http_date(got.headers["Last-Modified"]) - timedelta(seconds=1), True)
    assert device.latest(kind, package.identifier, package.token, since=earlier).status_code == 200
    garbage = device.latest(kind, package.identifier, package.token, since="yesterday")
    assert garbage.status_code == 200


def test_no_update_is_missed_between_two_polls(
    shop: Any, post_webhook: Any, run_jobs: Any, client: Any, config: Any, runtime: Runtime
) -> None:
    """Two passes on one device; updates land between polls, several in one second."""
    stories = [OrderStory(post_webhook, run_jobs, number=n).create() for n in (2001, 2002)]
    packages = [download(client, config, PASS, s.public_id(runtime)) for s in stories]
    device = WalletDevice(client, "device-two-passes", PUSH_TOKEN)
    for package in packages:
        assert device.register(PASS, package.identifier, package.token).status_code == 201
    listed = device.changed(PASS).get_json()
    assert sorted(listed["serialNumbers"]) == sorted(p.identifier for p in packages)
    tag = listed["lastUpdated"]

    def record(story: OrderStory) -> WalletPass:
        with runtime.db.transaction() as session:
            order_id = session.scalar(select(Order.id).where(Order.shopify_id == story.order_id))
            assert order_id is not None
            wallet_pass = service.record_update(session, order_id)
            assert wallet_pass is not None
            return wallet_pass

    first = record(stories[0])
    response = device.changed(PASS, tag).get_json()
    assert response["serialNumbers"] == [packages[0].identifier]
    tag = response["lastUpdated"]
    # Three updates within one second: both passes are listed, and the pass updated
    # twice has a Last-Modified later than its previous one each time.
    record(stories[1])
    second = record(stories[0])
    assert second.updated_at > first.updated_at
    assert second.update_seq > first.update_seq
    response = device.changed(PASS, tag).get_json()
    assert response["serialNumbers"] == [packages[1].identifier, packages[0].identifier]
    assert device.changed(PASS, response["lastUpdated"]).status_code == 204


# "³" passes str.isdigit() but not int(); full-width "12" passes both: neither is ours.
@pytest.mark.parametrize("tag", [None, "", "not-a-tag", "99999999999", "³", "\uff11\uff12"])
def test_a_tag_we_never_issued_lists_every_registration(
    tag: str | None, story: OrderStory, device: WalletDevice, client: Any, config: Any,
    runtime: Runtime,
) -> None:  # fmt: skip
    package = download(client, config, ORDER, story.public_id(runtime))
    device.register(ORDER, package.identifier, package.token)
    listed = device.changed(ORDER, tag)
    assert listed.status_code == 200
    assert listed.get_json()["orderIdentifiers"] == [package.identifier]


def test_unknown_devices_and_types_get_nothing(device: WalletDevice, client: Any) -> None:
    assert device.changed(PASS).status_code == 204
    assert client.get("/wallet/v1/devices/x/registrations/pass.other.type").status_code == 404
    assert client.get("/wallet/orders/v1/devices/x/registrations/order.other").status_code == 404


def test_device_logs_are_recorded(
    kind: Kind, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="wallet.views"):
        response = client.post(f"{kind.base}/v1/log", json={"logs": ["Signature invalid"]})
    assert response.status_code == 200
    assert "Signature invalid" in caplog.text
    assert client.post(f"{kind.base}/v1/log", data=b"junk").status_code == 200

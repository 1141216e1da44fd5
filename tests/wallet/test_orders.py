"""Wallet orders: order.json rules, status mapping, updatedAt, SHA-256 signed package."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from tests.wallet.checks import check_manifest, is_rfc3339, openssl_verify, unzip
from wallet.devcerts import DevCertificates
from wallet.formats import decode_strings
from wallet.images import encode_png
from wallet.orders import (
    Fulfillment,
    LineItem,
    Money,
    OrderValidationError,
    WalletOrderContent,
    build_order,
    next_updated_at,
    validate_order,
)
from wallet.package import Compression
from wallet.signing import SigningIdentity
from wallet.texts import MILESTONES

MakeOrder = Callable[..., WalletOrderContent]

# Apple's enumerations, written out here rather than imported from the code under test.
APPLE_SHIPPING = {"open", "processing", "onTheWay", "outForDelivery", "delivered", "shipped",
                  "issue", "cancelled"}  # fmt: skip
APPLE_PICKUP = {"open", "processing", "readyForPickup", "pickedUp", "issue", "cancelled"}
REQUIRED = {"schemaVersion", "orderType", "orderTypeIdentifier", "orderIdentifier",
            "orderManagementURL", "createdAt", "updatedAt", "status", "merchant"}  # fmt: skip

EXPECTED_SHIPPING = {
    "ordered": "open",
    "label_created": "processing",
    "not_shipped": "processing",
    "shipped": "shipped",
    "in_transit": "onTheWay",
    "stalled": "onTheWay",
    "delayed": "onTheWay",
    "late": "onTheWay",
    "out_for_delivery": "outForDelivery",
    "attempted_delivery": "issue",
    "ready_for_pickup": "issue",
    "pickup_reminder": "issue",
    "failure": "issue",
    "returning_to_sender": "issue",
    "delivered": "delivered",
    "feedback_request": "delivered",
    "cancelled": "cancelled",
}
EXPECTED_PICKUP = {
    "ordered": "open",
    "label_created": "processing",
    "not_shipped": "processing",
    "shipped": "processing",
    "in_transit": "processing",
    "stalled": "processing",
    "delayed": "processing",
    "late": "processing",
    "out_for_delivery": "processing",
    "attempted_delivery": "issue",
    "ready_for_pickup": "readyForPickup",
    "pickup_reminder": "readyForPickup",
    "failure": "issue",
    "returning_to_sender": "issue",
    "delivered": "pickedUp",
    "feedback_request": "pickedUp",
    "cancelled": "cancelled",
}


def order_rule_violations(document: dict[str, Any], files: dict[str, bytes]) -> list[str]:
    problems = [f"missing {key}" for key in REQUIRED - set(document)]
    if document.get("schemaVersion") != 1 or document.get("orderType") != "ecommerce":
        problems.append("schemaVersion/orderType")
    if document.get("status") not in {"open", "completed", "cancelled"}:
        problems.append("status")
    for key in ("createdAt", "updatedAt"):
        if not is_rfc3339(document.get(key)):
            problems.append(f"{key} not RFC 3339")
    merchant = document.get("merchant", {})
    problems += [
        f"merchant.{k}" for k in ("merchantIdentifier", "displayName", "url") if not merchant.get(k)
    ]
    if len(document.get("authenticationToken", "")) < 16:
        problems.append("authenticationToken shorter than 16")
    provider = document.get("orderProvider", {})
    logos = [v for k, v in provider.items() if k.startswith("trackingLogoName")]
    for name in (merchant.get("logo"), *logos):
        if name not in files:
            problems.append(f"image {name} not in the package")
    items = list(document.get("lineItems", []))
    for fulfillment in document.get("fulfillments", []):
        allowed = APPLE_SHIPPING if fulfillment["fulfillmentType"] == "shipping" else APPLE_PICKUP
        if fulfillment["status"] not in allowed:
            problems.append(f"{fulfillment['status']} is not an Apple status")
        for key in ("estimatedDeliveryAt", "deliveredAt", "shippedAt", "pickedUpAt"):
            if key in fulfillment and not is_rfc3339(fulfillment[key]):
                problems.append(f"{key} not RFC 3339")
        items += fulfillment.get("lineItems", [])
    for item in items:
        if not item.get("title") or not isinstance(item.get("quantity"), int):
            problems.append("line item title/quantity")
        if "price" in item and not isinstance(item["price"]["amount"], int | float):
            problems.append("price amount is not a number")
        if "image" in item and item["image"] not in files:
            problems.append(f"image {item['image']} not in the package")
    return problems


def test_order_package_is_valid_and_signed(
    make_order: MakeOrder,
    order_identity: SigningIdentity,
    chain: DevCertificates,
    openssl: str,
    tmp_path: Path,
    now: datetime,
) -> None:
    package = build_order(make_order(), order_identity, now=now)
    files = unzip(package.content)
    check_manifest(files, "sha256")
    assert all(len(d) == 64 for d in json.loads(files["manifest.json"]).values())
    signer = openssl_verify(openssl, files["signature"], files["manifest.json"], chain, tmp_path)
    assert x509.load_pem_x509_certificate(signer) == order_identity.certificate
    document = json.loads(files["order.json"])
    assert document == package.order_json
    assert order_rule_violations(document, files) == []
    assert validate_order(document) == []
    assert package.mime_type == "application/vnd.apple.finance.order"


def test_without_provider_url_the_order_names_no_provider(
    make_order: MakeOrder, order_identity: SigningIdentity, now: datetime
) -> None:
    package = build_order(make_order(provider_url=None), order_identity, now=now)
    assert "orderProvider" not in package.order_json
    files = unzip(package.content)
    assert "provider-light.png" not in files
    assert order_rule_violations(package.order_json, files) == []


def test_deflated_order_verifies(
    make_order: MakeOrder,
    order_identity: SigningIdentity,
    chain: DevCertificates,
    openssl: str,
    tmp_path: Path,
    now: datetime,
) -> None:
    package = build_order(make_order(), order_identity, now=now, compression=Compression.DEFLATED)
    files = unzip(package.content)
    check_manifest(files, "sha256")
    openssl_verify(openssl, files["signature"], files["manifest.json"], chain, tmp_path)
    assert json.loads(files["order.json"]) == package.order_json


def test_order_json_content(
    make_order: MakeOrder, order_identity: SigningIdentity, now: datetime
) -> None:
    document = build_order(make_order(), order_identity, now=now).order_json
    assert document["orderTypeIdentifier"] == "order.com.relais"
    assert document["orderNumber"] == "#1001"
    assert document["createdAt"] == "2025-03-02T09:30:00+01:00"
    assert document["updatedAt"] == "2025-03-04T09:30:00+01:00"
    assert document["status"] == "open"
    assert document["orderProvider"] == {
        "displayName": "Relais",
        "url": "https://relais.example",
        "trackingLogoNameLightColorScheme": "provider-light.png",
        "trackingLogoNameDarkColorScheme": "provider-dark.png",
    }
    assert document["lineItems"][0] == {
        "title": "Tablier en lin", "quantity": 1, "price": {"amount": 39.9, "currency": "EUR"},
        "sku": "TAB-LIN",
    }  # fmt: skip
    shipping, pickup = document["fulfillments"]
    assert shipping == {
        "fulfillmentIdentifier": "ful-1",
        "status": "onTheWay",
        "statusDescription": "In transit",
        "fulfillmentType": "shipping",
        "estimatedDeliveryAt": "2025-03-06T09:30:00+01:00",
        "shippedAt": "2025-03-03T09:30:00+01:00",
        "carrier": "Colissimo",
        "trackingNumber": "6A12345678901",
        "trackingURL": "https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901",
        "lineItems": [document["lineItems"][0]],
    }
    assert pickup["fulfillmentType"] == "pickup"
    assert pickup["status"] == "processing"
    assert pickup["displayName"] == "Tabac de la Mairie"
    assert pickup["address"] == {
        "addressLines": ["12 place de la Mairie"], "postalCode": "69003", "locality": "Lyon",
        "countryCode": "FR",
    }  # fmt: skip
    assert "trackingNumber" not in pickup


@pytest.mark.parametrize("milestone", sorted(MILESTONES))
def test_every_milestone_maps_to_apple_statuses(
    milestone: str, make_order: MakeOrder, order_identity: SigningIdentity, now: datetime
) -> None:
    base = make_order()
    shipping, pickup = (dataclasses.replace(f, milestone=milestone) for f in base.fulfillments)
    package = build_order(
        dataclasses.replace(base, fulfillments=(shipping, pickup)), order_identity, now=now
    )
    first, second = package.order_json["fulfillments"]
    assert first["status"] == EXPECTED_SHIPPING[milestone]
    assert second["status"] == EXPECTED_PICKUP[milestone]
    files = unzip(package.content)
    assert order_rule_violations(package.order_json, files) == []
    french = decode_strings(files["fr.lproj/order.strings"])
    assert french[first["statusDescription"]] != first["statusDescription"]


def test_order_status_follows_fulfillments(
    make_order: MakeOrder, order_identity: SigningIdentity, now: datetime
) -> None:
    base = make_order()

    def status(*milestones: str, cancelled: bool = False) -> str:
        fulfillments = tuple(
            dataclasses.replace(f, milestone=m)
            for f, m in zip(base.fulfillments, milestones, strict=True)
        )
        content = dataclasses.replace(base, fulfillments=fulfillments, cancelled=cancelled)
        return str(build_order(content, order_identity, now=now).order_json["status"])

    assert status("delivered", "in_transit") == "open"
    assert status("delivered", "delivered") == "completed"
    assert status("delivered", "cancelled") == "completed"
    assert status("cancelled", "cancelled") == "cancelled"
    assert status("in_transit", "in_transit", cancelled=True) == "cancelled"


def test_cancelled_order_cancels_every_fulfillment(
    make_order: MakeOrder, order_identity: SigningIdentity, now: datetime
) -> None:
    document = build_order(make_order(cancelled=True), order_identity, now=now).order_json
    assert [f["status"] for f in document["fulfillments"]] == ["cancelled", "cancelled"]
    assert {f["statusDescription"] for f in document["fulfillments"]} == {"Order cancelled"}
    assert "estimatedDeliveryAt" not in document["fulfillments"][0]


def test_updated_at_strictly_increases(
    make_order: MakeOrder, order_identity: SigningIdentity, now: datetime
) -> None:
    first = build_order(make_order(), order_identity, now=now)
    assert first.updated_at == now
    # A second update within the same second still moves forward.
    second = build_order(
        make_order(previous_updated_at=first.updated_at),
        order_identity,
        now=now + timedelta(milliseconds=400),
    )
    assert second.updated_at == now + timedelta(seconds=1)
    # A clock behind the last package (another worker, a skewed host) cannot go back.
    third = build_order(
        make_order(previous_updated_at=second.updated_at),
        order_identity,
        now=now - timedelta(minutes=5),
    )
    assert third.updated_at == second.updated_at + timedelta(seconds=1)
    stamps = [datetime.fromisoformat(p.order_json["updatedAt"]) for p in (first, second, third)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
    assert validate_order(third.order_json, previous_updated_at=third.updated_at)
    assert next_updated_at(now, None) == now


def test_item_images_and_merchant_logo_are_packaged(
    make_order: MakeOrder, order_identity: SigningIdentity, now: datetime
) -> None:
    picture = encode_png(64, 64, lambda x, y: (x * 4, y * 4, 90, 255))
    items = (LineItem("Tablier en lin", 1, Money(Decimal("39.90"), "EUR"), image=picture),)
    fulfillments = (dataclasses.replace(make_order().fulfillments[0], line_items=(0,)),)
    package = build_order(
        make_order(line_items=items, fulfillments=fulfillments), order_identity, now=now
    )
    files = unzip(package.content)
    assert files["item-1.png"] == picture
    assert package.order_json["lineItems"][0]["image"] == "item-1.png"
    assert order_rule_violations(package.order_json, files) == []
    check_manifest(files, "sha256")


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"authentication_token": "short"}, "authenticationToken"),
        ({"order_type_identifier": "pass.com.relais"}, "order."),
        ({"web_service_url": "http://relais.example/wallet/orders"}, "https"),
        ({"created_at": datetime(2025, 3, 1, 10, 0)}, "time zone"),
        ({"fulfillments": (Fulfillment("f", "teleported"),)}, "unknown milestone"),
        ({"fulfillments": (Fulfillment("f", "shipped", line_items=(7,)),)}, "no line item"),
        (
            {"line_items": (LineItem("x", 1, Money(Decimal(1), "euro")),), "fulfillments": ()},
            "ISO 4217",
        ),
        ({"line_items": (LineItem("x", 0),), "fulfillments": ()}, "quantity"),
        ({"fulfillments": (Fulfillment("f", "shipped"), Fulfillment("f", "shipped"))}, "unique"),
    ],
)
def test_invalid_orders_are_refused(
    changes: dict[str, Any],
    problem: str,
    make_order: MakeOrder,
    order_identity: SigningIdentity,
    now: datetime,
) -> None:
    with pytest.raises(OrderValidationError) as error:
        build_order(make_order(**changes), order_identity, now=now)
    assert any(problem in p for p in error.value.problems), error.value.problems


def test_validator_catches_broken_documents(
    make_order: MakeOrder, order_identity: SigningIdentity, now: datetime
) -> None:
    good = build_order(make_order(), order_identity, now=now).order_json

    def broken(change: Callable[[dict[str, Any]], None]) -> list[str]:
        document = json.loads(json.dumps(good))
        change(document)
        return validate_order(document)

    assert broken(lambda d: d.pop("merchant"))
    assert broken(lambda d: d.update(schemaVersion=2))
    assert broken(lambda d: d.update(status="shipped"))
    assert broken(lambda d: d.update(updatedAt="2025-03-04 09:30"))
    assert broken(lambda d: d.update(updatedAt="2025-03-01T00:00:00Z"))  # before createdAt
    assert broken(lambda d: d["fulfillments"][0].update(status="readyForPickup"))
    assert broken(lambda d: d["fulfillments"][1].update(status="onTheWay"))
    assert broken(lambda d: d["fulfillments"][1].pop("displayName"))
    assert broken(lambda d: d["lineItems"][0]["price"].update(amount="39.90"))

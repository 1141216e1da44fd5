"""The order pass: Apple's rules, both languages, signature, relevance, life cycle."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.wallet.checks import (
    FIELD_GROUPS,
    check_manifest,
    openssl_verify,
    pass_rule_violations,
    unzip,
)
from tests.wallet.conftest import PICKUP_POINT
from wallet.devcerts import DevCertificates
from wallet.formats import LocalizedText, decode_strings
from wallet.images import default_images, encode_png
from wallet.package import Compression
from wallet.passes import (
    OrderPassContent,
    PassImages,
    PassPackage,
    PassValidationError,
    Rgb,
    build_pass,
    validate_pass,
)
from wallet.signing import SigningIdentity
from wallet.texts import MILESTONE_NAMES, MILESTONES

MakePass = Callable[..., OrderPassContent]
DELIVERED = {"delivered", "feedback_request"}
PICKUP = {"ready_for_pickup", "pickup_reminder"}


def fields(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["key"]: f for group in FIELD_GROUPS for f in document["generic"].get(group, [])}


def strings_of(files: dict[str, bytes]) -> dict[str, dict[str, str]]:
    return {lang: decode_strings(files[f"{lang}.lproj/pass.strings"]) for lang in ("fr", "en")}


def content_for(make_pass: MakePass, milestone: str, now: datetime) -> OrderPassContent:
    return make_pass(
        milestone=milestone,
        delivered_at=now - timedelta(hours=1) if milestone in DELIVERED else None,
        pickup_point=PICKUP_POINT if milestone in PICKUP else None,
    )


@pytest.mark.parametrize("milestone", sorted(MILESTONES))
def test_every_milestone_gives_a_valid_signed_pass(
    milestone: str,
    make_pass: MakePass,
    pass_identity: SigningIdentity,
    chain: DevCertificates,
    openssl: str,
    tmp_path: Path,
    now: datetime,
) -> None:
    package = build_pass(content_for(make_pass, milestone, now), pass_identity, now=now)
    files = unzip(package.content)
    check_manifest(files, "sha1")
    openssl_verify(openssl, files["signature"], files["manifest.json"], chain, tmp_path)

    document = json.loads(files["pass.json"])
    assert document == package.pass_json
    strings = strings_of(files)
    assert pass_rule_violations(document, strings) == []
    assert validate_pass(document, strings) == []
    assert "generic" in document
    status = fields(document)["status"]
    expected = "cancelled" if milestone == "cancelled" else milestone
    assert status["value"] == MILESTONE_NAMES[expected].en
    assert strings["fr"][status["value"]] == MILESTONE_NAMES[expected].fr


@pytest.mark.parametrize("milestone", sorted(MILESTONES))
def test_every_shopper_text_exists_in_french_and_english(
    milestone: str, make_pass: MakePass, pass_identity: SigningIdentity, now: datetime
) -> None:
    package = build_pass(content_for(make_pass, milestone, now), pass_identity, now=now)
    files = unzip(package.content)
    strings = strings_of(files)
    assert set(strings["fr"]) == set(strings["en"])
    document = package.pass_json
    texts = [document["description"]]
    for field in fields(document).values():
        texts.append(field["label"])
        if "changeMessage" in field:
            texts.append(field["changeMessage"])
        if field["key"] in ("status", "next_step", "offer"):
            texts.append(field["value"])
    for text in texts:
        assert text in strings["fr"], f"{text!r} has no French"
        assert strings["en"][text] == text
        assert strings["fr"][text] != text, f"{text!r} is not translated"


def test_strings_files_are_plain_utf8(
    make_pass: MakePass, pass_identity: SigningIdentity, now: datetime
) -> None:
    offer = LocalizedText('Code "MERCI"\npour vous', 'Code "THANKS"\nfor you')
    package = build_pass(
        make_pass(milestone="delivered", delivered_at=now, offer=offer), pass_identity, now=now
    )
    files = unzip(package.content)
    for language in ("fr", "en"):
        raw = files[f"{language}.lproj/pass.strings"]
        assert not raw.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"))
        for line in raw.decode("utf-8").splitlines():
            assert line.startswith('"') and line.endswith('";')
        assert decode_strings(raw)[offer.en] == offer.in_language(language)
    assert "Livrée" in files["fr.lproj/pass.strings"].decode("utf-8")


def test_change_messages_carry_the_new_value(
    make_pass: MakePass, pass_identity: SigningIdentity, now: datetime
) -> None:
    package = build_pass(make_pass(), pass_identity, now=now)
    strings = strings_of(unzip(package.content))
    messages = [
        f["changeMessage"] for f in fields(package.pass_json).values() if "changeMessage" in f
    ]
    assert len(messages) == 2  # status and expected delivery date
    for message in messages:
        assert message and "%@" in message
        assert "%@" in strings["fr"][message] and "%@" in strings["en"][message]


def test_icons_and_logo_are_present_at_every_scale(
    make_pass: MakePass, pass_identity: SigningIdentity, now: datetime
) -> None:
    files = unzip(build_pass(make_pass(), pass_identity, now=now).content)
    sizes = {
        "icon.png": 29,
        "icon@2x.png": 58,
        "icon@3x.png": 87,
        "logo.png": 50,
        "logo@2x.png": 100,
    }
    for name, side in sizes.items():
        assert png_dimensions(files[name]) == (side, side)


def png_dimensions(data: bytes) -> tuple[int, int]:
    """Decode enough of a PNG to know it is whole: IHDR, and IDAT rows of the right length."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat = b""
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        chunk = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + chunk) == crc
        if kind == b"IDAT":
            idat += chunk
        offset += 12 + length
    assert len(zlib.decompress(idat)) == height * (1 + 4 * width)
    return width, height


def test_default_images_are_whole_pngs() -> None:
    for name, data in default_images().items():
        width, height = png_dimensions(data)
        assert width == height, name


def test_cancelled_pass_is_voided_and_not_surfaced(
    make_pass: MakePass, pass_identity: SigningIdentity, now: datetime
) -> None:
    document = build_pass(make_pass(cancelled=True), pass_identity, now=now).pass_json
    assert document["voided"] is True
    assert "relevantDates" not in document and "relevantDate" not in document
    assert fields(document)["status"]["value"] == "Order cancelled"
    assert "eta" not in fields(document)


def test_delivered_pass_expires_and_shows_the_offer(
    make_pass: MakePass, pass_identity: SigningIdentity, now: datetime
) -> None:
    delivered_at = now - timedelta(hours=2)
    package = build_pass(
        make_pass(milestone="delivered", delivered_at=delivered_at), pass_identity, now=now
    )
    document = package.pass_json
    assert document["expirationDate"] == "2025-04-03T07:30:00+01:00"
    assert "voided" not in document and "relevantDates" not in document
    found = fields(document)
    assert found["delivered_at"]["value"] == "2025-03-04T07:30:00+01:00"
    assert "eta" not in found
    assert found["offer"]["value"] == "10% off your next order with MERCI10"
    assert strings_of(unzip(package.content))["fr"][found["offer"]["value"]].startswith("-10 %")


def test_no_offer_before_delivery(
    make_pass: MakePass, pass_identity: SigningIdentity, now: datetime
) -> None:
    package = build_pass(make_pass(milestone="out_for_delivery"), pass_identity, now=now)
    assert "offer" not in fields(package.pass_json)
    assert "MERCI10" not in unzip(package.content)["fr.lproj/pass.strings"].decode()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def test_relevance_follows_the_delivery(
    make_pass: MakePass, pass_identity: SigningIdentity, now: datetime
) -> None:
    eta_day = build_pass(make_pass(), pass_identity, now=now).pass_json
    assert eta_day["relevantDates"] == [
        {"startDate": "2025-03-06T00:00:00+01:00", "endDate": "2025-03-06T23:59:59+01:00"}
    ]
    assert eta_day["relevantDate"] == "2025-03-06T00:00:00+01:00"

    reached = now - timedelta(minutes=20)
    out = build_pass(
        make_pass(milestone="out_for_delivery", milestone_at=reached), pass_identity, now=now
    ).pass_json
    (window,) = out["relevantDates"]
    assert utc(window["startDate"]) == reached.astimezone(UTC)
    assert utc(window["endDate"]) - utc(window["startDate"]) == timedelta(hours=12)

    waiting = build_pass(
        make_pass(milestone="ready_for_pickup", milestone_at=reached, pickup_point=PICKUP_POINT),
        pass_identity, now=now,
    ).pass_json  # fmt: skip
    windows = waiting["relevantDates"]
    assert len(windows) == 7
    for window in windows:
        assert utc(window["endDate"]) - utc(window["startDate"]) == timedelta(hours=24)
    assert utc(windows[-1]["endDate"]) == reached.astimezone(UTC) + timedelta(days=7)
    assert waiting["relevantDate"] == windows[0]["startDate"]


def test_pickup_point_and_support_are_on_the_back(
    make_pass: MakePass, pass_identity: SigningIdentity, now: datetime
) -> None:
    document = build_pass(
        make_pass(milestone="ready_for_pickup", pickup_point=PICKUP_POINT), pass_identity, now=now
    ).pass_json
    back = {f["key"]: f for f in document["generic"]["backFields"]}
    assert (
        back["pickup_address"]["value"] == "Tabac de la Mairie\n12 place de la Mairie, 69003 Lyon"
    )
    assert back["opening_hours"]["value"] == "Lun-Sam 8h-19h30"
    assert back["support"]["value"] == "bonjour@maison-dupont.fr\n+33 1 23 45 67 89"
    assert back["tracking_page"]["value"] == "https://maison-dupont.fr/apps/track/o/Xy12"
    assert back["next_step"]["value"].startswith("Your parcel is waiting")
    assert document["barcodes"] == [
        {
            "format": "PKBarcodeFormatQR",
            "message": "https://maison-dupont.fr/apps/track/o/Xy12",
            "messageEncoding": "iso-8859-1",
            "altText": "#1001",
        }
    ]
    header = document["generic"]["headerFields"]
    assert header == [{"key": "order", "label": "Order", "value": "#1001"}]


def test_shop_colours_and_logo(
    make_pass: MakePass, pass_identity: SigningIdentity, now: datetime
) -> None:
    logo = encode_png(160, 50, lambda x, y: (200, 30, 40, 255))
    content = make_pass(
        background_color=Rgb.from_hex("#fafafa"), foreground_color=Rgb(10, 10, 10),
        images=PassImages.with_logo(logo),
    )  # fmt: skip
    package: PassPackage = build_pass(content, pass_identity, now=now)
    assert package.pass_json["backgroundColor"] == "rgb(250, 250, 250)"
    assert package.pass_json["foregroundColor"] == "rgb(10, 10, 10)"
    files = unzip(package.content)
    assert files["logo.png"] == logo
    assert "logo@3x.png" not in files
    check_manifest(files, "sha1")
    with pytest.raises(ValueError, match="PNG"):
        PassImages.with_logo(b"GIF89a not a png")


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"authentication_token": "x" * 15}, "authenticationToken"),
        ({"authentication_token": "sixteen chars ok"}, "without spaces"),
        ({"web_service_url": "http://relais.example/wallet"}, "https"),
        ({"team_identifier": "relais"}, "teamIdentifier"),
        ({"pass_type_identifier": "com.relais.order"}, "pass."),
        ({"milestone": "lost_in_space"}, "unknown milestone"),
        ({"parcels": 0}, "parcels"),
        ({"estimated_delivery": datetime(2025, 3, 6, 12, 0)}, "time zone"),
        ({"tracking_page_url": "javascript:alert(1)"}, "tracking_page_url"),
    ],
)
def test_invalid_content_is_refused(
    changes: dict[str, Any],
    problem: str,
    make_pass: MakePass,
    pass_identity: SigningIdentity,
    now: datetime,
) -> None:
    with pytest.raises(PassValidationError) as error:
        build_pass(make_pass(**changes), pass_identity, now=now)
    assert any(problem in p for p in error.value.problems), error.value.problems


def test_validator_catches_what_apple_rejects(
    make_pass: MakePass, pass_identity: SigningIdentity, now: datetime
) -> None:
    package = build_pass(make_pass(), pass_identity, now=now)
    strings = package.strings

    def broken(change: Callable[[dict[str, Any]], None]) -> list[str]:
        document = json.loads(json.dumps(package.pass_json))
        change(document)
        return validate_pass(document, strings)

    assert broken(lambda d: d["generic"]["primaryFields"][0].update(changeMessage=""))
    assert broken(lambda d: d["generic"]["primaryFields"][0].update(changeMessage="Now"))
    assert broken(
        lambda d: d["generic"]["backFields"][0].update(textAlignment="PKTextAlignmentRight")
    )
    assert broken(
        lambda d: d["generic"]["primaryFields"][0].update(textAlignment="PKTextAlignmentCenter")
    )
    assert broken(lambda d: d.update(relevantDate="2025-03-06 10:00"))
    assert broken(lambda d: d.update(expirationDate="2025-03-06"))
    assert broken(lambda d: d["generic"]["secondaryFields"][1].update(value="tomorrow"))
    assert broken(lambda d: d.update(backgroundColor="#ffffff"))
    assert broken(lambda d: d.update(storeCard={}))
    assert broken(
        lambda d: d["generic"]["auxiliaryFields"].append(
            {"key": "order", "label": "x", "value": "y"}
        )
    )
    assert broken(lambda d: d["relevantDates"][0].update(endDate="2025-03-08T00:00:00+01:00"))
    bad_french = {**strings, "fr": {**strings["fr"], "Your order: %@": "Votre commande"}}
    assert validate_pass(package.pass_json, bad_french)
    # And the independent checker agrees on the essentials.
    document = json.loads(json.dumps(package.pass_json))
    document["generic"]["backFields"][0]["textAlignment"] = "PKTextAlignmentRight"
    assert pass_rule_violations(document, strings)


def test_deflated_text_entries(
    make_pass: MakePass,
    pass_identity: SigningIdentity,
    chain: DevCertificates,
    openssl: str,
    tmp_path: Path,
    now: datetime,
) -> None:
    stored = build_pass(make_pass(), pass_identity, now=now)
    deflated = build_pass(make_pass(), pass_identity, now=now, compression=Compression.DEFLATED)
    assert len(deflated.content) < len(stored.content) * 0.8
    with zipfile.ZipFile(io.BytesIO(deflated.content)) as archive:
        methods = {info.filename: info.compress_type for info in archive.infolist()}
    assert methods["pass.json"] == methods["fr.lproj/pass.strings"] == zipfile.ZIP_DEFLATED
    assert methods["icon.png"] == zipfile.ZIP_STORED
    files = unzip(deflated.content)
    assert files == {**unzip(stored.content), "signature": files["signature"]}
    check_manifest(files, "sha1")
    openssl_verify(openssl, files["signature"], files["manifest.json"], chain, tmp_path)

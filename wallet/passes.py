"""The order pass: ``pass.json``, its French and English strings, and the signed .pkpass.

Style: ``generic``. Apple files passes that are neither tickets, coupons nor loyalty cards
(claim tickets, memberships) under generic, and only boarding passes, event tickets and
generic passes are surfaced on the lock screen by date (``relevantDate(s)``); a store card
is meant for loyalty balances and is only relevant by location. An order pass is a claim
ticket whose useful moment is a date: delivery day, or the days a parcel waits at a
pickup point.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from wallet.formats import (
    LANGUAGES,
    LocalizedText,
    encode_strings,
    is_rfc3339,
    parse_rfc3339,
    rfc3339,
)
from wallet.images import default_images, png_size
from wallet.package import (
    BuiltPackage,
    Compression,
    HashAlgorithm,
    PackageFile,
    build_package,
    static_files,
)
from wallet.signing import SigningIdentity
from wallet.texts import MILESTONE_NAMES, MILESTONES, NEXT_STEPS, add_text, base_table, label

MIME_TYPE = "application/vnd.apple.pkpass"
STYLE = "generic"
FIELD_GROUPS = ("headerFields", "primaryFields", "secondaryFields", "auxiliaryFields", "backFields")
MIN_TOKEN_LENGTH = 16
DEFAULT_EXPIRY = timedelta(days=30)
# Apple caps one relevance interval at a day; longer waits get one interval per day.
MAX_INTERVAL = timedelta(hours=24)
PICKUP_RELEVANCE_DAYS = 7

_TEAM_ID = re.compile(r"^[A-Z0-9]{10}$")
_RGB = re.compile(r"^rgb\((\d{1,3}), (\d{1,3}), (\d{1,3})\)$")
_IMAGE_NAME = re.compile(
    r"^(?:[a-z]{2,3}(?:-[A-Za-z]{2,4})?\.lproj/)?[A-Za-z0-9_-]+(?:@[23]x)?\.png$"
)
_PICKUP_MILESTONES = frozenset({"ready_for_pickup", "pickup_reminder"})
_DONE_MILESTONES = frozenset({"delivered", "feedback_request"})


class PassValidationError(ValueError):
    """The content would produce a pass Wallet rejects or shows wrongly."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class Rgb:
    """A colour as Wallet wants it: ``rgb(r, g, b)``."""

    red: int
    green: int
    blue: int

    def __post_init__(self) -> None:
        if not all(0 <= part <= 255 for part in (self.red, self.green, self.blue)):
            raise ValueError(f"colour channels must be 0-255: {self}")

    @classmethod
    def from_hex(cls, text: str) -> Rgb:
        """``#1c3a5e`` or ``1c3a5e`` (what merchants paste from their brand kit)."""
        digits = text.strip().removeprefix("#")
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        if not re.fullmatch(r"[0-9a-fA-F]{6}", digits):
            raise ValueError(f"not a hex colour: {text!r}")
        return cls(int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))

    def css(self) -> str:
        return f"rgb({self.red}, {self.green}, {self.blue})"


@dataclass(frozen=True, slots=True)
class PickupPoint:
    """Where the parcel waits (relay point, locker, shop)."""

    name: str
    address: str
    opening_hours: str | None = None


class PassImages:
    """Icon and logo files of a pass, validated, hashed and zip-encoded once.

    Build one per shop (or use :meth:`default`) and reuse it for every pass."""

    __slots__ = ("files",)

    def __init__(self, images: Mapping[str, bytes]) -> None:
        if "icon.png" not in images:
            raise ValueError("a pass needs icon.png")
        for name, data in images.items():
            if not _IMAGE_NAME.match(name):
                raise ValueError(f"unexpected pass image name {name!r}")
            png_size(data)  # raises on anything that is not a PNG
        self.files: tuple[PackageFile, ...] = static_files(images, HashAlgorithm.SHA1)

    @classmethod
    def with_logo(cls, logo: bytes, logo2x: bytes | None = None) -> PassImages:
        """Default icons with the shop's own logo (PNG, at most 160x50 points)."""
        images = {k: v for k, v in default_images().items() if not k.startswith("logo")}
        images["logo.png"] = logo
        if logo2x is not None:
            images["logo@2x.png"] = logo2x
        return cls(images)

    @staticmethod
    @functools.cache
    def default() -> PassImages:
        return PassImages(default_images())


@dataclass(frozen=True, slots=True)
class OrderPassContent:
    """Everything an order pass shows, as plain values (no database, no Flask).

    ``milestone`` is the shipment's current milestone; ``milestone_at`` when it was
    reached (defaults to ``now`` at build time). All datetimes must carry a time zone."""

    serial_number: str
    authentication_token: str
    web_service_url: str
    pass_type_identifier: str
    team_identifier: str
    order_number: str
    milestone: str
    shop_name: str
    tracking_page_url: str
    milestone_at: datetime | None = None
    background_color: Rgb = Rgb(28, 58, 94)
    foreground_color: Rgb = Rgb(255, 255, 255)
    label_color: Rgb = Rgb(214, 164, 96)
    images: PassImages | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    estimated_delivery: datetime | None = None
    parcels: int = 1
    pickup_point: PickupPoint | None = None
    support_email: str | None = None
    support_phone: str | None = None
    offer: LocalizedText | None = None
    # The tracking page's rating form for the delivered parcel (one tap from the pass's back).
    rating_url: str | None = None
    delivered_at: datetime | None = None
    cancelled: bool = False
    expires_after: timedelta = DEFAULT_EXPIRY
    extra_files: tuple[PackageFile, ...] = field(default=())

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled or self.milestone == "cancelled"

    @property
    def is_delivered(self) -> bool:
        return self.milestone in _DONE_MILESTONES


@dataclass(frozen=True, slots=True)
class PassPackage:
    """A signed .pkpass and the documents inside it."""

    content: bytes
    pass_json: dict[str, Any]
    strings: dict[str, dict[str, str]]
    manifest: bytes
    names: tuple[str, ...]

    mime_type = MIME_TYPE


# ---------------------------------------------------------------------------- pass.json


def _field(key: str, label: str, value: object, **options: object) -> dict[str, object]:
    return {"key": key, "label": label, "value": value, **options}


def _fields(content: OrderPassContent) -> dict[str, list[dict[str, object]]]:
    milestone = content.milestone
    shown = "cancelled" if content.is_cancelled else milestone
    header = [_field("order", label("label.order"), content.order_number)]
    primary = [
        _field(
            "status",
            label("label.status"),
            MILESTONE_NAMES[shown].en,
            changeMessage=label("change.status"),
        )
    ]
    secondary: list[dict[str, object]] = []
    auxiliary: list[dict[str, object]] = []
    back: list[dict[str, object]] = []

    if content.carrier:
        secondary.append(_field("carrier", label("label.carrier"), content.carrier))
    if content.is_delivered and content.delivered_at is not None:
        secondary.append(
            _field(
                "delivered_at",
                label("label.delivered_at"),
                rfc3339(content.delivered_at),
                dateStyle="PKDateStyleMedium",
                timeStyle="PKDateStyleShort",
            )
        )
    elif content.estimated_delivery is not None and not content.is_cancelled:
        secondary.append(
            _field(
                "eta",
                label("label.eta"),
                rfc3339(content.estimated_delivery),
                dateStyle="PKDateStyleMedium",
                timeStyle="PKDateStyleNone",
                changeMessage=label("change.eta"),
            )
        )
    auxiliary.append(_field("parcels", label("label.parcels"), content.parcels))
    if content.pickup_point is not None:
        auxiliary.append(_field("pickup", label("label.pickup_point"), content.pickup_point.name))

    if milestone in NEXT_STEPS and not content.is_cancelled:
        back.append(_field("next_step", label("label.next_step"), NEXT_STEPS[milestone].en))
    back.append(_field("tracking_page", label("label.tracking_page"), content.tracking_page_url))
    if content.tracking_number:
        back.append(
            _field("tracking_number", label("label.tracking_number"), content.tracking_number)
        )
    if content.tracking_url:
        back.append(
            _field("carrier_tracking", label("label.carrier_tracking"), content.tracking_url)
        )
    if content.pickup_point is not None:
        point = content.pickup_point
        back.append(
            _field("pickup_address", label("label.pickup_point"), f"{point.name}\n{point.address}")
        )
        if point.opening_hours:
            back.append(_field("opening_hours", label("label.opening_hours"), point.opening_hours))
    support = "\n".join(x for x in (content.support_email, content.support_phone) if x)
    if support:
        back.append(_field("support", label("label.support"), support))
    if content.rating_url and content.is_delivered and not content.is_cancelled:
        back.append(_field("rating", label("label.rating"), content.rating_url))
    if content.offer is not None and content.is_delivered:
        # The offer waits for the parcel: selling before delivery breeds "where is it?".
        back.append(_field("offer", label("label.offer"), content.offer.en))
    return {
        "headerFields": header,
        "primaryFields": primary,
        "secondaryFields": secondary,
        "auxiliaryFields": auxiliary,
        "backFields": back,
    }


def _relevance(content: OrderPassContent, now: datetime) -> list[tuple[datetime, datetime]]:
    """Lock-screen windows: delivery day, the day it is out for delivery, or the days a
    parcel waits at the pickup point. None once it is delivered or cancelled."""
    if content.is_cancelled or content.is_delivered:
        return []
    reached = content.milestone_at or now
    if content.milestone in _PICKUP_MILESTONES:
        return [
            (reached + day * MAX_INTERVAL, reached + (day + 1) * MAX_INTERVAL)
            for day in range(PICKUP_RELEVANCE_DAYS)
        ]
    if content.milestone == "out_for_delivery":
        return [(reached, reached + timedelta(hours=12))]
    if content.estimated_delivery is not None:
        eta = content.estimated_delivery
        start = eta.replace(hour=0, minute=0, second=0, microsecond=0)
        return [(start, start + MAX_INTERVAL - timedelta(seconds=1))]
    return []


def build_pass_json(content: OrderPassContent, *, now: datetime) -> dict[str, Any]:
    """The ``pass.json`` document for ``content`` (labels are keys of the strings files)."""
    document: dict[str, Any] = {
        "formatVersion": 1,
        "passTypeIdentifier": content.pass_type_identifier,
        "serialNumber": content.serial_number,
        "teamIdentifier": content.team_identifier,
        "organizationName": content.shop_name,
        "description": label("pass.description"),
        "logoText": content.shop_name,
        "webServiceURL": content.web_service_url,
        "authenticationToken": content.authentication_token,
        "backgroundColor": content.background_color.css(),
        "foregroundColor": content.foreground_color.css(),
        "labelColor": content.label_color.css(),
        "sharingProhibited": True,  # the pass carries the shopper's tracking link
        STYLE: _fields(content),
        "barcodes": [
            {
                "format": "PKBarcodeFormatQR",
                "message": content.tracking_page_url,
                "messageEncoding": "iso-8859-1",
                "altText": content.order_number,
            }
        ],
    }
    windows = _relevance(content, now)
    if windows:
        document["relevantDates"] = [
            {"startDate": rfc3339(start), "endDate": rfc3339(end)} for start, end in windows
        ]
        # Before iOS 18 only the single date exists; point it at the first window.
        document["relevantDate"] = rfc3339(windows[0][0])
    if content.is_cancelled:
        document["voided"] = True
    elif content.is_delivered and content.delivered_at is not None:
        document["expirationDate"] = rfc3339(content.delivered_at + content.expires_after)
    return document


def pass_strings(content: OrderPassContent) -> dict[str, dict[str, str]]:
    """The ``pass.strings`` table of each language."""
    tables = {language: base_table(language) for language in LANGUAGES}
    if content.offer is not None and content.is_delivered:
        for language, table in tables.items():
            add_text(table, content.offer, language)
    return tables


@functools.lru_cache(maxsize=256)
def _strings_file(
    language: str, offer: LocalizedText | None, compression: Compression
) -> PackageFile:
    # The fixed labels never change and offers repeat across a shop's passes: encode and
    # hash each distinct file once.
    table = base_table(language)
    if offer is not None:
        add_text(table, offer, language)
    name = f"{language}.lproj/pass.strings"
    return PackageFile.make(name, encode_strings(table), HashAlgorithm.SHA1, compression)


# ------------------------------------------------------------------------- validation


def _url_problem(name: str, url: object, *, https: bool = True) -> str | None:
    if not isinstance(url, str):
        return f"{name} is missing"
    parts = urlsplit(url)
    local = parts.hostname in ("localhost", "127.0.0.1")
    if parts.scheme != "https" and not (parts.scheme == "http" and (local or not https)):
        return f"{name} must be an https URL: {url!r}"
    if not parts.netloc:
        return f"{name} has no host: {url!r}"
    return None


def validate_pass(
    document: Mapping[str, Any], strings: Mapping[str, Mapping[str, str]]
) -> list[str]:
    """Apple's rules a pass must follow, plus Relais' own; returns the problems found."""
    problems: list[str] = []
    if document.get("formatVersion") != 1:
        problems.append("formatVersion must be 1")
    for key in (
        "passTypeIdentifier",
        "serialNumber",
        "teamIdentifier",
        "organizationName",
        "description",
    ):
        if not isinstance(document.get(key), str) or not document[key].strip():
            problems.append(f"{key} is required")
    if not str(document.get("passTypeIdentifier", "")).startswith("pass."):
        problems.append("passTypeIdentifier must start with 'pass.'")
    if not _TEAM_ID.match(str(document.get("teamIdentifier", ""))):
        problems.append("teamIdentifier must be 10 upper-case letters or digits")
    token = document.get("authenticationToken")
    if "webServiceURL" in document:
        problem = _url_problem("webServiceURL", document["webServiceURL"])
        if problem:
            problems.append(problem)
        if not isinstance(token, str) or len(token) < MIN_TOKEN_LENGTH:
            problems.append(f"authenticationToken must have at least {MIN_TOKEN_LENGTH} characters")
        elif not token.isascii() or not token.isprintable() or " " in token:
            problems.append("authenticationToken must be printable ASCII without spaces")
    for key in ("backgroundColor", "foregroundColor", "labelColor"):
        match = _RGB.match(str(document.get(key, "")))
        if key in document and not (match and all(int(c) <= 255 for c in match.groups())):
            problems.append(f"{key} must be rgb(r, g, b)")
    for key in ("relevantDate", "expirationDate"):
        if key in document and not is_rfc3339(document[key]):
            problems.append(f"{key} must be an RFC 3339 timestamp")
    for window in document.get("relevantDates", []):
        if not (is_rfc3339(window.get("startDate")) and is_rfc3339(window.get("endDate"))):
            problems.append("relevantDates entries need RFC 3339 startDate and endDate")
        else:
            start, end = parse_rfc3339(window["startDate"]), parse_rfc3339(window["endDate"])
            if not start < end <= start + MAX_INTERVAL:
                problems.append("a relevantDates interval must last between 0 and 24 hours")
    styles = [
        s
        for s in ("boardingPass", "coupon", "eventTicket", "generic", "storeCard")
        if s in document
    ]
    if len(styles) != 1:
        problems.append("a pass has exactly one style")
    else:
        problems += _field_problems(document[styles[0]], strings)
    for barcode in document.get("barcodes", []):
        if barcode.get("messageEncoding") != "iso-8859-1":
            problems.append("barcode messageEncoding must be iso-8859-1")
        try:
            str(barcode.get("message", "")).encode("iso-8859-1")
        except UnicodeEncodeError:
            problems.append("barcode message must be Latin-1")
    tables = list(strings.values())
    if tables and any(set(t) != set(tables[0]) for t in tables):
        problems.append("every language must define the same keys")
    return problems


def _field_problems(
    style: Mapping[str, Any], strings: Mapping[str, Mapping[str, str]]
) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for group in FIELD_GROUPS:
        for entry in style.get(group, []):
            key = entry.get("key")
            if not key or key in seen:
                problems.append(f"field keys must be present and unique ({key!r})")
            seen.add(key)
            if "value" not in entry or entry["value"] in ("", None):
                problems.append(f"field {key!r} has no value")
            if group in ("primaryFields", "backFields") and "textAlignment" in entry:
                problems.append(f"field {key!r}: no textAlignment on {group}")
            if "dateStyle" in entry and not is_rfc3339(entry["value"]):
                problems.append(f"date field {key!r} must hold an RFC 3339 timestamp")
            if "changeMessage" in entry:
                message = entry["changeMessage"]
                texts = [message] + [t[message] for t in strings.values() if message in t]
                if not message or any("%@" not in text for text in texts):
                    problems.append(f"changeMessage of {key!r} must contain %@ in every language")
    return problems


# ------------------------------------------------------------------------------ build


def build_pass(
    content: OrderPassContent,
    identity: SigningIdentity,
    *,
    now: datetime,
    compression: Compression = Compression.STORED,
) -> PassPackage:
    """Build, check and sign the .pkpass for ``content``.

    ``compression`` applies to the text entries (images are PNG, already compressed):
    DEFLATED makes a typical pass 38 % smaller (12.1 kB to 7.9 kB) for about 6 % more
    CPU; STORED is the default because building packages is the hot path.
    Raises :class:`PassValidationError` rather than ship a pass Wallet would refuse."""
    problems = _content_problems(content)
    if problems:
        raise PassValidationError(problems)
    document = build_pass_json(content, now=now)
    strings = pass_strings(content)
    problems = validate_pass(document, strings)
    if problems:
        raise PassValidationError(problems)
    images = content.images or PassImages.default()
    offer = content.offer if content.is_delivered else None
    files = [
        PackageFile.make(
            "pass.json",
            json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode(),
            HashAlgorithm.SHA1,
            compression,
        ),
        *(_strings_file(language, offer, compression) for language in LANGUAGES),
        *images.files,
        *content.extra_files,
    ]
    built: BuiltPackage = build_package(
        files, identity.sign, algorithm=HashAlgorithm.SHA1, compression=compression
    )
    return PassPackage(built.content, document, strings, built.manifest, built.names)


def _content_problems(content: OrderPassContent) -> list[str]:
    problems = []
    if content.milestone not in MILESTONES:
        problems.append(f"unknown milestone {content.milestone!r}")
    if content.parcels < 1:
        problems.append("parcels must be at least 1")
    for name in ("tracking_page_url", "tracking_url"):
        value = getattr(content, name)
        if value is not None:
            problem = _url_problem(name, value, https=False)
            if problem:
                problems.append(problem)
    for name in ("milestone_at", "estimated_delivery", "delivered_at"):
        moment = getattr(content, name)
        if moment is not None and moment.utcoffset() is None:
            problems.append(f"{name} needs a time zone")
    return problems

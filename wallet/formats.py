"""Small formats shared by passes and orders: RFC 3339 dates, .strings files, texts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

# Every shopper-facing text exists in both; French first, Relais' first merchants are French.
LANGUAGES = ("fr", "en")

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True, slots=True)
class LocalizedText:
    """One shopper-facing text in French and English."""

    fr: str
    en: str

    def __post_init__(self) -> None:
        if not self.fr.strip() or not self.en.strip():
            raise ValueError("a localized text needs both a French and an English version")

    def in_language(self, language: str) -> str:
        return self.fr if language == "fr" else self.en


def rfc3339(moment: datetime) -> str:
    """``2025-03-01T09:30:00+01:00`` (``Z`` for UTC), whole seconds.

    Naive datetimes are refused: Wallet would read them in the device's time zone."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no time zone")
    text = moment.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 timestamp; ``ValueError`` for anything looser (dates alone,
    missing offsets, spaces instead of ``T``)."""
    if not isinstance(text, str) or not _RFC3339.match(text):
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def is_rfc3339(text: object) -> bool:
    try:
        parse_rfc3339(text)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )


def encode_strings(table: Mapping[str, str]) -> bytes:
    """Write a ``.strings`` file: ``"key" = "value";`` per line, sorted by key.

    UTF-8 without a byte-order mark: Apple reads .strings files in UTF-8 or UTF-16 alike;
    UTF-8 is half the size for Latin text, is what other pass readers parse, and keeps the
    file byte-identical from build to build. Empty values are refused: Wallet would show
    the key instead."""
    lines = []
    for key in sorted(table):
        value = table[key]
        if not key or not value:
            raise ValueError(f"empty key or value in a strings table: {key!r}")
        lines.append(f'"{_escape(key)}" = "{_escape(value)}";\n')
    return "".join(lines).encode("utf-8")


_LINE = re.compile(r'^"((?:[^"\\]|\\.)*)"\s*=\s*"((?:[^"\\]|\\.)*)";$')
_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def decode_strings(data: bytes) -> dict[str, str]:
    """Read a ``.strings`` file written by :func:`encode_strings` (UTF-8 or UTF-16 with BOM)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    else:
        text = data.decode("utf-8-sig")
    table: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith(("/*", "//")):
            continue
        match = _LINE.match(line)
        if not match:
            raise ValueError(f"line {number} of a strings file is malformed: {line!r}")
        key, value = (
            re.sub(r"\\(.)", lambda m: _UNESCAPE.get(m[1], m[1]), g) for g in match.groups()
        )
        table[key] = value
    return table

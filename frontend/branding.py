"""A shop's look on the tracking page: logo and colours, checked so they stay legible."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

DEFAULT_PRIMARY = "#1f3a5f"
DEFAULT_ACCENT = "#2e7d5b"
_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")
# WCAG AA for normal text.
MIN_CONTRAST = 4.5


@dataclass(frozen=True)
class Branding:
    """Colours are ``#rrggbb`` strings safe to put in CSS; ``logo_url`` is https or None."""

    shop_name: str
    logo_url: str | None
    primary: str
    on_primary: str
    accent: str
    on_accent: str
    link: str


def branding_from_settings(shop_name: str, settings: dict[str, Any] | None) -> Branding:
    """Read ``settings["branding"]`` (logo_url, primary_color, accent_color) with defaults."""
    raw = (settings or {}).get("branding") or {}
    primary = parse_color(raw.get("primary_color")) or DEFAULT_PRIMARY
    accent = parse_color(raw.get("accent_color")) or DEFAULT_ACCENT
    logo = raw.get("logo_url")
    logo_url = logo if isinstance(logo, str) and logo.startswith("https://") else None
    return Branding(
        shop_name=shop_name,
        logo_url=logo_url,
        primary=primary,
        on_primary=text_color_on(primary),
        accent=accent,
        on_accent=text_color_on(accent),
        link=readable_on_white(primary),
    )


def parse_color(value: object) -> str | None:
    """``#abc`` or ``#aabbcc`` (with or without ``#``) as ``#aabbcc``; None otherwise."""
    if not isinstance(value, str):
        return None
    match = _HEX.match(value.strip())
    if not match:
        return None
    digits = match.group(1).lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return f"#{digits}"


def _luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_color_on(background: str) -> str:
    """White or near-black, whichever reads better on ``background``."""
    dark = "#111111"
    return "#ffffff" if contrast(background, "#ffffff") >= contrast(background, dark) else dark


def readable_on_white(color: str) -> str:
    """``color`` darkened just enough to be legible as text on white."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    for _ in range(20):
        candidate = f"#{r:02x}{g:02x}{b:02x}"
        if contrast(candidate, "#ffffff") >= MIN_CONTRAST:
            return candidate
        r, g, b = (int(c * 0.85) for c in (r, g, b))
    return "#111111"

"""Numbers written in plain ASCII digits, the only way outside input writes an id."""

from __future__ import annotations


def ascii_int(text: str, *, max_digits: int = 18) -> int | None:
    """The number ``text`` spells in ASCII digits (at most ``max_digits``), else None.

    ``str.isdigit()`` alone is not enough: it accepts "³", which ``int()`` refuses (an
    error where a "no" was meant), and other scripts' digits, which ``int()`` reads: neither
    is how Shopify, Apple or an HTTP header writes a number. 18 digits fit a 64-bit column.
    """
    if text.isascii() and text.isdigit() and len(text) <= max_digits:
        return int(text)
    return None

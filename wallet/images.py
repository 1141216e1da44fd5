"""Default pass images, drawn in pure Python: a parcel on a tile, as PNG.

Generated in memory (and cached) rather than committed, so the artwork, its sizes and its
bytes come from one place and stay deterministic. Shops usually send their own logo.
"""

from __future__ import annotations

import functools
import struct
import zlib
from collections.abc import Callable

Rgba = tuple[int, int, int, int]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_TILE: Rgba = (28, 58, 94, 255)
_PARCEL: Rgba = (214, 164, 96, 255)
_TAPE: Rgba = (150, 104, 50, 255)
_CLEAR: Rgba = (0, 0, 0, 0)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def encode_png(width: int, height: int, pixel: Callable[[int, int], Rgba]) -> bytes:
    """Encode an RGBA image whose colour at (x, y) is ``pixel(x, y)``."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type: none
        for x in range(width):
            rows.extend(pixel(x, y))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _chunk(b"IEND", b"")
    )


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG; ``ValueError`` when ``data`` is not a PNG."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _parcel(size: int, background: Rgba) -> Callable[[int, int], Rgba]:
    """A square parcel with a tape band, centred on ``background``."""
    margin = size // 5
    low, high = margin, size - margin
    band = max(1, size // 10)
    middle = size // 2

    def pixel(x: int, y: int) -> Rgba:
        if low <= x < high and low <= y < high:
            if abs(x - middle) < band or abs(y - middle) < band // 2 + 1:
                return _TAPE
            return _PARCEL
        return background

    return pixel


@functools.cache
def default_images() -> dict[str, bytes]:
    """Icons (29, 58, 87 px) on a tile, and a square logo (50, 100, 150 px) on a
    transparent background: square rather than 160 px wide so the shop name shown next
    to it (``logoText``) keeps its room on the front of the pass."""
    images: dict[str, bytes] = {}
    for suffix, scale in (("", 1), ("@2x", 2), ("@3x", 3)):
        icon = 29 * scale
        logo = 50 * scale
        images[f"icon{suffix}.png"] = encode_png(icon, icon, _parcel(icon, _TILE))
        images[f"logo{suffix}.png"] = encode_png(logo, logo, _parcel(logo, _CLEAR))
    return images

"""Charts drawn on the server as inline SVG (no script, no CDN)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT, PAD = 600, 160, 28


def bar_chart(values: Sequence[tuple[str, float]], *, label: str, color: str = "#303030") -> str:
    """Vertical bars with their values; ``label`` is the accessible name."""
    n = max(len(values), 1)
    top = max((v for _, v in values), default=0) or 1
    slot = (WIDTH - 2 * PAD) / n
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}" '
        f'class="chart" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (name, value) in enumerate(values):
        h = (HEIGHT - 2 * PAD) * value / top
        x = PAD + i * slot + slot * 0.15
        y = HEIGHT - PAD - h
        w = slot * 0.7
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{color}">'
            f"<title>{escape(name)}: {value:g}</title></rect>"
        )
        if n <= 16:
            cx = x + w / 2
            parts.append(
                f'<text x="{cx:.1f}" y="{HEIGHT - PAD + 14}" text-anchor="middle" '
                f'font-size="11">{escape(name)}</text>'
                f'<text x="{cx:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
                f'font-size="11">{value:g}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    points: Sequence[tuple[str, float]], *, label: str, low: float = 0, high: float | None = None
) -> str:
    """A line through ``points`` (in order) between ``low`` and ``high``."""
    top = high if high is not None else max((v for _, v in points), default=1) or 1
    span = (top - low) or 1
    n = len(points)
    step = (WIDTH - 2 * PAD) / max(n - 1, 1)
    coords = [
        (PAD + i * step, HEIGHT - PAD - (HEIGHT - 2 * PAD) * (v - low) / span)
        for i, (_, v) in enumerate(points)
    ]
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}" '
        f'class="chart" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'stroke="#c9c9c9"/>',
        f'<text x="2" y="{PAD}" font-size="11">{top:g}</text>',
        f'<text x="2" y="{HEIGHT - PAD}" font-size="11">{low:g}</text>',
    ]
    if coords:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#005bd3" stroke-width="2"/>')
        for (x, y), (name, v) in zip(coords, points, strict=True):
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#005bd3">'
                f"<title>{escape(name)}: {v:g}</title></circle>"
            )
        parts.append(
            f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="11">{escape(points[0][0])}</text>'
            f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" text-anchor="end" font-size="11">'
            f"{escape(points[-1][0])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)

"""Templates rendered twice over: standalone HTML, and Liquid that Shopify's app proxy puts
inside the shop's theme.

Every value is HTML-escaped by Jinja. In Liquid output the braces of every value are also
turned into character references, so no text from an order, a shop or a request can open a
``{{ }}`` or ``{% %}`` for Shopify's Liquid renderer; a last check refuses any page that
would still contain one.
"""

from __future__ import annotations

import re
from base64 import b64encode
from functools import cache
from hashlib import sha256
from pathlib import Path
from typing import Any

from flask import Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

TEMPLATES = Path(__file__).parent / "templates"
STYLESHEET = Path(__file__).parent / "static" / "tracking.css"
LIQUID_CONTENT_TYPE = "application/liquid; charset=utf-8"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"
_LIQUID_OPENERS = ("{{", "{%")


def see_other(location: str) -> Response:
    """A 303 to ``location`` (a path on the same host), never cached."""
    return Response(
        status=303, headers={"Location": location, "Cache-Control": "private, no-store"}
    )


class LiquidInjection(RuntimeError):
    """A rendered page would let Liquid evaluate something: refused, never served."""


class StaticText(Markup):
    """Relais's own static text (the stylesheet): emitted as is, even in Liquid output."""


def _escape_braces(text: str) -> str:
    return text.replace("{", "&#123;").replace("}", "&#125;")


def _liquid_finalize(value: Any) -> Any:
    if isinstance(value, StaticText):
        return value
    if value is None:
        return ""
    # Already escaped by escape(); Markup only stops Jinja escaping it twice.
    return Markup(_escape_braces(str(escape(value))))  # noqa: S704


def _make_env(*, liquid: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
        auto_reload=False,
        finalize=_liquid_finalize if liquid else None,
    )
    return env


_HTML_ENV = _make_env(liquid=False)
_LIQUID_ENV = _make_env(liquid=True)


@cache
def stylesheet() -> StaticText:
    """The page's CSS, minified once: comments and line breaks go."""
    css = STYLESHEET.read_text(encoding="utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    css = re.sub(r"\s*\n\s*", "", css)
    if any(opener in css for opener in _LIQUID_OPENERS):
        raise LiquidInjection("the stylesheet would open a Liquid tag")
    return StaticText(css)


def render(template: str, *, liquid: bool, **context: Any) -> str:
    """Render ``template`` as standalone HTML, or as Liquid for the app proxy."""
    env = _LIQUID_ENV if liquid else _HTML_ENV
    html = env.get_template(template).render(css=stylesheet(), standalone=not liquid, **context)
    if liquid and any(opener in html for opener in _LIQUID_OPENERS):
        raise LiquidInjection(f"{template} would open a Liquid tag")
    return html


def style_hashes(html: str) -> list[str]:
    """CSP hashes of the inline ``<style>`` blocks of a standalone page."""
    blocks = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    return [
        "'sha256-" + b64encode(sha256(block.encode("utf-8")).digest()).decode("ascii") + "'"
        for block in blocks
    ]

"""A live Relais on loopback behind a stand-in for a Shopify storefront.

``ShopFront`` plays Shopify's part: ``/apps/track/...`` is forwarded to ``/proxy/...`` with
the signed query string (cookies stripped), and an ``application/liquid`` answer is placed
in a small theme layout, as Shopify would render it. Everything else goes to Relais as is
(the standalone page, static files).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.serving import make_server
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from tests.conftest import DEMO_SHOP
from tests.frontend.conftest import proxy_query

THEME_LAYOUT = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Maison Lumière</title>
<style>body{{margin:0;font-family:Georgia,serif;background:#fbfaf7;color:#222}}
.theme-header,.theme-footer{{padding:18px 24px;background:#2b2b2b;color:#fff}}
.theme-header a{{color:#fff;text-decoration:none;font-size:20px}}</style></head>
<body><header class="theme-header"><a href="/">Maison Lumière</a></header>
<main id="MainContent">{content}</main>
<footer class="theme-footer"><p>© Maison Lumière</p></footer></body></html>"""


class ShopFront:
    """WSGI app standing in for ``https://{shop}`` in front of Relais."""

    def __init__(self, relais: Callable[..., Any], *, lang: str = "fr") -> None:
        self.relais = relais
        self.lang = lang
        self.customer_id = ""

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/apps/track"):
            return self.relais(environ, start_response)
        request = Request(environ)
        rest = path[len("/apps/track") :]
        extra = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        query = proxy_query(DEMO_SHOP, logged_in_customer_id=self.customer_id, extra=extra)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "cookie"}
        headers["X-Forwarded-For"] = request.remote_addr or "127.0.0.1"
        upstream = Client(self.relais).open(
            f"/proxy{rest or '/'}?{query}",
            method=request.method,
            headers=headers,
            data=request.get_data(),
        )
        if upstream.content_type.startswith("application/liquid"):
            body = THEME_LAYOUT.format(lang=self.lang, content=upstream.get_data(as_text=True))
            response = Response(
                body, status=upstream.status_code, content_type="text/html; charset=utf-8"
            )
        else:
            response = Response(
                upstream.get_data(),
                status=upstream.status_code,
                headers=[
                    (k, v) for k, v in upstream.headers.items() if k.lower() != "content-length"
                ],
            )
        return response(environ, start_response)


class Holder:
    """Lets the server start before the app that needs its URL exists."""

    app: Callable[..., Any] | None = None

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        assert self.app is not None
        return self.app(environ, start_response)


@contextmanager
def serve(holder: Holder) -> Iterator[str]:
    """Serve ``holder`` on 127.0.0.1 (a free port) in a thread; yield the base URL."""
    server = make_server("127.0.0.1", 0, holder, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)

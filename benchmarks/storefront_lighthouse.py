# The stand-in theme page below is HTML as a theme would serve it: long lines, French text.
# ruff: noqa: E501, RUF001
"""Lighthouse (npm `lighthouse`, Debian's Chromium) on the storefront, served on loopback.

Measures, as medians over several runs:
  - the standalone tracking page: performance and accessibility scores;
  - the cost of the theme blocks: a stand-in theme page without, then with, the two Relais
    blocks as Shopify renders them (stylesheet link, lookup form, upsell placeholder and its
    deferred script, whose request goes through a stand-in app proxy to Relais).

Needs: `npm ci` in benchmarks/node, `apt-get install chromium`.
Usage: python benchmarks/storefront_lighthouse.py [--runs 3]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from storefront_data import SHOP_DOMAIN, seed  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402
from werkzeug.test import Client  # noqa: E402
from werkzeug.wrappers import Request, Response  # noqa: E402

from frontend import ratelimit  # noqa: E402
from plugin import create_app  # noqa: E402
from plugin.config import Config  # noqa: E402
from plugin.db import Database  # noqa: E402
from plugin.links import make_order_token  # noqa: E402

SECRET = "bench-api-secret"
LIGHTHOUSE = Path(__file__).resolve().parent / "node" / "node_modules" / ".bin" / "lighthouse"
EXTENSION = ROOT / "frontend" / "extensions" / "relais-theme"
CHROME_FLAGS = (
    "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
    "--disable-background-networking --disable-component-update --disable-sync"
)

# A typical theme page: header, a product picture, some text, a footer.
THEME_PAGE = """<!doctype html><html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Bougie Figuier – Maison Lumière</title>
<meta name="description" content="Bougie parfumée au figuier, coulée à la main en France.">
<style>body{{margin:0;font-family:Georgia,serif;color:#222;background:#fbfaf7}}
header,footer{{padding:18px 24px;background:#2b2b2b;color:#fff}}main{{max-width:1100px;margin:0 auto;padding:24px}}
.hero{{display:grid;gap:24px;grid-template-columns:repeat(auto-fit,minmax(280px,1fr))}}
.hero img{{width:100%;height:auto;border-radius:8px}}.button{{background:#2b2b2b;color:#fff;border:0;padding:12px 20px;border-radius:6px;font:inherit}}</style>
{head}</head><body><header><strong>Maison Lumière</strong></header><main>
<section class="hero"><img src="/relais-static/samples/candle.svg" alt="Bougie Figuier" width="500" height="500">
<div><h1>Bougie Figuier</h1><p>32,00 €</p><p>Une bougie au parfum de figuier, coulée à la main
dans notre atelier lyonnais. Cire végétale, mèche en coton, 40 heures de combustion.</p>
<button class="button" type="button">Ajouter au panier</button></div></section>
{blocks}</main><footer><p>© Maison Lumière</p></footer></body></html>"""

BLOCKS_HEAD = '<link rel="stylesheet" href="/extension/relais.css">'
BLOCKS_BODY = """<div class="relais-block relais-tracking"><h2 class="relais-tracking__title">Suivre ma commande</h2>
<p class="relais-tracking__intro">Saisissez votre numéro de commande et l’e-mail ou le téléphone utilisé lors de l’achat.</p>
<form class="relais-tracking__form" method="post" action="/apps/track/lookup"><input type="hidden" name="locale" value="fr">
<div class="relais-tracking__field"><label for="relais-order-1">Numéro de commande</label><input id="relais-order-1" name="order" type="text" autocomplete="off" maxlength="40" required placeholder="1001"></div>
<div class="relais-tracking__field"><label for="relais-contact-1">E-mail ou numéro de téléphone</label><input id="relais-contact-1" name="contact" type="text" autocomplete="email" maxlength="320" required></div>
<button type="submit" class="relais-tracking__submit button">Suivre ma commande</button></form></div>
<div class="relais-block relais-upsell" data-relais-upsell="/apps/track/upsell?product_id=9001&amp;locale=fr&amp;limit=4" aria-live="polite"></div>
<script src="/extension/upsell.js" defer></script>"""


def proxy_query(extra: dict[str, str]) -> str:
    params = {
        "shop": SHOP_DOMAIN,
        "path_prefix": "/apps/track",
        "timestamp": str(int(time.time())),
        "logged_in_customer_id": "",
        **extra,
    }
    message = "".join(f"{k}={v}" for k, v in sorted(params.items()))
    signature = hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    return urlencode({**params, "signature": signature})


class Storefront:
    """The stand-in shop: theme pages, the extension's assets, and the app proxy."""

    def __init__(self, relais: Any) -> None:
        self.relais = relais

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        path = request.path
        if path == "/theme/plain":
            response = Response(THEME_PAGE.format(head="", blocks=""), content_type="text/html")
        elif path == "/theme/blocks":
            body = THEME_PAGE.format(head=BLOCKS_HEAD, blocks=BLOCKS_BODY)
            response = Response(body, content_type="text/html")
        elif path.startswith("/extension/"):
            asset = EXTENSION / "assets" / path.rsplit("/", 1)[1]
            kind = "text/css" if asset.suffix == ".css" else "text/javascript"
            response = Response(asset.read_bytes(), content_type=kind)
        elif path.startswith("/apps/track"):
            query = proxy_query(dict(parse_qsl(request.query_string.decode())))
            upstream = Client(self.relais).get(f"/proxy{path[len('/apps/track') :]}?{query}")
            response = Response(
                upstream.get_data(), status=upstream.status_code, content_type=upstream.content_type
            )
        else:
            return self.relais(environ, start_response)
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response(environ, start_response)


def lighthouse(url: str, runs: int, workdir: Path) -> dict[str, float]:
    scores: dict[str, list[float]] = {"performance": [], "accessibility": []}
    env = {**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")}
    for run in range(runs):
        report = workdir / f"lh-{abs(hash(url))}-{run}.json"
        subprocess.run(
            [
                str(LIGHTHOUSE),
                url,
                "--quiet",
                "--output=json",
                f"--output-path={report}",
                "--only-categories=performance,accessibility",
                f"--chrome-flags={CHROME_FLAGS}",
            ],
            check=True,
            env=env,
            timeout=300,
        )
        data = json.loads(report.read_text())
        for category in scores:
            scores[category].append(data["categories"][category]["score"] * 100)
    return {k: statistics.median(v) for k, v in scores.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not LIGHTHOUSE.exists():
        sys.exit("lighthouse is missing: run `npm ci` in benchmarks/node")

    workdir = Path(tempfile.mkdtemp(prefix="relais-lh-"))
    url = f"sqlite:///{workdir / 'lh.sqlite3'}"
    db = Database(url)
    public_ids = seed(db, 50)
    db.dispose()
    ratelimit.PAGE_PER_IP = ratelimit.Limit("page-ip", 10**9, 60)

    holder: dict[str, Any] = {}
    server = make_server("127.0.0.1", 0, lambda e, s: holder["app"](e, s), threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    config = Config(
        shopify_api_key="bench",
        shopify_api_secret=SECRET,
        app_url=base,
        secret_key="bench-secret-key",
        database_url=url,
        instance_dir=str(workdir / "instance"),
    )
    relais = create_app(config)
    holder["app"] = Storefront(relais.wsgi_app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        token = make_order_token(
            config.secret_key, SHOP_DOMAIN, public_ids[0] if public_ids else _any_public_id(db)
        )
        page = lighthouse(f"{base}/t/{token}", args.runs, workdir)
        plain = lighthouse(f"{base}/theme/plain", args.runs, workdir)
        blocks = lighthouse(f"{base}/theme/blocks", args.runs, workdir)
    finally:
        server.shutdown()
    print(f"\nLighthouse medians over {args.runs} runs (Chromium {CHROME_FLAGS.split()[0]})")
    print(
        f"standalone tracking page   performance {page['performance']:.0f}  "
        f"accessibility {page['accessibility']:.0f}"
    )
    print(
        f"theme page without blocks  performance {plain['performance']:.0f}  "
        f"accessibility {plain['accessibility']:.0f}"
    )
    print(
        f"theme page with blocks     performance {blocks['performance']:.0f}  "
        f"accessibility {blocks['accessibility']:.0f}"
    )
    print(
        f"cost of the blocks: {plain['performance'] - blocks['performance']:.0f} "
        "performance point(s)"
    )


def _any_public_id(db: Database) -> str:
    from sqlalchemy import select

    from plugin.models import Order

    with db.session() as session:
        return str(session.scalar(select(Order.public_id).limit(1)))


if __name__ == "__main__":
    main()

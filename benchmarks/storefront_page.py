"""Server time of the tracking page, next to a baseline, on a large database.

Seeds N orders (default 100,000 in SQLite; pass --database-url for PostgreSQL), then times
the app itself (WSGI call to last byte, no network) for random orders:
  - baseline: GET /healthz (one SELECT 1 and one Redis PING),
  - GET /t/<token> (standalone page),
  - GET /proxy/o/<token> (app proxy: signature check + Liquid page).
Each is measured over several rounds, interleaved; prints p50/p95/p99 (median over rounds)
and the page's ratio to the baseline, and the page weight (raw and gzip, without images).

Usage: python benchmarks/storefront_page.py [--orders 100000] [--requests 2000] [--rounds 3]
       [--database-url postgresql+psycopg://...] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import hmac
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from storefront_data import SHOP_DOMAIN, seed  # noqa: E402

from frontend import ratelimit  # noqa: E402
from plugin import create_app  # noqa: E402
from plugin.config import Config  # noqa: E402
from plugin.db import Database  # noqa: E402
from plugin.links import make_order_token  # noqa: E402

SECRET = "bench-api-secret"


def proxy_query() -> str:
    params = {
        "shop": SHOP_DOMAIN,
        "path_prefix": "/apps/track",
        "timestamp": str(int(time.time())),
        "logged_in_customer_id": "",
    }
    message = "".join(f"{k}={v}" for k, v in sorted(params.items()))
    signature = hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    return urlencode({**params, "signature": signature})


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url")
    parser.add_argument("--keep", help="folder for the database (reused if already seeded)")
    args = parser.parse_args()

    workdir = Path(args.keep or tempfile.mkdtemp(prefix="relais-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    config = Config(
        shopify_api_key="bench",
        shopify_api_secret=SECRET,
        app_url="https://relais.bench",
        secret_key="bench-secret-key",
        database_url=url,
        instance_dir=str(workdir / "instance"),
    )
    db = Database(url)
    ids_file = workdir / f"public_ids-{args.orders}.txt"
    if ids_file.exists():
        public_ids = ids_file.read_text().split()
        print(f"reusing {args.orders:,} seeded orders in {url}")
    else:
        print(f"seeding {args.orders:,} orders into {url}")
        public_ids = seed(db, args.orders)
        ids_file.write_text("\n".join(public_ids))
    db.dispose()

    # One client address sends every request here: keep counting (its cost is measured)
    # but lift the ceilings.
    ratelimit.PAGE_PER_IP = ratelimit.Limit("page-ip", 10**9, 60)
    ratelimit.PAGE_PER_SHOP = ratelimit.Limit("page-shop", 10**9, 60)
    app = create_app(config)
    client = app.test_client()
    tokens = [make_order_token(config.secret_key, SHOP_DOMAIN, p) for p in public_ids]
    rng = random.Random(1)

    def timed(path_for: object) -> list[float]:
        samples = []
        for _ in range(args.requests):
            path = path_for()  # type: ignore[operator]
            start = time.perf_counter()
            response = client.get(path)
            response.get_data()
            samples.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        return samples

    targets = {
        "baseline /healthz": lambda: "/healthz",
        "standalone /t/<token>": lambda: f"/t/{rng.choice(tokens)}",
        "app proxy /proxy/o/<token>": lambda: f"/proxy/o/{rng.choice(tokens)}?{proxy_query()}",
    }
    # Warm-up: first requests fill the upsell cache and the page caches of the database.
    for path_for in targets.values():
        for _ in range(300):
            client.get(path_for())

    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in targets}
    for round_number in range(args.rounds):
        for name, path_for in targets.items():
            samples = timed(path_for)
            results[name].append(
                (percentile(samples, 0.5), percentile(samples, 0.95), percentile(samples, 0.99))
            )
        print(f"  round {round_number + 1}/{args.rounds} done", flush=True)

    print(
        f"\nserver time, {args.orders:,} orders, {args.requests} requests x {args.rounds} rounds"
        f" ({'PostgreSQL' if 'postgresql' in url else 'SQLite'})"
    )
    print(f"{'':32} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'p50 ratio':>10}")
    base = statistics.median(r[0] for r in results["baseline /healthz"])
    for name, rows in results.items():
        p50 = statistics.median(r[0] for r in rows)
        p95 = statistics.median(r[1] for r in rows)
        p99 = statistics.median(r[2] for r in rows)
        print(f"{name:32} {p50:8.2f} {p95:8.2f} {p99:8.2f} {p50 / base:9.1f}x")

    # Page weight: the heaviest kind of page (two parcels, upsell), without images.
    heaviest = max((client.get(f"/t/{t}").get_data() for t in tokens[:200]), key=len)
    liquid = client.get(f"/proxy/o/{tokens[0]}?{proxy_query()}").get_data()
    print(
        f"\npage weight without images: standalone {len(heaviest):,} B raw, "
        f"{len(gzip.compress(heaviest)):,} B gzip; liquid {len(liquid):,} B raw"
    )
    app.extensions["relais"].db.dispose()


if __name__ == "__main__":
    main()

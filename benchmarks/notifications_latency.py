"""Webhook accepted → provider called, at a steady 50 webhooks per second.

The whole product runs as in production, on this machine: gunicorn (2 workers) serving
``POST /webhooks``, ``relais worker`` processes (RQ SimpleWorker with the scheduler), SQLite
and an embedded Redis, and local stand-ins of Twilio and SendGrid that record when each
request arrives. Shipments exist beforehand; the benchmark sends signed
``fulfillment_events/create`` webhooks ("out for delivery", each for another shipment) at a
fixed rate and measures, for each, the time from the 200 of the webhook to the provider
call it causes: an SMS (shoppers with SMS consent) or an email (the others).

Usage: python benchmarks/notifications_latency.py [--rate 50] [--seconds 20] [--workers 2]
       [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import base64
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
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
SECRET = "bench-secret"
SHOP = "bench-shop.myshopify.com"
PORT = 18091


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server (postgresql+psycopg://...); default SQLite",
    )
    args = parser.parse_args()

    from sqlalchemy import create_engine

    import plugin.model_registry  # noqa: F401
    from plugin.db import Base, Database
    from plugin.redis_conn import start_embedded_redis
    from tests.standins import sendgrid_server, twilio_server

    count = int(args.rate * args.seconds)
    work = Path(tempfile.mkdtemp(prefix="relais-latency-"))
    database_url, drop_schema = fresh_database(args.database_url, work)
    engine = create_engine(database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    redis_url = start_embedded_redis(work / "redis")
    shipments = _seed(Database(database_url), count)

    sendgrid = sendgrid_server.sendgrid_standin().start()
    twilio = twilio_server.twilio_standin().start()
    env = {
        **os.environ,
        "SHOPIFY_API_KEY": "bench",
        "SHOPIFY_API_SECRET": SECRET,
        "APP_URL": f"http://127.0.0.1:{PORT}",
        "SECRET_KEY": "bench",
        "RELAIS_INSTANCE_DIR": str(work),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "WARNING",
        "EMAIL_BACKEND": "sendgrid",
        "SENDGRID_API_KEY": sendgrid_server.API_KEY,
        "SENDGRID_HOST": sendgrid.url,
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": twilio_server.ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": twilio_server.AUTH_TOKEN,
        "TWILIO_BASE_URL": twilio.url,
        "TWILIO_SMS_FROM": "Relais",
        "PYTHONPATH": str(ROOT),
    }
    web = subprocess.Popen(
        [
            PY,
            "-m",
            "gunicorn",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{PORT}",
            "--log-level",
            "warning",
            "plugin:create_app()",
        ],
        env=env,
        cwd=ROOT,
    )
    workers = [
        subprocess.Popen(
            [PY, "-m", "plugin", "worker"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(args.workers)
    ]
    try:
        _wait(f"http://127.0.0.1:{PORT}/healthz")
        time.sleep(2)  # the workers register and start their schedulers
        accepted = _send(shipments, args.rate)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if len(sendgrid.posts()) + len(twilio.posts()) >= len(accepted):
                break
            time.sleep(0.2)
        durations = _job_durations(redis_url)
    finally:
        for process in [web, *workers]:
            process.terminate()
        for process in [web, *workers]:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        sendgrid.stop()
        twilio.stop()
        drop_schema()

    arrivals: dict[str, float] = {}
    for request in twilio.posts("/Messages.json"):
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        arrivals.setdefault(form["To"], request.received_at)
    for request in sendgrid.posts("/v3/mail/send"):
        to = request.json()["personalizations"][0]["to"][0]["email"]
        arrivals.setdefault(to, request.received_at)
    latencies = sorted(
        (arrivals[key] - at) * 1000 for key, at in accepted.items() if key in arrivals
    )
    missing = len(accepted) - len(latencies)
    if not latencies:
        print("no provider call arrived", file=sys.stderr)
        return 1

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, round(p * len(latencies)) - 1)]

    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"\nWebhook accepted → provider called, {args.rate:.0f} webhooks/s for "
        f"{args.seconds:.0f} s, {args.workers} worker process(es), gunicorn -w 2, {backend}"
    )
    print(
        f"  accepted {len(accepted)}, provider calls {len(latencies)} "
        f"(SMS {len(twilio.posts())}, email {len(sendgrid.posts())}), missing {missing}"
    )
    print(
        f"  p50 {statistics.median(latencies):.0f} ms   p95 {pct(0.95):.0f} ms   "
        f"p99 {pct(0.99):.0f} ms   max {latencies[-1]:.0f} ms   (target p95 < 1000 ms)"
    )
    print("  where the time goes (median job duration in the workers, jobs counted):")
    for name, values in sorted(durations.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"    {name:<48}{statistics.median(values) * 1000:>8.1f} ms  x{len(values)}")
    return 0 if missing == 0 and pct(0.95) < 1000 else 1


def _job_durations(redis_url: str) -> dict[str, list[float]]:
    """Duration of every finished job still remembered by RQ, by function."""
    from redis import Redis
    from rq import Queue
    from rq.job import Job
    from rq.registry import FinishedJobRegistry
    from rq.serializers import JSONSerializer

    from plugin.queues import QUEUE_NAMES

    redis = Redis.from_url(redis_url)
    durations: dict[str, list[float]] = {}
    for name in QUEUE_NAMES:
        queue = Queue(name, connection=redis, serializer=JSONSerializer)
        ids = FinishedJobRegistry(queue=queue).get_job_ids()
        for job in Job.fetch_many(ids, connection=redis, serializer=JSONSerializer):
            if job is None or job.started_at is None or job.ended_at is None:
                continue
            key = (job.func_name or "?").rsplit(".", 2)[-2:]
            durations.setdefault(".".join(key), []).append(
                (job.ended_at - job.started_at).total_seconds()
            )
    return durations


def fresh_database(server_url: str | None, work: Path):  # type: ignore[no-untyped-def]
    """SQLite in ``work``, or a fresh schema on a PostgreSQL server (dropped afterwards)."""
    if not server_url:
        return f"sqlite:///{work / 'relais.sqlite3'}", lambda: None
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in server_url else "?"

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

    return f"{server_url}{separator}options=-csearch_path%3D{schema}", drop


def _seed(db, count: int) -> list[tuple[int, int, str]]:  # type: ignore[no-untyped-def]
    """A shop, and ``count`` orders each with one shipment; returns (order, fulfillment,
    address the message goes to)."""
    import secrets

    from plugin.milestones import Milestone
    from plugin.models import Order, Shipment, Shop
    from plugin.notifications.channels import Channel
    from plugin.notifications.settings import (
        DEFAULT_SETTINGS,
        MilestoneRule,
        QuietHours,
        save_settings,
    )

    created = datetime.now(UTC) - timedelta(days=1)
    result = []
    with db.transaction() as session:
        shop = Shop(
            domain=SHOP,
            name="Maison Lumière",
            contact_email="bonjour@example.fr",
            primary_locale="fr",
            iana_timezone="Europe/Paris",
            country_code="FR",
            settings={},
        )
        session.add(shop)
        session.flush()
        save_settings(
            session,
            shop.id,
            DEFAULT_SETTINGS.__class__(
                rules={
                    **DEFAULT_SETTINGS.rules,
                    Milestone.OUT_FOR_DELIVERY: MilestoneRule(True, (Channel.SMS, Channel.EMAIL)),
                },
                quiet_hours=QuietHours(enabled=False),  # measured at any hour of the day
            ),
        )
        for n in range(count):
            sms = n % 2 == 0
            order = Order(
                shop_id=shop.id,
                shopify_id=9_000_000 + n,
                is_complete=True,
                name=f"#{2000 + n}",
                locale="fr",
                email=f"shopper{n}@example.fr",
                phone=f"+336{n:08d}",
                first_name="Camille",
                ship_country_code="FR",
                sms_marketing_consent=sms,
                line_items=[{"id": 1, "title": "Bougie", "quantity": 1}],
                public_id=secrets.token_urlsafe(16),
                shopify_created_at=created,
            )
            session.add(order)
            session.flush()
            session.add(
                Shipment(
                    shop_id=shop.id,
                    order_id=order.id,
                    shopify_fulfillment_id=8_000_000 + n,
                    name=f"#{2000 + n}.1",
                    milestone="in_transit",
                    milestone_at=created,
                    tracking_company="Colissimo",
                    tracking_number=f"6A{n:011d}",
                    line_items=[],
                )
            )
            result.append(
                (9_000_000 + n, 8_000_000 + n, f"+336{n:08d}" if sms else f"shopper{n}@example.fr")
            )
    return result


def _send(shipments: list[tuple[int, int, str]], rate: float) -> dict[str, float]:
    """POST one webhook per shipment at ``rate`` per second; when each got its 200."""
    from plugin.shopify_payloads import fulfillment_event_payload

    accepted: dict[str, float] = {}
    lock = threading.Lock()
    local = threading.local()
    start = time.time() + 0.5

    def post(index: int) -> None:
        order_id, fulfillment_id, address = shipments[index]
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=f"http://127.0.0.1:{PORT}", timeout=10)
        body = json.dumps(
            fulfillment_event_payload(
                event_id=7_000_000 + index,
                fulfillment_id=fulfillment_id,
                order_id=order_id,
                status="out_for_delivery",
                happened_at=datetime.now(UTC),
                city="Lyon",
            )
        ).encode()
        digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
        delay = start + index / rate - time.time()
        if delay > 0:
            time.sleep(delay)
        response = client.post(
            "/webhooks",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Shopify-Topic": "fulfillment_events/create",
                "X-Shopify-Shop-Domain": SHOP,
                "X-Shopify-Webhook-Id": str(uuid.uuid4()),
                "X-Shopify-API-Version": "2026-07",
                "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
            },
        )
        if response.status_code == 200:
            with lock:
                accepted[address] = time.time()

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(post, range(len(shipments))))
    return accepted


def _wait(url: str) -> None:
    for _ in range(200):
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


if __name__ == "__main__":
    sys.exit(main())

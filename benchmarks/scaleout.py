"""Scale-out and per-shop fairness on a real cluster (PostgreSQL, redis-server, gunicorn,
RQ workers, a SendGrid stand-in that takes 30 ms per message), all on 127.0.0.1.

  scaleout: the same backlog of order stories is queued with no worker running; then 1, 2
            or 4 workers start and the time to apply every webhook and send every message
            is measured (median of --rounds). Baseline: 1 worker.
  fairness: a big shop's burst of --big orders is queued (through the intake's own store and
            queue functions, as HTTP would leave it, but in seconds), then a small shop sends
            orders over HTTP while the backlog drains; the time from its webhook's 200 to its
            delivery applied and to its message sent is measured, with Relais' per-shop
            lanes and with them switched off (the FIFO baseline).

    python benchmarks/scaleout.py scaleout --json benchmarks/results/scaleout.json
    python benchmarks/scaleout.py fairness --big 100000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from ops.audit import engine_for, wait_until_drained  # noqa: E402
from ops.cluster import ClusterSettings, running_cluster  # noqa: E402
from ops.load import Driver, LoadPlan, Record, order_story, shop_domain  # noqa: E402
from ops.shops import install_shops  # noqa: E402
from plugin.models import WebhookDelivery  # noqa: E402
from plugin.redis_conn import connect  # noqa: E402
from tests.standins.http_recorder import RecordingServer  # noqa: E402
from tests.standins.sendgrid_server import API_KEY, respond  # noqa: E402

PROVIDER_DELAY = 0.03  # a provider's answer time: sending is I/O, as it is in production


def _sendgrid(delay: float) -> RecordingServer:
    return RecordingServer(lambda request: replace(respond(request), delay=delay))


def _env(sendgrid_url: str, **extra: str) -> dict[str, str]:
    return {
        "EMAIL_BACKEND": "sendgrid",
        "SENDGRID_API_KEY": API_KEY,
        "SENDGRID_HOST": sendgrid_url,
        "NOTIFICATIONS_FROM_EMAIL": "relais@example.org",
        **extra,
    }


def _messages(engine: Any) -> dict[str, int]:
    from plugin.notifications.models import NotificationMessage

    with engine.connect() as conn:
        rows = conn.execute(
            select(NotificationMessage.state, func.count()).group_by(NotificationMessage.state)
        ).all()
    return {state: count for state, count in rows}


def _wait_messages_final(engine: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = _messages(engine)
        if not states.get("queued") and not states.get("sending"):
            return
        time.sleep(0.5)


def scaleout_round(workers: int, shops: int, orders: int) -> dict[str, Any]:
    """One measurement: backlog first, then ``workers`` workers drain it."""
    with _sendgrid(PROVIDER_DELAY) as sendgrid:
        settings = ClusterSettings(
            workers=0, log_level="WARNING", extra_env=_env(sendgrid.url)
        )
        with running_cluster(settings) as cluster:
            domains = [shop_domain(s, "scale") for s in range(shops)]
            install_shops(cluster.database_url, domains)
            plan = LoadPlan(shops=shops, orders_per_shop=orders, prefix="scale")
            report = Driver(cluster.base_url, concurrency=8).run(
                plan.stories(cluster.env()["SHOPIFY_API_SECRET"])
            )
            engine = engine_for(cluster.database_url)
            redis = connect(cluster.redis.url)
            started = time.monotonic()
            for _ in range(workers):
                cluster.add_worker()
            wait_until_drained(engine, redis, len(report.accepted), timeout=600)
            _wait_messages_final(engine, timeout=300)
            seconds = time.monotonic() - started
            states = _messages(engine)
            engine.dispose()
    sent = states.get("sent", 0)
    return {
        "workers": workers,
        "webhooks": len(report.accepted),
        "messages_sent": sent,
        "provider_requests": len(sendgrid.requests),
        "seconds": round(seconds, 2),
        "webhooks_per_s": round(len(report.accepted) / seconds, 1),
        "messages_per_s": round(sent / seconds, 1),
        "message_states": states,
    }


def scaleout(args: argparse.Namespace) -> dict[str, Any]:
    rows = []
    for workers in args.workers:
        rounds = [scaleout_round(workers, args.shops, args.orders) for _ in range(args.rounds)]
        median = statistics.median(r["messages_per_s"] for r in rounds)
        row = {**rounds[0], "messages_per_s": median,
               "webhooks_per_s": statistics.median(r["webhooks_per_s"] for r in rounds),
               "rounds": rounds}
        rows.append(row)
        print(f"{workers} worker(s): {row['messages_per_s']} messages/s, "
              f"{row['webhooks_per_s']} webhooks/s "
              f"({row['messages_sent']} messages, {row['webhooks']} webhooks)", flush=True)
    base = rows[0]["messages_per_s"] or 1.0
    for row in rows:
        row["ratio_vs_1"] = round(row["messages_per_s"] / base, 2)
    return {"scaleout": rows, "shops": args.shops, "orders_per_shop": args.orders,
            "provider_delay_s": PROVIDER_DELAY}


def _queue_burst(cluster: Any, domain: str, count: int) -> None:
    """A shop's burst of ``count`` orders/create, stored and queued by the intake's own
    writer (what ``POST /webhooks`` does after the signature check), 500 at a time."""
    from plugin.config import Config
    from plugin.db import Database
    from plugin.queues import JobQueues
    from webhooks.intake import Arrival, IncomingDelivery, IntakeWriter

    config = Config.from_env(cluster.env())
    db = Database(cluster.database_url)
    redis = connect(cluster.redis.url)
    writer = IntakeWriter(db, redis, JobQueues(redis), config.shop_burst_per_minute)
    secret = cluster.env()["SHOPIFY_API_SECRET"]
    template = order_story(domain, secret, events=())[0]
    body = template.body.decode()
    for start in range(0, count, 500):
        arrivals = [
            Arrival(
                IncomingDelivery(
                    webhook_id=f"burst-{n}", topic="orders/create", shop_domain=domain,
                    api_version="2026-07", event_id=None, triggered_at=datetime.now(UTC),
                ),
                body.replace('"id": ', f'"id": {n + 1}0', 1),
            )
            for n in range(start, min(start + 500, count))
        ]
        writer.store_and_queue(arrivals)
    db.dispose()


def fairness_round(big: int, small_orders: int, lanes: bool, wait: float) -> dict[str, Any]:
    budget = "120" if lanes else str(10**9)
    with _sendgrid(PROVIDER_DELAY) as sendgrid:
        settings = ClusterSettings(
            workers=2, log_level="WARNING",
            extra_env=_env(sendgrid.url, RELAIS_SHOP_BURST_PER_MINUTE=budget),
        )
        with running_cluster(settings) as cluster:
            big_shop, small_shop = "big-shop.myshopify.com", "small-shop.myshopify.com"
            install_shops(cluster.database_url, [big_shop, small_shop])
            started = time.monotonic()
            if big:
                _queue_burst(cluster, big_shop, big)
            queued_in = time.monotonic() - started
            secret = cluster.env()["SHOPIFY_API_SECRET"]
            # Ordered then shipped: the "shipped" email is not overtaken by a later milestone.
            stories = [order_story(small_shop, secret, events=())
                       for _ in range(small_orders)]
            accepted: dict[str, float] = {}

            def note(record: Record) -> None:
                accepted[record.webhook.webhook_id] = time.time()

            Driver(cluster.base_url, concurrency=1, rate=0.5, on_accepted=note).run(stories)
            # The "shipped" email is the message each small-shop order calls for.
            shipped_by = {story[0].effect[1]: story[1].webhook_id for story in stories}
            latencies = _small_shop_latencies(cluster.database_url, accepted, wait)
            latencies.update(
                _small_shop_message_latencies(cluster.database_url, small_shop, accepted,
                                              shipped_by, wait)
            )
    return {"lanes": lanes, "big_orders": big, "queued_in_s": round(queued_in, 1), **latencies}


def _small_shop_latencies(url: str, accepted: dict[str, float], wait: float) -> dict[str, Any]:
    """Seconds from each small-shop webhook's 200 to its delivery applied (at most ``wait``)."""
    engine = engine_for(url)
    deadline = time.time() + wait
    done: dict[str, float] = {}
    while time.time() < deadline and len(done) < len(accepted):
        with engine.connect() as conn:
            rows = conn.execute(
                select(WebhookDelivery.webhook_id, WebhookDelivery.processed_at).where(
                    WebhookDelivery.webhook_id.in_(list(accepted)),
                    WebhookDelivery.processed_at.is_not(None),
                )
            ).all()
        for webhook_id, processed_at in rows:
            assert processed_at is not None
            done[webhook_id] = max(0.0, processed_at.timestamp() - accepted[webhook_id])
        time.sleep(0.5)
    sent = _messages(engine).get("sent", 0)
    engine.dispose()
    values = sorted(done.values())
    missing = len(accepted) - len(values)
    return {
        "small_webhooks": len(accepted),
        "applied_within_wait": len(values),
        "still_waiting": missing,
        "wait_s": wait,
        "p50_s": round(statistics.median(values), 2) if values else None,
        "max_s": round(values[-1], 2) if values else None,
        "messages_sent": sent,
    }


def _small_shop_message_latencies(
    url: str, domain: str, accepted: dict[str, float], shipped_by: dict[int, str], wait: float
) -> dict[str, Any]:
    """Seconds from the 200 of each small-shop order's fulfillment webhook to its "shipped"
    email sent (at most ``wait``)."""
    from plugin.models import Order, Shop
    from plugin.notifications.models import NotificationMessage

    engine = engine_for(url)
    deadline = time.time() + wait
    sent: dict[int, float] = {}
    while time.time() < deadline and len(sent) < len(shipped_by):
        with engine.connect() as conn:
            rows = conn.execute(
                select(Order.shopify_id, NotificationMessage.sent_at)
                .join(Order, Order.id == NotificationMessage.order_id)
                .join(Shop, Shop.id == Order.shop_id)
                .where(Shop.domain == domain, NotificationMessage.milestone == "shipped",
                       NotificationMessage.state == "sent")
            ).all()
        for order_id, sent_at in rows:
            webhook_id = shipped_by.get(order_id)
            if webhook_id in accepted and sent_at is not None:
                sent[order_id] = max(0.0, sent_at.timestamp() - accepted[webhook_id])
        time.sleep(0.5)
    with engine.connect() as conn:
        states = conn.execute(
            select(NotificationMessage.state, NotificationMessage.reason, func.count())
            .join(Shop, Shop.id == NotificationMessage.shop_id)
            .where(Shop.domain == domain)
            .group_by(NotificationMessage.state, NotificationMessage.reason)
        ).all()
    engine.dispose()
    values = sorted(sent.values())
    return {
        "small_message_states": {f"{state}: {reason or ''}": n for state, reason, n in states},
        "small_messages": len(shipped_by),
        "messages_within_wait": len(values),
        "message_p50_s": round(statistics.median(values), 2) if values else None,
        "message_max_s": round(values[-1], 2) if values else None,
    }


def fairness(args: argparse.Namespace) -> dict[str, Any]:
    baseline = fairness_round(0, args.small, lanes=True, wait=args.wait)
    print("small shop alone:", baseline, flush=True)
    fair = fairness_round(args.big, args.small, lanes=True, wait=args.wait)
    print("with lanes:", fair, flush=True)
    fifo = fairness_round(args.big, args.small, lanes=False, wait=args.wait)
    print("lanes off (FIFO):", fifo, flush=True)
    return {"fairness": {"alone": baseline, "lanes": fair, "fifo": fifo}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    scale = sub.add_parser("scaleout")
    scale.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    scale.add_argument("--shops", type=int, default=20)
    scale.add_argument("--orders", type=int, default=10, help="orders per shop")
    scale.add_argument("--rounds", type=int, default=1)
    fair = sub.add_parser("fairness")
    fair.add_argument("--big", type=int, default=20_000, help="orders in the big shop's burst")
    fair.add_argument("--small", type=int, default=10, help="small shop's orders")
    fair.add_argument("--wait", type=float, default=60.0, help="longest wait measured")
    for p in (scale, fair):
        p.add_argument("--json", type=Path, help="merge the figures into this JSON file")
    args = parser.parse_args()
    result = scaleout(args) if args.command == "scaleout" else fairness(args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        existing = json.loads(args.json.read_text()) if args.json.exists() else {}
        existing.update(result)
        args.json.write_text(json.dumps(existing, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

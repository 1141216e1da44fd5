"""Notification jobs per second per worker process, next to RQ's own throughput.

In one run, on this machine, one process, the same worker class Relais runs (RQ's
SimpleWorker, JSON serializer, in the app context), burst mode:

  1. baseline: N empty jobs (``os.getpid``), RQ's own cost per job;
  2. send jobs: N ``plugin.notifications.jobs.send_message`` for queued messages (emails and
     SMS alternately, rendered from the default copy, captured by the outbox transports in
     SQLite: claim, render, "send", record);
  3. subscriber jobs: N ``plugin.notifications.jobs.on_milestone`` for domain events (policy,
     consent, quiet hours, one message row each, claimed in the same transaction, and its
     first attempt made in the same job; in production the webhook job runs it inline).

Each drain is timed from its first job's start to its last job's end, for every kind alike.
Each round measures empty jobs before, between and after the two kinds, and compares each
kind with the empty jobs around it; the median of those ratios is printed.

With ``--floors``, each round also drains two kinds of jobs that are not Relais (see
benchmarks/notifications_floor.py): the database work a send job and a milestone job cannot
avoid, with nothing else, each compared with empty jobs around it the same way. They show
how close to the empty job any job that keeps its message durably can come here.
Usage: python benchmarks/notifications_throughput.py [--jobs 500] [--rounds 10] [--floors]
       [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rq import SimpleWorker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("LOG_LEVEL", "WARNING")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(
        "--database-url", default=None, help="a PostgreSQL server; default a SQLite file"
    )
    parser.add_argument(
        "--floors", action="store_true", help="also measure the floor jobs (not Relais)"
    )
    args = parser.parse_args()

    import logging

    from notifications_latency import fresh_database
    from rq.serializers import JSONSerializer
    from sqlalchemy import create_engine

    import plugin.model_registry  # noqa: F401  (every table)
    from plugin import create_app
    from plugin.config import Config
    from plugin.db import Base
    from plugin.redis_conn import start_embedded_redis

    work = Path(tempfile.mkdtemp(prefix="relais-notify-bench-"))
    database_url, drop_schema = fresh_database(args.database_url, work)
    engine = create_engine(database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    redis_url = os.environ.get("REDIS_URL") or start_embedded_redis(work / "redis")
    config = Config(
        shopify_api_key="bench",
        shopify_api_secret="bench",
        app_url="https://relais.example",
        secret_key="bench",
        database_url=database_url,
        redis_url=redis_url,
        instance_dir=str(work),
        testing=True,
        twilio_sms_from="Relais",
    )
    app = create_app(config)
    for name in ("rq", "rq.worker", "rq.scheduler", "plugin", "relais"):
        logging.getLogger(name).setLevel(logging.WARNING)
    runtime = app.extensions["relais"]
    runtime.redis.flushdb()

    with app.app_context():
        shop_id, order_ids = _seed(runtime, args.jobs)

        def drain(name: str = "notifications") -> float:
            """Seconds from the first job's start to the last job's end. A burst worker's
            own start (registering) and stop (joining its pub/sub thread: up to 1 s) are not
            job throughput, and would weigh more on the faster kind of job."""
            worker = TimedWorker(
                [runtime.queues[name]], connection=runtime.redis, serializer=JSONSerializer
            )
            worker.work(burst=True, with_scheduler=False, logging_level="WARNING")
            if worker.first_started is None or worker.last_ended is None:
                return 0.0  # nothing was queued there
            return worker.last_ended - worker.first_started

        results: dict[str, list[float]] = {
            "empty": [],
            "send": [],
            "subscriber": [],
            "floor_send": [],
            "floor_milestone": [],
        }
        ratios: dict[str, list[float]] = {k: [] for k in results if k != "empty"}

        def empty_round(tag: str) -> float:
            # Queued the way the app queues its own jobs (same options), then drained.
            for i in range(args.jobs):
                runtime.queues.enqueue(
                    "notifications", "os.getpid", job_id=f"empty-{tag}-{i}", retry=None
                )
            rate = args.jobs / drain()
            results["empty"].append(rate)
            return rate

        def burst(queue: str, function: str, ids: list[int], job_id: str) -> float:
            """One job per id (``job_id`` formats it), queued then drained: jobs per second."""
            for item_id in ids:
                runtime.queues.enqueue(
                    queue, function, item_id, job_id=job_id.format(item_id), retry=None
                )
            return len(ids) / drain(queue)

        def record(kind: str, rate: float, empty_before: float, empty_after: float) -> str:
            """Keep a kind's rate and its ratio to the empty jobs measured just around it (a
            machine busy with something else then weighs on both sides alike)."""
            results[kind].append(rate)
            ratios[kind].append(rate / ((empty_before + empty_after) / 2))
            return f"{rate:.0f}/s ({ratios[kind][-1]:.2f})"

        for round_no in range(args.rounds):
            before = empty_round(f"{round_no}a")
            send = burst(
                "notifications",
                "plugin.notifications.jobs.send_message",
                _queue_messages(runtime, shop_id, order_ids, str(round_no)),
                "notify-{}-0",
            )
            between = empty_round(f"{round_no}b")
            # On the "events" queue, where the app queues them.
            subscriber = burst(
                "events",
                "plugin.notifications.jobs.on_milestone",
                _events(runtime, shop_id, order_ids, round_no, str(round_no)),
                "event-{}-notify",
            )
            drain()
            after = empty_round(f"{round_no}c")
            line = (
                f"round {round_no + 1}: empty {before:.0f}/{between:.0f}/{after:.0f}/s, "
                f"send {record('send', send, before, between)}, "
                f"subscriber {record('subscriber', subscriber, between, after)}"
            )
            if args.floors:
                tag = f"{round_no}-floor"
                floor_send = burst(
                    "notifications",
                    "notifications_floor.floor_send",
                    _queue_messages(runtime, shop_id, order_ids, tag),
                    "floor-send-{}",
                )
                middle = empty_round(f"{round_no}d")
                floor_milestone = burst(
                    "events",
                    "notifications_floor.floor_milestone",
                    _events(runtime, shop_id, order_ids, round_no, tag),
                    "floor-milestone-{}",
                )
                last = empty_round(f"{round_no}e")
                line += (
                    f", floors {record('floor_send', floor_send, after, middle)} and "
                    f"{record('floor_milestone', floor_milestone, middle, last)}"
                )
            print(line, flush=True)
        captured = _captured_sizes(runtime)

    drop_schema()
    empty = statistics.median(results["empty"])
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"\nJobs per second, one SimpleWorker process, {backend}, medians of {args.rounds} "
        f"rounds of {args.jobs} jobs"
    )
    print(f"  {'RQ empty job (baseline)':<40}{empty:>8.0f}/s")
    kinds = [
        ("send", "send_message (outbox transports)"),
        ("subscriber", "on_milestone (policy + first send)"),
    ]
    if args.floors:
        kinds += [
            ("floor_send", "floor of a send job (not Relais)"),
            ("floor_milestone", "floor of a milestone job (not Relais)"),
        ]
    for name, label in kinds:
        median = statistics.median(results[name])
        print(
            f"  {label:<40}{median:>8.0f}/s   ratio {statistics.median(ratios[name]):.2f}"
            f" (median of the rounds' ratios)"
        )
    print("target: notification jobs >= 0.70 of the empty job")
    print("\nCaptured in the outbox, mean characters (channel, html, text):")
    for source, rows in captured.items():
        print(f"  {source}: " + "; ".join(f"{c} {h:.0f} / {t:.0f}" for c, h, t in rows))
    return 0


class TimedWorker(SimpleWorker):
    """RQ's SimpleWorker, noting when its first job started and its last job ended."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.first_started: float | None = None
        self.last_ended: float | None = None

    def execute_job(self, job: Any, queue: Any) -> None:
        if self.first_started is None:
            self.first_started = time.perf_counter()
        try:
            super().execute_job(job, queue)
        finally:
            self.last_ended = time.perf_counter()


def _seed(runtime, count: int) -> tuple[int, list[int]]:  # type: ignore[no-untyped-def]
    """One shop and ``count`` orders with a shipment each (a French pickup-point story)."""
    import secrets

    from plugin.models import Order, Shipment, Shop
    from plugin.notifications.settings import DEFAULT_SETTINGS, QuietHours, save_settings

    with runtime.db.transaction() as session:
        shop = Shop(
            domain="bench.myshopify.com",
            name="Maison Lumière",
            contact_email="bonjour@maison-lumiere.fr",
            primary_locale="fr",
            iana_timezone="Europe/Paris",
            country_code="FR",
            settings={},
        )
        session.add(shop)
        session.flush()
        save_settings(
            session, shop.id, DEFAULT_SETTINGS.__class__(quiet_hours=QuietHours(enabled=False))
        )
        order_ids = []
        for n in range(count):
            order = Order(
                shop_id=shop.id,
                shopify_id=10_000 + n,
                is_complete=True,
                name=f"#{1000 + n}",
                locale="fr" if n % 2 else "en",
                email=f"shopper{n}@example.fr",
                phone=f"+336{n:08d}",
                first_name="Camille",
                ship_city="Lyon",
                ship_country_code="FR",
                sms_marketing_consent=True,
                line_items=[{"id": 1, "title": "Bougie parfumée", "quantity": 1}],
                public_id=secrets.token_urlsafe(16),
                shopify_created_at=datetime.now(UTC) - timedelta(days=2),
            )
            session.add(order)
            session.flush()
            session.add(
                Shipment(
                    shop_id=shop.id,
                    order_id=order.id,
                    shopify_fulfillment_id=50_000 + n,
                    name=f"#{1000 + n}.1",
                    milestone="out_for_delivery",
                    milestone_at=datetime.now(UTC) - timedelta(hours=1),
                    tracking_company="Colissimo",
                    tracking_number=f"6A{n:011d}",
                    line_items=[],
                )
            )
            order_ids.append(order.id)
        return shop.id, order_ids


def _captured_sizes(runtime) -> dict[str, list[tuple[str, float, float]]]:  # type: ignore[no-untyped-def]
    """Mean sizes of what the real jobs and the floor jobs captured, by channel."""
    from sqlalchemy import case, func, select

    from plugin.notifications.models import OutboxEntry

    source = case(
        (OutboxEntry.provider_id.like("outbox-floor-%"), "floor jobs"), else_="Relais jobs"
    )
    query = (
        select(
            source,
            OutboxEntry.channel,
            func.avg(func.coalesce(func.length(OutboxEntry.html), 0)),
            func.avg(func.length(OutboxEntry.text)),
        )
        .group_by(source, OutboxEntry.channel)
        .order_by(source, OutboxEntry.channel)
    )
    sizes: dict[str, list[tuple[str, float, float]]] = {}
    with runtime.db.session() as session:
        for name, channel, html, text in session.execute(query):
            sizes.setdefault(name, []).append((channel, float(html), float(text)))
    return sizes


def _queue_messages(runtime, shop_id: int, order_ids: list[int], tag: str) -> list[int]:  # type: ignore[no-untyped-def]
    """Queued messages, half emails and half SMS, as the subscriber job creates them."""
    from sqlalchemy import select

    from plugin.models import Order, Shipment
    from plugin.notifications.models import NotificationMessage

    now = datetime.now(UTC)
    ids = []
    with runtime.db.transaction() as session:
        shipments = dict(session.execute(select(Shipment.order_id, Shipment.id)).all())
        orders = {o.id: o for o in session.scalars(select(Order))}
        for n, order_id in enumerate(order_ids):
            order = orders[order_id]
            channel = "email" if n % 2 else "sms"
            message = NotificationMessage(
                shop_id=shop_id,
                order_id=order_id,
                shipment_id=shipments[order_id],
                dedupe_key=f"bench:{tag}:{order_id}",
                kind="milestone",
                milestone="out_for_delivery",
                milestone_at=now - timedelta(hours=1),
                channel=channel,
                locale=order.locale or "fr",
                recipient=order.email if channel == "email" else order.phone,
                state="queued",
                not_before=now,
                attempts=0,
                in_doubt=False,
                promotional=False,
            )
            session.add(message)
            session.flush()
            ids.append(message.id)
    return ids


def _events(runtime, shop_id: int, order_ids: list[int], round_no: int, tag: str) -> list[int]:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from plugin.models import DomainEvent, Shipment

    # A different milestone each round: each event creates (and sends) one new message.
    milestones = (
        "attempted_delivery",
        "ready_for_pickup",
        "delivered",
        "delayed",
        "failure",
        "returning_to_sender",
        "pickup_reminder",
        "late",
        "stalled",
        "feedback_request",
        "shipped",
    )
    milestone = milestones[round_no % len(milestones)]
    ids = []
    with runtime.db.transaction() as session:
        shipments = dict(session.execute(select(Shipment.order_id, Shipment.id)).all())
        for order_id in order_ids:
            event = DomainEvent(
                shop_id=shop_id,
                order_id=order_id,
                shipment_id=shipments[order_id],
                kind="milestone_reached",
                milestone=milestone,
                happened_at=datetime.now(UTC),
                dedupe_key=f"bench:{tag}:{order_id}",
                dispatched_at=datetime.now(UTC),
            )
            session.add(event)
            session.flush()
            ids.append(event.id)
    return ids


if __name__ == "__main__":
    sys.exit(main())

"""A load driver that replays signed Shopify webhooks for many shops, as Shopify does.

Each order is a story sent in order (orders/create, fulfillments/create, then carrier
events); stories of different shops interleave over ``concurrency`` connections. An answer
other than 200 is retried with the same webhook id after a pause, as Shopify retries, until
the driver's own deadline. Every answer is recorded so that an audit can say what was
accepted and whether it was applied.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from queue import Empty, Queue
from typing import Any, Protocol

import httpx

from plugin.shopify_payloads import (
    Item,
    Shopper,
    fulfillment_event_payload,
    fulfillment_payload,
    order_payload,
)

DEFAULT_EVENTS = ("in_transit", "delivered")
_order_ids = itertools.count(1)


class Target(Protocol):
    """Where webhooks go: a running cluster (or anything with these two attributes)."""

    @property
    def base_url(self) -> str: ...

    def env(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class Webhook:
    """One signed delivery, ready to send, and what applying it must leave behind."""

    topic: str
    shop_domain: str
    webhook_id: str
    body: bytes
    signature: str
    # ("order", order id) | ("fulfillment", fulfillment id) | ("event", event id)
    effect: tuple[str, int]

    def headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": self.topic,
            "X-Shopify-Shop-Domain": self.shop_domain,
            "X-Shopify-Webhook-Id": self.webhook_id,
            "X-Shopify-API-Version": "2026-07",
            "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
            "X-Shopify-Hmac-Sha256": self.signature,
        }


def sign(body: bytes, secret: str) -> str:
    """Shopify's signature: base64 HMAC-SHA256 of the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shop_domain(index: int, prefix: str = "shop") -> str:
    return f"{prefix}-{index:05d}.myshopify.com"


def _shopper(order_id: int) -> Shopper:
    # Synthetic but realistic personal data: the log audit looks for exactly these values.
    french = order_id % 3 != 0
    return Shopper(
        first_name="Camille" if french else "Morgan",
        last_name=f"Lefebvre{order_id}",
        email=f"shopper{order_id}@example.org",
        phone=f"+336{order_id % 100_000_000:08d}",
        city="Lyon" if french else "London",
        zip="69003" if french else "SW1A 1AA",
        country_code="FR" if french else "GB",
        locale="fr" if french else "en",
        email_consent=True,
        sms_consent=True,
    )


def order_story(
    domain: str,
    secret: str,
    *,
    events: Sequence[str] = DEFAULT_EVENTS,
    start: datetime | None = None,
) -> list[Webhook]:
    """The webhooks of one order, in the order Shopify sends them."""
    order_id = 900_000_000 + next(_order_ids)
    fulfillment_id = order_id + 10_000_000_000
    t0 = start or datetime.now(UTC) - timedelta(hours=len(events) + 2)
    items = [Item("Bougie parfumée", "32.00"), Item("Diffuseur", "18.50")]
    stories: list[tuple[str, dict[str, Any], tuple[str, int]]] = [
        (
            "orders/create",
            order_payload(
                order_id=order_id,
                number=1000 + order_id % 100_000,
                shopper=_shopper(order_id),
                items=items,
                created_at=t0,
            ),
            ("order", order_id),
        ),
        (
            "fulfillments/create",
            fulfillment_payload(
                fulfillment_id=fulfillment_id,
                order_id=order_id,
                name=f"#{order_id}.1",
                items=items,
                created_at=t0 + timedelta(minutes=30),
                tracking_number=f"6A{order_id:011d}",
            ),
            ("fulfillment", fulfillment_id),
        ),
    ]
    for step, status in enumerate(events, start=1):
        event_id = fulfillment_id * 10 + step
        stories.append(
            (
                "fulfillment_events/create",
                fulfillment_event_payload(
                    event_id=event_id,
                    fulfillment_id=fulfillment_id,
                    order_id=order_id,
                    status=status,
                    happened_at=t0 + timedelta(hours=step),
                    city="Lyon",
                ),
                ("event", event_id),
            )
        )
    webhooks = []
    for topic, payload, effect in stories:
        body = json.dumps(payload).encode()
        webhooks.append(
            Webhook(topic, domain, str(uuid.uuid4()), body, sign(body, secret), effect)
        )
    return webhooks


@dataclass(frozen=True)
class LoadPlan:
    """``shops`` shops with ``orders_per_shop`` orders each, interleaved shop by shop."""

    shops: int = 40
    orders_per_shop: int = 10
    events: Sequence[str] = DEFAULT_EVENTS
    prefix: str = "shop"

    def stories(self, secret: str) -> list[list[Webhook]]:
        per_shop = [
            [
                order_story(shop_domain(s, self.prefix), secret, events=self.events)
                for _ in range(self.orders_per_shop)
            ]
            for s in range(self.shops)
        ]
        # Round-robin across shops: many shops are active at the same time.
        return [story for batch in itertools.zip_longest(*per_shop) for story in batch if story]


@dataclass
class Attempt:
    status: int | str  # an HTTP status, or the name of a transport error
    at: float  # time.monotonic()


@dataclass
class Record:
    """Everything the driver saw for one webhook."""

    webhook: Webhook
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def accepted_at(self) -> float | None:
        return next((a.at for a in self.attempts if a.status == 200), None)

    @property
    def first_sent_at(self) -> float | None:
        return self.attempts[0].at if self.attempts else None


@dataclass
class LoadReport:
    records: list[Record]
    started: float
    finished: float

    @property
    def seconds(self) -> float:
        return self.finished - self.started

    @property
    def statuses(self) -> Counter[int | str]:
        return Counter(a.status for r in self.records for a in r.attempts)

    @property
    def accepted(self) -> list[Record]:
        return [r for r in self.records if r.accepted_at is not None]

    @property
    def never_accepted(self) -> list[Record]:
        return [r for r in self.records if r.accepted_at is None]

    def answers_outside(self, allowed: Iterable[int | str]) -> Counter[int | str]:
        """Answers that are neither 200 nor one of ``allowed`` (for example 503)."""
        allowed = {200, *allowed}
        return Counter(s for s in self.statuses.elements() if s not in allowed)


class Driver:
    """Send stories over ``concurrency`` threads; retry non-200 answers like Shopify."""

    def __init__(
        self,
        base_url: str,
        *,
        concurrency: int = 16,
        retry_delay: float = 1.0,
        deadline: float = 300.0,
        rate: float | None = None,
        on_accepted: Callable[[Record], None] | None = None,
    ) -> None:
        self.base_url = base_url
        self.concurrency = concurrency
        self.retry_delay = retry_delay
        self.deadline = deadline
        self.rate = rate  # stories per second across all threads; None: as fast as possible
        self.on_accepted = on_accepted

    def run(self, stories: Sequence[Sequence[Webhook]]) -> LoadReport:
        work: Queue[tuple[int, Sequence[Webhook]]] = Queue()
        for index, story in enumerate(stories):
            work.put((index, story))
        records: list[Record] = []
        lock = threading.Lock()
        started = time.monotonic()
        stop_at = started + self.deadline

        def worker() -> None:
            with httpx.Client(base_url=self.base_url, timeout=10) as client:
                while True:
                    try:
                        index, story = work.get_nowait()
                    except Empty:
                        return
                    if self.rate:
                        # Pace stories on a schedule so a slow answer does not bunch them up.
                        time.sleep(max(0.0, started + index / self.rate - time.monotonic()))
                    for webhook in story:
                        record = self._deliver(client, webhook, stop_at)
                        with lock:
                            records.append(record)

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(self.concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return LoadReport(records, started, time.monotonic())

    def _deliver(self, client: httpx.Client, webhook: Webhook, stop_at: float) -> Record:
        record = Record(webhook)
        while True:
            try:
                answer = client.post("/webhooks", content=webhook.body, headers=webhook.headers())
                status: int | str = answer.status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            record.attempts.append(Attempt(status, time.monotonic()))
            if status == 200:
                if self.on_accepted is not None:
                    self.on_accepted(record)
                return record
            retryable = not isinstance(status, int) or status >= 500
            if not retryable or time.monotonic() + self.retry_delay > stop_at:
                return record
            time.sleep(self.retry_delay)


def run_load(
    target: Target, plan: LoadPlan, *, concurrency: int = 16, deadline: float = 300.0
) -> LoadReport:
    """Build ``plan`` signed for ``target`` and send it."""
    secret = target.env()["SHOPIFY_API_SECRET"]
    driver = Driver(target.base_url, concurrency=concurrency, deadline=deadline)
    return driver.run(plan.stories(secret))

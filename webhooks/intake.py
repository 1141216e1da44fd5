"""``POST /webhooks``: verify, store, queue, answer fast.

The answer is 200 only once the delivery is stored in the database and its job queued in
Redis; if either is unreachable the answer is 503 so that Shopify delivers it again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError
from shopify_app import ResultForReq, ShopifyApp
from sqlalchemy import Connection, select, update
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from plugin import stats
from plugin.db import Database, utcnow
from plugin.errors import PayloadError
from plugin.group_commit import GroupCommit
from plugin.models import WebhookDelivery
from plugin.queues import JobQueues
from plugin.runtime import Runtime, current_runtime
from plugin.upsert import insert_many_once
from webhooks.payloads import parse_time

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)

SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}\.myshopify\.com$")
TOPIC = re.compile(r"^[a-z_]{1,40}/[a-z_]{1,40}$")
PROCESS_JOB = "webhooks.jobs.process_delivery"
LANE = "webhooks"
BULK_LANE = "webhooks_bulk"
INTAKE_EXTENSION = "relais.intake"
# The headers shopifyapp reads the signature from (the first present wins).
HMAC_HEADERS = ("X-Shopify-Hmac-Sha256", "Shopify-Hmac-Sha256")
VERIFIED_HEADERS = (*HMAC_HEADERS, "X-Shopify-Shop-Domain", "Shopify-Shop-Domain")


@dataclass(frozen=True)
class IncomingDelivery:
    """The headers Shopify sends with every webhook, checked."""

    webhook_id: str
    topic: str
    shop_domain: str
    api_version: str | None
    event_id: str | None
    triggered_at: datetime | None


def _bad_request(reason: str, topic: str = "unknown") -> tuple[Response, int]:
    log.warning("webhook rejected: %s", reason)
    _count(topic, "bad_request")
    return jsonify(error=reason), 400


def _count(topic: str, outcome: str) -> None:
    # Metrics never decide an answer: a Redis error here is ignored.
    with contextlib.suppress(RedisError):
        stats.count_webhook(current_runtime().redis, topic, outcome)


@bp.post("/webhooks")
def receive() -> tuple[Response, int]:
    """Shopify's webhook endpoint for every topic."""
    runtime = current_runtime()
    raw = request.get_data(cache=False)
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _bad_request("body is not UTF-8")
    if not all((request.headers.get(name) or "").isascii() for name in HMAC_HEADERS):
        # hmac.compare_digest raises TypeError on non-ASCII text; such a header cannot be a
        # base64 signature, so it is refused like any other wrong signature.
        log.warning("webhook refused (401): signature header is not ASCII")
        _count("unknown", "unauthorized")
        return jsonify(error="invalid signature"), 401
    verification = check_signature(runtime.shopify, body)
    if not verification.ok:
        status = verification.response.status
        log.warning("webhook refused (%s): %s", status, verification.log.code)
        _count("unknown", "unauthorized" if status == 401 else "bad_request")
        reason = "invalid signature" if status == 401 else verification.log.code
        return jsonify(error=reason), status

    try:
        incoming = _read_headers()
    except PayloadError as exc:
        return _bad_request(str(exc))
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as exc:
        return _bad_request(f"body is not JSON ({exc.msg} at {exc.pos})", incoming.topic)
    if not isinstance(payload, dict):
        return _bad_request("body is not a JSON object", incoming.topic)

    committer: GroupCommit[Arrival, Stored] = current_app.extensions[INTAKE_EXTENSION]
    try:
        stored = committer.submit(Arrival(incoming, body))
    except SQLAlchemyError as exc:
        log.error(
            "webhook %s not stored, database unavailable: %s",
            incoming.webhook_id,
            type(exc).__name__,
        )
        return _unavailable(incoming.topic)
    except RedisError as exc:
        log.error(
            "webhook %s not queued, redis unavailable: %s", incoming.webhook_id, type(exc).__name__
        )
        return _unavailable(incoming.topic)
    return jsonify(status=stored.outcome, id=stored.delivery_id), 200


def check_signature(shopify: ShopifyApp, body: str) -> ResultForReq:
    """shopifyapp's webhook check of the current request, whose raw body is ``body``."""
    # Only the headers the check reads: copying (and redacting for its log) every header
    # of every webhook is a measurable part of the intake's cost.
    signed_headers = {
        name: value for name in VERIFIED_HEADERS if (value := request.headers.get(name)) is not None
    }
    return shopify.verify_webhook_req(
        {"method": request.method, "headers": signed_headers, "url": request.path, "body": body}
    )


def _unavailable(topic: str) -> tuple[Response, int]:
    _count(topic, "unavailable")
    response = jsonify(error="temporarily unavailable, retry later")
    response.headers["Retry-After"] = "5"
    return response, 503


def _read_headers() -> IncomingDelivery:
    headers = request.headers
    topic = (headers.get("X-Shopify-Topic") or "").strip()
    shop_domain = (headers.get("X-Shopify-Shop-Domain") or "").strip().lower()
    webhook_id = (headers.get("X-Shopify-Webhook-Id") or "").strip()
    if not topic or not TOPIC.match(topic):
        raise PayloadError("X-Shopify-Topic header missing or malformed")
    if not SHOP_DOMAIN.match(shop_domain):
        raise PayloadError("X-Shopify-Shop-Domain header missing or not a myshopify.com domain")
    if not webhook_id or len(webhook_id) > 128:
        raise PayloadError("X-Shopify-Webhook-Id header missing or too long")
    try:
        triggered_at = parse_time(headers.get("X-Shopify-Triggered-At"), field="triggered_at")
    except PayloadError:
        log.warning("webhook %s: unreadable X-Shopify-Triggered-At ignored", webhook_id)
        triggered_at = None
    return IncomingDelivery(
        webhook_id=webhook_id,
        topic=topic,
        shop_domain=shop_domain,
        api_version=(headers.get("X-Shopify-API-Version") or "")[:16] or None,
        event_id=(headers.get("X-Shopify-Event-Id") or "")[:128] or None,
        triggered_at=triggered_at,
    )


@dataclass(frozen=True)
class Arrival:
    """A verified delivery on its way to the database and the queue."""

    incoming: IncomingDelivery
    body: str


@dataclass(frozen=True)
class Stored:
    """What became of an arrival: its row id, and "accepted" (queued) or "duplicate"."""

    delivery_id: int
    outcome: str


def init_intake(app: Flask, runtime: Runtime) -> None:
    """Give the app its group committer (see :mod:`plugin.group_commit`)."""
    writer = IntakeWriter(
        runtime.db, runtime.redis, runtime.queues, runtime.config.shop_burst_per_minute
    )
    app.extensions[INTAKE_EXTENSION] = GroupCommit(writer.store_and_queue)


def current_minute() -> int:
    """The minute a shop's burst budget is counted in."""
    return int(time.time()) // 60


class ShopBudgets:
    """Each shop's deliveries this minute, counted in Redis across web processes.

    A shop's first ``budget`` deliveries of the minute go to the front lane with every other
    shop's; the rest of a burst goes to the bulk lane, which workers serve last. The lane
    is decided from the count this process last read back from Redis plus what it queued
    since, and the increments travel in the pipeline that queues the jobs: no round trip of
    their own. Other processes' deliveries are seen one batch late, so a bursting shop may
    get a few more than its budget ahead: harmless for fairness.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._minute = current_minute()
        self._seen: dict[str, int] = {}

    def lanes(self, shop_domains: Sequence[str]) -> list[str]:
        """The lane of each delivery, in arrival order (counted as queued)."""
        minute = current_minute()
        if minute != self._minute:
            self._minute, self._seen = minute, {}
        lanes = []
        for shop_domain in shop_domains:
            seen = self._seen.get(shop_domain, 0) + 1
            self._seen[shop_domain] = seen
            lanes.append(LANE if seen <= self.budget else BULK_LANE)
        return lanes

    def count(self, pipeline: Pipeline, shop_domains: Sequence[str]) -> list[str]:
        """Add the increments to ``pipeline`` (first in it); returns the shops counted."""
        shops = list(Counter(shop_domains).items())
        for shop_domain, count in shops:
            key = f"relais:intake:{shop_domain}:{self._minute}"
            pipeline.incrby(key, count)
            pipeline.expire(key, 120)
        return [shop_domain for shop_domain, _ in shops]

    def observe(self, shops: Sequence[str], replies: Sequence[object]) -> None:
        """Take the counts Redis answered to :meth:`count` (all processes included)."""
        for index, shop_domain in enumerate(shops):
            total = int(replies[2 * index])  # type: ignore[call-overload]
            self._seen[shop_domain] = max(self._seen.get(shop_domain, 0), total)


class IntakeWriter:
    """Stores and queues verified deliveries; one writer per web process, called by its
    group committer, so one batch at a time."""

    def __init__(self, db: Database, redis: Redis, queues: JobQueues, budget: int) -> None:
        self.db = db
        self.redis = redis
        self.queues = queues
        self.budgets = ShopBudgets(budget)

    def store_and_queue(self, arrivals: Sequence[Arrival]) -> list[Stored | BaseException]:
        """Store deliveries in one transaction, then queue the new ones in one Redis round
        trip.

        Raises (for the whole batch) when the database or Redis is unreachable; the callers
        answer 503 and Shopify delivers again. A row the database refuses fails only its own
        delivery: the batch is then stored again one delivery at a time.
        """
        try:
            with self.db.write_connection() as connection:
                rows: list[tuple[int, bool] | BaseException] = list(_store_on(connection, arrivals))
        except (OperationalError, InterfaceError):
            raise
        except SQLAlchemyError:
            if len(arrivals) == 1:
                raise
            rows = [_store_alone(self.db, arrival) for arrival in arrivals]

        to_queue = [
            (arrival.incoming.shop_domain, row[0])
            for arrival, row in zip(arrivals, rows, strict=True)
            if not isinstance(row, BaseException) and row[1]
        ]
        lanes = self.budgets.lanes([shop_domain for shop_domain, _ in to_queue])
        results: list[Stored | BaseException] = []
        # MULTI/EXEC: a job hash without its push would look queued to the sweep forever.
        with self.redis.pipeline() as pipeline:
            pipeline.multi()  # before any command, as RQ's enqueue expects
            counted = self.budgets.count(pipeline, [shop_domain for shop_domain, _ in to_queue])
            for (_, delivery_id), lane in zip(to_queue, lanes, strict=True):
                queue_delivery(self.queues, delivery_id, pipeline=pipeline, lane=lane)
            outcomes: Counter[tuple[str, str]] = Counter()
            for arrival, row in zip(arrivals, rows, strict=True):
                if isinstance(row, BaseException):
                    results.append(row)
                    continue
                outcome = "accepted" if row[1] else "duplicate"
                outcomes[arrival.incoming.topic, outcome] += 1
                results.append(Stored(row[0], outcome))
            for (topic, outcome), count in outcomes.items():
                stats.count_webhook(pipeline, topic, outcome, count)
            replies = pipeline.execute()
        self.budgets.observe(counted, replies)
        return results


def _store_alone(db: Database, arrival: Arrival) -> tuple[int, bool] | BaseException:
    try:
        with db.write_connection() as connection:
            [row] = _store_on(connection, [arrival])
        return row
    except SQLAlchemyError as exc:
        log.error("webhook %s refused by the database: %s", arrival.incoming.webhook_id, exc)
        return exc


def _store_on(connection: Connection, arrivals: Sequence[Arrival]) -> list[tuple[int, bool]]:
    """Store each delivery once per webhook id, in one INSERT; returns each one's row id
    and whether to queue it.

    A repeated webhook id is queued again only while its first copy is still unprocessed
    (the first answer may have been a 503 because Redis was down). A bare connection rather
    than an ORM session: this is the hot path of every webhook.
    """
    received_at = utcnow()
    inserted = insert_many_once(
        connection,
        WebhookDelivery,
        [_delivery_row(arrival, received_at) for arrival in arrivals],
        key="webhook_id",
    )
    copies = Counter(arrival.incoming.webhook_id for arrival in arrivals)
    # Copies beyond the first: of a delivery stored before, or twice in this batch.
    repeated = {
        webhook_id: count - (webhook_id in inserted)
        for webhook_id, count in copies.items()
        if count - (webhook_id in inserted)
    }
    known: dict[str, tuple[int, bool]] = {}
    if repeated:
        stored_before = [webhook_id for webhook_id in repeated if webhook_id not in inserted]
        known = {
            row.webhook_id: (row.id, row.status == "received")
            for row in connection.execute(
                select(
                    WebhookDelivery.webhook_id, WebhookDelivery.id, WebhookDelivery.status
                ).where(WebhookDelivery.webhook_id.in_(stored_before))
            )
        }
        for webhook_id, count in repeated.items():
            connection.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.webhook_id == webhook_id)
                .values(duplicates=WebhookDelivery.duplicates + count)
            )
    rows = []
    for arrival in arrivals:
        webhook_id = arrival.incoming.webhook_id
        new_id = inserted.pop(webhook_id, None)
        if new_id is not None:
            rows.append((new_id, True))
            known[webhook_id] = (new_id, False)  # a second copy in this batch waits for it
        else:
            rows.append(known[webhook_id])
    return rows


def _delivery_row(arrival: Arrival, received_at: datetime) -> dict[str, Any]:
    incoming, body = arrival.incoming, arrival.body
    encoded = body.encode()
    return {
        "webhook_id": incoming.webhook_id,
        "topic": incoming.topic,
        "shop_domain": incoming.shop_domain,
        "api_version": incoming.api_version,
        "event_id": incoming.event_id,
        "triggered_at": incoming.triggered_at,
        "received_at": received_at,
        "status": "received",
        "attempts": 0,
        "duplicates": 0,
        "payload": body,
        "payload_sha256": hashlib.sha256(encoded).hexdigest(),
        "payload_bytes": len(encoded),
    }


def queue_delivery(
    queues: JobQueues,
    delivery_id: int,
    *,
    pipeline: Pipeline | None = None,
    lane: str = LANE,
) -> None:
    """Queue the job that applies a stored delivery."""
    queues.enqueue(
        lane, PROCESS_JOB, delivery_id, job_id=f"delivery-{delivery_id}", pipeline=pipeline
    )

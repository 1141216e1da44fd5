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
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Response, jsonify, request
from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from plugin import stats
from plugin.config import Config
from plugin.db import Database, utcnow
from plugin.errors import PayloadError
from plugin.models import WebhookDelivery
from plugin.queues import JobQueues
from plugin.runtime import current_runtime
from plugin.upsert import insert_once
from webhooks.payloads import parse_time

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)

SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}\.myshopify\.com$")
TOPIC = re.compile(r"^[a-z_]{1,40}/[a-z_]{1,40}$")
PROCESS_JOB = "webhooks.jobs.process_delivery"
LANE = "webhooks"
BULK_LANE = "webhooks_bulk"
# The headers shopifyapp reads the signature from (the first present wins).
HMAC_HEADERS = ("X-Shopify-Hmac-Sha256", "Shopify-Hmac-Sha256")


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
    verification = runtime.shopify.verify_webhook_req(
        {
            "method": request.method,
            "headers": dict(request.headers),
            "url": request.url,
            "body": body,
        }
    )
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

    try:
        delivery_id, should_queue = store_delivery(runtime.db, incoming, body)
        lane = LANE
        if should_queue:
            lane = shop_lane(runtime.redis, incoming.shop_domain, runtime.config)
        with runtime.redis.pipeline() as pipeline:
            if should_queue:
                queue_delivery(runtime.queues, delivery_id, pipeline=pipeline, lane=lane)
            outcome = "accepted" if should_queue else "duplicate"
            stats.count_webhook(pipeline, incoming.topic, outcome)
            pipeline.execute()
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
    return jsonify(status=outcome, id=delivery_id), 200


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


def store_delivery(db: Database, incoming: IncomingDelivery, body: str) -> tuple[int, bool]:
    """Store a delivery once per webhook id; returns its id and whether to queue it.

    A repeated webhook id is queued again only while its first copy is still unprocessed
    (the first answer may have been a 503 because Redis was down). This runs on a bare
    connection rather than an ORM session: it is the hot path of every webhook.
    """
    encoded = body.encode()
    with db.write_connection() as connection:
        new_id = insert_once(
            connection,
            WebhookDelivery,
            {
                "webhook_id": incoming.webhook_id,
                "topic": incoming.topic,
                "shop_domain": incoming.shop_domain,
                "api_version": incoming.api_version,
                "event_id": incoming.event_id,
                "triggered_at": incoming.triggered_at,
                "received_at": utcnow(),
                "status": "received",
                "attempts": 0,
                "duplicates": 0,
                "payload": body,
                "payload_sha256": hashlib.sha256(encoded).hexdigest(),
                "payload_bytes": len(encoded),
            },
            conflict_columns=["webhook_id"],
        )
        if new_id is not None:
            return new_id, True
        row = connection.execute(
            select(WebhookDelivery.id, WebhookDelivery.status).where(
                WebhookDelivery.webhook_id == incoming.webhook_id
            )
        ).one()
        connection.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == row.id)
            .values(duplicates=WebhookDelivery.duplicates + 1)
        )
    return row.id, row.status == "received"


def shop_lane(redis: Redis, shop_domain: str, config: Config) -> str:
    """The lane of a shop's next delivery: its first ``shop_burst_per_minute`` deliveries of
    the minute go ahead with every other shop's, the rest of a burst to the bulk lane."""
    key = f"relais:intake:{shop_domain}:{int(time.time()) // 60}"
    with redis.pipeline(transaction=False) as pipeline:
        pipeline.incr(key)
        pipeline.expire(key, 120)
        count, _ = pipeline.execute()
    return LANE if int(count) <= config.shop_burst_per_minute else BULK_LANE


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

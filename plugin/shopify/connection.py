"""The Shopify connection of one app: HTTP client, token store and Admin API client."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from flask import Flask, current_app
from redis.exceptions import RedisError
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.models import Shop
from plugin.queues import JobQueues
from plugin.runtime import Runtime
from plugin.shopify.admin_api import AdminApi, RetryPolicy, ThrottleBook
from plugin.shopify.crypto import SecretBox
from plugin.shopify.tokens import AccessTokens, revoke_shop_access

log = logging.getLogger(__name__)

EXTENSION = "relais.shopify"
# Every call to Shopify gives up after these: a slow Shopify must not hold a worker.
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass
class ShopifyConnection:
    """What talking to Shopify needs, built once per app."""

    http_client: httpx.Client
    box: SecretBox
    tokens: AccessTokens
    admin: AdminApi


def connect(
    runtime: Runtime,
    *,
    http_client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    policy: RetryPolicy | None = None,
) -> ShopifyConnection:
    """Build the connection of ``runtime``; tests pass an HTTP client that reaches a stand-in."""
    client = http_client or httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False)
    box = SecretBox.from_config(runtime.config)
    tokens = AccessTokens(runtime.db, runtime.redis, runtime.shopify, box, client)
    admin = AdminApi(
        runtime.shopify,
        tokens,
        http_client=client,
        throttle=ThrottleBook(runtime.redis),
        policy=policy,
        sleep=sleep,
    )
    return ShopifyConnection(http_client=client, box=box, tokens=tokens, admin=admin)


def init_app(app: Flask, *, http_client: httpx.Client | None = None) -> ShopifyConnection:
    """Attach the connection to ``app`` and revoke tokens when a shop uninstalls Relais."""
    runtime: Runtime = app.extensions["relais"]
    connection = connect(runtime, http_client=http_client)
    app.extensions[EXTENSION] = connection
    if on_uninstall not in runtime.uninstall_hooks:
        runtime.uninstall_hooks.append(on_uninstall)
    return connection


def shopify_connection(app: Flask | None = None) -> ShopifyConnection:
    """The connection of ``app`` (default: the app in context)."""
    connection: ShopifyConnection = (app or current_app).extensions[EXTENSION]
    return connection


def on_uninstall(session: Session, shop_id: int) -> None:
    """``app/uninstalled``: drop the shop's tokens and its queued Shopify work.

    Runs inside the webhook's transaction (see ``Runtime.uninstall_hooks``).
    """
    revoke_shop_access(session, shop_id)
    runtime: Runtime = current_app.extensions["relais"]
    cancelled = cancel_jobs_of_shop(runtime.queues, shop_id)
    log.info("shop %s uninstalled: tokens revoked, %d queued job(s) cancelled", shop_id, cancelled)


def shop_job_id(shop_id: int, name: str) -> str:
    """The id of a job working for one shop; :func:`cancel_jobs_of_shop` finds it by prefix."""
    return f"shop-{shop_id}-{name}"


def cancel_shop_jobs(runtime: Runtime, shop_domain: str) -> int:
    """Cancel the queued and scheduled jobs of ``shop_domain`` (ids from :func:`shop_job_id`)."""
    with runtime.db.session() as session:
        shop_id = session.scalar(select(Shop.id).where(Shop.domain == shop_domain))
    if shop_id is None:
        return 0
    return cancel_jobs_of_shop(runtime.queues, shop_id)


def cancel_jobs_of_shop(queues: JobQueues, shop_id: int) -> int:
    """Cancel every waiting or scheduled job whose id starts with ``shop-{shop_id}-``.

    Jobs already running finish; they check that the shop is installed before each step.
    """
    prefix = shop_job_id(shop_id, "")
    cancelled = 0
    try:
        for queue in queues.all():
            ids = queue.get_job_ids() + queue.scheduled_job_registry.get_job_ids()
            for job_id in ids:
                if not job_id.startswith(prefix):
                    continue
                try:
                    job = Job.fetch(job_id, connection=queues.redis, serializer=JSONSerializer)
                    job.cancel()
                    cancelled += 1
                except (NoSuchJobError, InvalidJobOperation):
                    continue  # finished or cancelled meanwhile
    except RedisError as exc:
        # The jobs check the shop's state themselves; a missed cancel costs one no-op run.
        log.warning("jobs of shop %s not cancelled: %s", shop_id, type(exc).__name__)
    return cancelled

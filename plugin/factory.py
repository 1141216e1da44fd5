"""The application factory: the roof that wires the packages together."""

from __future__ import annotations

import logging

from flask import Flask, Request, Response, jsonify, request
from flask.sessions import SessionInterface, SessionMixin
from shopify_app import ShopifyApp
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from plugin import admin, health, notifications, redis_conn
from plugin.config import Config
from plugin.db import Database
from plugin.errors import ServiceUnavailable
from plugin.events import Subscriber
from plugin.logging_setup import configure_logging
from plugin.queues import JobQueues
from plugin.runtime import Runtime

log = logging.getLogger(__name__)

# Every subscriber of "shipment reached milestone": inline ones run in the job that recorded
# the event, right after its commit (their own job on failure); the others in their own job.
SUBSCRIBERS = [
    Subscriber(name="notify", job="plugin.notifications.jobs.on_milestone", inline=True),
    Subscriber(name="stats", job="plugin.stats.count_milestone_job", inline=True),
    Subscriber(name="wallet", job="wallet.jobs.on_milestone", queue="wallet", inline=True),
]


class NoCookieSessions(SessionInterface):
    """Relais keeps nothing in cookies: the embedded admin authenticates each request with
    Shopify's session token, shoppers' pages with signed links. Flask's cookie session
    would otherwise be opened, its signer built, for every request (every webhook among
    them), and a shopper's page could start setting a cookie by accident."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        return None  # Flask then uses its null session, which refuses writes

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        return None


def create_app(config: Config | None = None) -> Flask:
    """Build the Flask app from ``config`` (default: the environment)."""
    config = config or Config.from_env()
    configure_logging(testing=config.testing)
    app = Flask("relais", static_folder=None)
    app.config.update(SECRET_KEY=config.secret_key, TESTING=config.testing, JSON_SORT_KEYS=False)
    # Webhook bodies are at most a few hundred KB; refuse anything absurd before reading it.
    app.config["MAX_CONTENT_LENGTH"] = 5 * 1024 * 1024
    app.session_interface = NoCookieSessions()

    redis_url = config.redis_url or redis_conn.start_embedded_redis(config.instance_path)
    redis = redis_conn.connect(redis_url)
    runtime = Runtime(
        config=config,
        db=Database(config.database_url),
        redis=redis,
        redis_url=redis_url,
        queues=JobQueues(redis),
        shopify=ShopifyApp(
            client_id=config.shopify_api_key,
            client_secret=config.shopify_api_secret,
            old_client_secret=config.shopify_old_api_secret,
        ),
        subscribers=list(SUBSCRIBERS),
    )
    app.extensions["relais"] = runtime

    import webhooks

    webhooks.init_app(app)
    health.init_app(app)
    notifications.init_app(app)
    admin.init_app(app)
    _register_optional_packages(app)
    _register_error_handlers(app)
    return app


def _register_optional_packages(app: Flask) -> None:
    """Packages that add their own blueprints and subscribers expose ``init_app``."""
    import frontend
    import wallet
    from plugin import insights

    for package in (frontend, wallet, insights):
        init_app = getattr(package, "init_app", None)
        if init_app is not None:
            init_app(app)


def _register_error_handlers(app: Flask) -> None:
    def wants_json() -> bool:
        return request.path.startswith(("/webhooks", "/wallet", "/api", "/healthz"))

    @app.errorhandler(ServiceUnavailable)
    @app.errorhandler(OperationalError)
    def unavailable(exc: Exception) -> tuple[Response, int]:
        log.error("service unavailable on %s: %s", request.path, type(exc).__name__)
        response = jsonify(error="service temporarily unavailable, retry later")
        response.headers["Retry-After"] = "5"
        return response, 503

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response | str, int]:
        code = exc.code or 500
        if wants_json():
            return jsonify(error=exc.name), code
        return f"<!doctype html><title>{exc.name}</title><h1>{exc.name}</h1>", code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response | str, int]:
        # The trace goes to the log, never to the person who made the request.
        log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return jsonify(error="internal error"), 500
        return "<!doctype html><title>Error</title><h1>Something went wrong</h1>", 500

"""The services one Relais process shares: config, database, Redis, queues, subscribers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask import current_app
from redis import Redis
from shopify_app import ShopifyApp
from sqlalchemy.orm import Session

from plugin.config import Config
from plugin.db import Database
from plugin.events import Subscriber
from plugin.privacy import PersonalDataHolder
from plugin.queues import JobQueues


class OrderSection(Protocol):
    """A package's part of an order's description (``relais order show``)."""

    name: str

    def describe(self, session: Session, order_id: int) -> Any:
        """JSON-ready data about the order."""


@dataclass
class Runtime:
    """Built once by the app factory and kept in ``app.extensions["relais"]``."""

    config: Config
    db: Database
    redis: Redis
    redis_url: str
    queues: JobQueues
    shopify: ShopifyApp
    subscribers: list[Subscriber] = field(default_factory=list)
    # Packages that keep personal data tied to orders (compliance topics reach them).
    privacy_holders: list[PersonalDataHolder] = field(default_factory=list)
    # Called with (session, shop_id) when a shop uninstalls Relais.
    uninstall_hooks: list[Callable[[Session, int], None]] = field(default_factory=list)
    # Extra sections of `relais order show` (messages sent, Wallet registrations...).
    order_sections: list[OrderSection] = field(default_factory=list)


def current_runtime() -> Runtime:
    """The runtime of the app in context (web request, CLI command or worker job)."""
    runtime: Runtime = current_app.extensions["relais"]
    return runtime

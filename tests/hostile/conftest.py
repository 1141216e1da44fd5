"""Fixtures of the hostile-input tests: a fingerprint of the domain tables, a seeded shop."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from plugin.models import DataExport, DomainEvent, Order, Shipment, Shop, TrackingEvent
from plugin.runtime import Runtime
from tests.hostile.strategies import BASE_PAYLOADS, ORDER_ID
from webhooks.jobs import process_delivery

DOMAIN_TABLES = (Shop, Order, Shipment, TrackingEvent, DomainEvent, DataExport)


@pytest.fixture
def fingerprint(runtime: Runtime) -> Callable[[], str]:
    """A digest of every row of the domain tables: equal digests, no write at all."""

    def digest() -> str:
        sha = hashlib.sha256()
        with runtime.db.session() as session:
            for model in DOMAIN_TABLES:
                table = model.__table__
                primary_key = list(table.primary_key)
                for row in session.execute(select(table).order_by(*primary_key)):
                    sha.update(repr(tuple(row)).encode())
        return sha.hexdigest()

    return digest


@pytest.fixture
def reseed(post_webhook: Callable[..., Any], runtime: Runtime) -> Callable[[], None]:
    """Put back the installed shop, order, shipment and carrier event that mutated payloads
    refer to, so that every example exercises the update paths (an earlier example may have
    uninstalled the shop, redacted the order or erased the shop)."""

    def reseed() -> None:
        with runtime.db.transaction() as session:
            session.execute(update(Shop).values(uninstalled_at=None))
            intact = session.scalar(
                select(Shipment.id)
                .join(Order, Order.id == Shipment.order_id)
                .where(Order.shopify_id == ORDER_ID, Order.redacted_at.is_(None))
            )
            if not intact:
                session.execute(delete(Shop))
        if intact:
            return
        for topic in ("orders/create", "fulfillments/create", "fulfillment_events/create"):
            response = post_webhook(topic, BASE_PAYLOADS[topic]())
            assert response.status_code == 200
            assert not process_delivery(response.get_json()["id"]).startswith("failed")

    reseed()
    return reseed

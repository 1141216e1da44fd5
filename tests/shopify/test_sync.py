"""Orders read through the Admin API: import on install (paginated, resumable, silent),
reconcile of one order (announced), the nightly selection, and ``relais order sync``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from plugin.models import DomainEvent, Order, Shipment, TrackingEvent
from plugin.shopify.admin_api import AdminUnavailable
from plugin.shopify.models import ShopifyOrderImport
from plugin.shopify.sync import (
    import_orders,
    reconcile_order,
    stale_order_ids,
    start_order_import,
    sync_order,
)
from tests.standins.shopify_server import graphql_fulfillment, graphql_order

NOW = datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def seed_orders(standin, shop_domain: str, count: int) -> list[int]:
    """``count`` open orders of the last weeks, an old one and a closed one."""
    shop = standin.shop(shop_domain)
    ids = []
    for n in range(count):
        order_id = 6_000_000_000 + n
        created = NOW - timedelta(days=40) + timedelta(hours=n)
        fulfillments = []
        if n % 3 == 0:
            fulfillments = [
                graphql_fulfillment(
                    7_000_000_000 + n,
                    created_at=iso(created + timedelta(days=1)),
                    updated_at=iso(created + timedelta(days=2)),
                    events=[
                        (
                            8_000_000_000 + n * 10,
                            "IN_TRANSIT",
                            iso(created + timedelta(days=1, hours=6)),
                        ),
                        (8_000_000_001 + n * 10, "DELIVERED", iso(created + timedelta(days=2))),
                    ],
                )
            ]
        shop.orders.append(
            graphql_order(
                order_id, name=f"#{1001 + n}", created_at=iso(created), fulfillments=fulfillments
            )
        )
        ids.append(order_id)
    shop.orders.append(
        graphql_order(6_900_000_001, name="#900", created_at=iso(NOW - timedelta(days=70)))
    )
    shop.orders.append(
        graphql_order(
            6_900_000_002, name="#901", created_at=iso(NOW - timedelta(days=5)), closed=True
        )
    )
    return ids


def test_the_install_import_reads_sixty_days_of_open_orders_page_by_page(
    installed, connection, standin, runtime, run_jobs
):
    seed_orders(standin, installed.domain, 25)
    runtime.queues.enqueue("default", "plugin.shopify.sync.start_order_import_job", installed.id)

    run_jobs()

    with runtime.db.session() as session:
        names = set(session.scalars(select(Order.name)))
        state = session.get(ShopifyOrderImport, installed.id)
        delivered = session.scalar(
            select(func.count()).select_from(Shipment).where(Shipment.milestone == "delivered")
        )
        events = session.scalar(
            select(func.count())
            .select_from(TrackingEvent)
            .where(TrackingEvent.source == "fulfillment_event")
        )
        undispatched = session.scalar(
            select(func.count()).select_from(DomainEvent).where(DomainEvent.dispatched_at.is_(None))
        )
        recorded = session.scalar(select(func.count()).select_from(DomainEvent))
    assert names == {
        f"#{1001 + n}" for n in range(25)
    }  # not the 70-day-old one, not the closed one
    assert state.completed_at is not None and state.pages == 3 and state.orders == 25
    assert delivered == 9 and events == 18
    # History is recorded silently: no milestone waits to be announced to shoppers.
    assert recorded >= 25 and undispatched == 0
    assert not runtime.queues["events"].get_job_ids()
    pages = [c for c in standin.graphql_calls() if c.detail == "RelaisOpenOrders"]
    assert len(pages) == 3


def test_the_import_resumes_from_its_cursor_after_a_failure(
    installed, connection, standin, runtime
):
    seed_orders(standin, installed.domain, 25)
    start_order_import(runtime, installed.id)

    first = import_orders(runtime, connection.admin, installed.id, max_pages=1)
    assert first.pages == 1 and not first.complete
    standin.fail_next(503, times=10)  # Shopify down longer than the retry cap
    with pytest.raises(AdminUnavailable):
        import_orders(runtime, connection.admin, installed.id)
    with runtime.db.session() as session:
        state = session.get(ShopifyOrderImport, installed.id)
        assert state.cursor == "cursor-10" and state.pages == 1

    standin.faults.clear()
    rest = import_orders(runtime, connection.admin, installed.id)
    assert rest.complete and rest.orders == 15
    with runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 25


def test_orders_cut_short_by_the_page_are_read_again_one_by_one(
    installed, connection, standin, runtime, run_jobs
):
    many_events = [
        (9_000_000_000 + i, "IN_TRANSIT", iso(NOW - timedelta(days=3, hours=-i))) for i in range(14)
    ]
    many_events.append((9_000_000_100, "OUT_FOR_DELIVERY", iso(NOW - timedelta(hours=3))))
    standin.shop(installed.domain).orders.append(
        graphql_order(
            6_100_000_000,
            name="#2001",
            created_at=iso(NOW - timedelta(days=4)),
            fulfillments=[
                graphql_fulfillment(
                    7_100_000_000,
                    created_at=iso(NOW - timedelta(days=3, hours=1)),
                    events=many_events,
                )
            ],
        )
    )
    runtime.queues.enqueue("default", "plugin.shopify.sync.start_order_import_job", installed.id)
    run_jobs()

    with runtime.db.session() as session:
        lines = session.scalar(
            select(func.count())
            .select_from(TrackingEvent)
            .where(TrackingEvent.source == "fulfillment_event")
        )
        milestone = session.scalar(select(Shipment.milestone))
    assert lines == 15  # 10 from the page, all 15 after the reconcile
    assert milestone == "out_for_delivery"
    assert any(c.detail == "RelaisOrder" for c in standin.graphql_calls())


def test_a_reconcile_applies_a_missed_update_and_announces_it(
    installed, connection, standin, runtime
):
    order = graphql_order(6_200_000_000, name="#3001", created_at=iso(NOW - timedelta(days=6)))
    standin.shop(installed.domain).orders.append(order)
    reconcile_order(
        runtime, connection.admin, installed.id, 6_200_000_000
    )  # known, nothing shipped
    with runtime.db.session() as session:
        before = session.scalar(select(func.count()).select_from(DomainEvent))

    # The fulfillment and its delivery webhooks were lost; Shopify knows.
    order["updatedAt"] = iso(NOW - timedelta(hours=1))
    order["fulfillments"] = [
        graphql_fulfillment(
            7_200_000_000,
            created_at=iso(NOW - timedelta(days=3)),
            updated_at=iso(NOW - timedelta(hours=1)),
            events=[(8_200_000_000, "DELIVERED", iso(NOW - timedelta(hours=2)))],
        )
    ]
    result = reconcile_order(runtime, connection.admin, installed.id, 6_200_000_000)

    assert result.found and "delivered" in result.milestones
    with runtime.db.session() as session:
        assert session.scalar(select(Shipment.milestone)) == "delivered"
        new_events = session.scalars(select(DomainEvent).where(DomainEvent.id > before)).all()
    assert new_events and all(e.dispatched_at is not None for e in new_events)
    # Announced: the subscribers' jobs are queued.
    assert any(
        j.startswith(f"event-{new_events[-1].id}-") for j in runtime.queues["events"].get_job_ids()
    )


def test_order_sync_finds_an_order_by_name_or_id(installed, connection, standin, runtime):
    standin.shop(installed.domain).orders.append(
        graphql_order(6_300_000_000, name="#4001", created_at=iso(NOW - timedelta(days=2)))
    )

    by_name = sync_order(runtime, connection.admin, installed.domain, "4001")
    assert by_name.found and by_name.name == "#4001"
    by_id = sync_order(runtime, connection.admin, installed.domain, "6300000000")
    assert by_id.order_shopify_id == 6_300_000_000

    from plugin.shopify.sync import OrderNotFound

    with pytest.raises(OrderNotFound):
        sync_order(runtime, connection.admin, installed.domain, "#9999")


def test_the_nightly_reconcile_picks_orders_under_way_with_no_recent_update(
    installed, connection, standin, runtime
):
    for n, (milestone, days_quiet) in enumerate(
        [("in_transit", 5), ("delivered", 5), ("in_transit", 0), (None, 4)]
    ):
        order = graphql_order(
            6_400_000_000 + n, name=f"#50{n}", created_at=iso(NOW - timedelta(days=10))
        )
        if milestone:
            status = "IN_TRANSIT" if milestone == "in_transit" else "DELIVERED"
            order["fulfillments"] = [
                graphql_fulfillment(
                    7_400_000_000 + n,
                    created_at=iso(NOW - timedelta(days=8)),
                    events=[(8_400_000_000 + n, status, iso(NOW - timedelta(days=7)))],
                )
            ]
        standin.shop(installed.domain).orders.append(order)
        reconcile_order(runtime, connection.admin, installed.id, 6_400_000_000 + n)
        quiet_since = NOW - timedelta(days=days_quiet)
        with runtime.db.transaction() as session:
            session.execute(
                update(Order)
                .where(Order.shopify_id == 6_400_000_000 + n)
                .values(updated_at=quiet_since)
            )
            session.execute(
                update(Shipment)
                .where(
                    Shipment.order_id
                    == select(Order.id)
                    .where(Order.shopify_id == 6_400_000_000 + n)
                    .scalar_subquery()
                )
                .values(updated_at=quiet_since)
            )

    with runtime.db.session() as session:
        stale = stale_order_ids(session, installed.id, now=NOW)
    # In transit and quiet for 5 days; ordered, never shipped, quiet for 4 days.
    assert sorted(stale) == [6_400_000_000, 6_400_000_003]

    from plugin.shopify.sync import reconcile_stale_orders_job

    assert reconcile_stale_orders_job() == "2 order(s) queued for reconcile"


def test_the_cli_command_is_registered_and_refuses_an_unknown_shop(monkeypatch, config):
    from plugin.cli import cli

    for name, value in {
        "SHOPIFY_API_KEY": config.shopify_api_key,
        "SHOPIFY_API_SECRET": config.shopify_api_secret,
        "APP_URL": config.app_url,
        "SECRET_KEY": config.secret_key,
        "DATABASE_URL": config.database_url,
        "REDIS_URL": config.redis_url,
        "RELAIS_INSTANCE_DIR": config.instance_dir,
    }.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["order", "sync", "nowhere", "#1001"])
    assert result.exit_code == 1
    assert "nowhere.myshopify.com is not a shop of Relais" in result.output

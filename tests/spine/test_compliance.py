"""Compliance topics, for real: export, redact a customer, erase a shop."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect, select, text

from plugin.models import DataExport, Order, Shop
from plugin.shopify_payloads import (
    Item,
    Shopper,
    fulfillment_event_payload,
    fulfillment_payload,
    next_id,
    order_payload,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CUSTOMER_ID = 7_000_000_000_000 + 1001


def _orders(post_webhook):
    anna = Shopper(
        "Annabelle",
        "Rousseau",
        "annabelle.rousseau@example.fr",
        "+33699887766",
        "Grenoble",
        "38000",
        "FR",
        "fr",
    )
    other = Shopper(
        "Bruno",
        "Lefebvre",
        "bruno.lefebvre@example.fr",
        "+33655443322",
        "Dijon",
        "21000",
        "FR",
        "fr",
    )
    ids = {}
    for number, who in [(1001, anna), (1002, other)]:
        oid, fid = next_id(), next_id()
        item = Item("Carnet", "12.00")
        payload = order_payload(
            order_id=oid, number=number, shopper=who, items=[item], created_at=T0
        )
        if number == 1002:
            payload["customer"]["id"] = 9_999
        post_webhook("orders/create", payload)
        post_webhook(
            "fulfillments/create",
            fulfillment_payload(
                fulfillment_id=fid, order_id=oid, name=f"#{number}.1", items=[item], created_at=T0
            ),
        )
        post_webhook(
            "fulfillment_events/create",
            fulfillment_event_payload(
                event_id=next_id(),
                fulfillment_id=fid,
                order_id=oid,
                status="in_transit",
                happened_at=T0 + timedelta(hours=3),
                city=who.city,
                message=f"Arrivé à {who.city}",
            ),
        )
        ids[number] = oid
    return anna, other, ids


def _request_export(post_webhook, shopper, order_id, *, request_id):  # type: ignore[no-untyped-def]
    """Shopify's customers/data_request for ``shopper`` and one of their orders."""
    post_webhook(
        "customers/data_request",
        {
            "shop_id": 1,
            "shop_domain": "demo-shop.myshopify.com",
            "customer": {"id": CUSTOMER_ID, "email": shopper.email, "phone": shopper.phone},
            "orders_requested": [order_id],
            "data_request": {"id": request_id},
        },
    )


def _dump(runtime) -> str:
    """Every value of every row of every table, as one text."""
    chunks = []
    with runtime.db.session() as s:
        for table in inspect(s.get_bind()).get_table_names():
            for row in s.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608 - table names from the schema
                chunks.append(" ".join(str(v) for v in row))
    return "\n".join(chunks)


def test_data_request_builds_an_export_for_the_merchant(post_webhook, run_jobs, runtime):
    anna, _other, ids = _orders(post_webhook)
    _request_export(post_webhook, anna, ids[1001], request_id=4242)
    run_jobs()
    with runtime.db.session() as s:
        export = s.scalar(select(DataExport))
    assert export.data_request_id == 4242
    orders = export.content["orders"]
    assert [o["name"] for o in orders] == ["#1001"]
    assert orders[0]["email"] == anna.email
    assert orders[0]["timeline"][-1]["milestone"] == "in_transit"


def test_the_export_reaches_the_merchant_through_the_cli(post_webhook, run_jobs, config, tmp_path):
    import json
    import sys

    anna, _other, ids = _orders(post_webhook)
    _request_export(post_webhook, anna, ids[1001], request_id=77)
    run_jobs()
    done = subprocess.run(
        [sys.executable, "-m", "plugin", "privacy", "exports", "demo-shop", "77"],
        env=_cli_env(config, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["orders"][0]["email"] == anna.email


def _cli_env(config, tmp_path):
    return {
        "PATH": "/usr/bin:/bin",
        "SHOPIFY_API_KEY": config.shopify_api_key,
        "SHOPIFY_API_SECRET": config.shopify_api_secret,
        "APP_URL": config.app_url,
        "SECRET_KEY": config.secret_key,
        "DATABASE_URL": config.database_url,
        "REDIS_URL": config.redis_url,
        "RELAIS_INSTANCE_DIR": str(tmp_path / "cli"),
    }


def test_customer_redact_leaves_no_trace_in_any_table(post_webhook, run_jobs, runtime):
    anna, other, ids = _orders(post_webhook)
    _request_export(post_webhook, anna, ids[1001], request_id=1)
    run_jobs()
    # A broken delivery that mentions her stays stored for replay until the redaction.
    post_webhook("orders/updated", {"id": ids[1001], "email": anna.email, "updated_at": "never"})
    run_jobs()
    before = _dump(runtime)
    assert anna.email in before and "Annabelle" in before
    post_webhook(
        "customers/redact",
        {
            "shop_id": 1,
            "shop_domain": "demo-shop.myshopify.com",
            "customer": {"id": CUSTOMER_ID, "email": anna.email, "phone": anna.phone},
            "orders_to_redact": [ids[1001]],
        },
    )
    run_jobs()
    after = _dump(runtime)
    for value in [
        anna.email,
        anna.phone,
        "Annabelle",
        "Grenoble",
        "38000",
        str(CUSTOMER_ID),
        "Rousseau",
        anna.address1,
    ]:
        assert value not in after, value
    # The other customer and the order itself are still there.
    assert other.email in after and "Bruno" in after
    with runtime.db.session() as s:
        order = s.scalar(select(Order).where(Order.shopify_id == ids[1001]))
        assert order is not None and order.redacted_at is not None and order.name == "#1001"


def test_shop_redact_erases_everything_of_the_shop(post_webhook, run_jobs, runtime):
    anna, other, _ = _orders(post_webhook)
    post_webhook("shop/redact", {"shop_id": 1, "shop_domain": "demo-shop.myshopify.com"})
    run_jobs()
    after = _dump(runtime)
    for value in [anna.email, other.email, "Annabelle", "Bruno", "Carnet"]:
        assert value not in after
    with runtime.db.session() as s:
        assert s.scalar(select(Shop)) is None
        assert s.scalar(select(Order)) is None


def test_order_show_cli(post_webhook, run_jobs, runtime, config, tmp_path):
    _anna, _other, ids = _orders(post_webhook)
    run_jobs()
    env = _cli_env(config, tmp_path)
    import json
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "plugin", "order", "show", "demo-shop", "#1001", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    view = json.loads(done.stdout)
    assert view["order"]["name"] == "#1001"
    assert view["shipments"][0]["milestone"] == "in_transit"
    assert [e["milestone"] for e in view["timeline"]] == ["ordered", "shipped", "in_transit"]
    assert "/apps/track/o/" in view["links"]["tracking_page"]
    assert view["links"]["tracking_page_standalone"].startswith(f"{config.app_url}/t/")
    by_id = subprocess.run(
        [
            sys.executable,
            "-m",
            "plugin",
            "order",
            "show",
            "demo-shop.myshopify.com",
            str(ids[1001]),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert by_id.returncode == 0 and "#1001" in by_id.stdout and "in_transit" in by_id.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "plugin", "order", "show", "demo-shop", "#4040"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode != 0 and "no order #4040" in missing.stderr


def test_missing_configuration_fails_at_start_with_a_clear_message(tmp_path):
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "plugin", "order", "show", "x", "1"],
        env={"PATH": "/usr/bin:/bin", "RELAIS_INSTANCE_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "SHOPIFY_API_KEY" in done.stderr and "APP_URL" in done.stderr

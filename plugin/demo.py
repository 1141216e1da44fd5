"""``relais demo``: the whole product on embedded defaults, and a day of orders replayed.

It starts the web app (gunicorn) and a worker as child processes on an embedded Redis and
a SQLite file, creates a demo shop, and sends signed webhooks over real HTTP: a French
order to a pickup point, a split shipment, a failed attempt then delivered, a cancelled
order, a duplicate delivery and an out-of-order one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from plugin import redis_conn
from plugin.shopify_payloads import (
    Item,
    Shopper,
    fulfillment_event_payload,
    fulfillment_payload,
    next_id,
    order_payload,
    shop_payload,
)

DEMO_SHOP = "maison-lumiere.myshopify.com"
DEMO_ENV = {
    "SHOPIFY_API_KEY": "relais-demo-key",
    "SHOPIFY_API_SECRET": "relais-demo-secret",
    "SECRET_KEY": "relais-demo-secret-key-not-for-production",
    # A fixed development key (Fernet format) for the tokens the demo would store.
    "TOKEN_ENCRYPTION_KEY": "cmVsYWlzLWRlbW8tdG9rZW4ta2V5LW5vdC1zZWNyZXQ=",
    "EMAIL_BACKEND": "outbox",
    "SMS_BACKEND": "outbox",
}


@dataclass
class Webhook:
    topic: str
    payload: dict[str, Any]
    webhook_id: str
    label: str


class WebhookSender:
    """Signs and POSTs webhooks the way Shopify does."""

    def __init__(self, base_url: str, secret: str, shop: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=10)
        self.secret = secret
        self.shop = shop

    def send(self, hook: Webhook) -> int:
        body = json.dumps(hook.payload).encode()
        digest = hmac.new(self.secret.encode(), body, hashlib.sha256).digest()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": hook.topic,
            "X-Shopify-Shop-Domain": self.shop,
            "X-Shopify-Webhook-Id": hook.webhook_id,
            "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-API-Version": "2026-07",
            "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
            "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        }
        for attempt in range(8):  # Shopify retries; so does the demo, if the app is busy
            response = self.client.post("/webhooks", content=body, headers=headers)
            if response.status_code != 503:
                return response.status_code
            time.sleep(0.5 * (attempt + 1))
        return response.status_code


def demo_story(now: datetime) -> list[Webhook]:
    """The webhooks of a day in the life of a French shop, in the order they arrive."""
    hooks: list[Webhook] = []

    def add(
        topic: str, payload: dict[str, Any], label: str, webhook_id: str | None = None
    ) -> Webhook:
        hook = Webhook(topic, payload, webhook_id or str(uuid.uuid4()), label)
        hooks.append(hook)
        return hook

    start = now - timedelta(days=3)
    add(
        "shop/update",
        shop_payload(
            name="Maison Lumière",
            domain="maison-lumiere.fr",
            email="bonjour@maison-lumiere.fr",
            updated_at=start,
        ),
        "the shop's details",
    )

    # 1. #1001: a French order to a Mondial Relay pickup point.
    camille = Shopper(
        "Camille",
        "Martin",
        "camille.martin@example.fr",
        "+33612345678",
        "Lyon",
        "69003",
        "FR",
        "fr",
        sms_consent=True,
    )
    candle = Item("Bougie parfumée Figuier", "32.00", sku="BOUGIE-FIG")
    o1, f1 = next_id(), next_id()
    pickup = {
        "name": "Relais Tabac Presse du Parc",
        "address1": "8 avenue Foch",
        "zip": "69006",
        "city": "Lyon",
    }
    add(
        "orders/create",
        order_payload(
            order_id=o1,
            number=1001,
            shopper=camille,
            items=[candle],
            created_at=start,
            shipping_title="Mondial Relay Point Relais",
            pickup=pickup,
        ),
        "#1001 ordered (pickup point)",
    )
    add(
        "fulfillments/create",
        fulfillment_payload(
            fulfillment_id=f1,
            order_id=o1,
            name="#1001.1",
            items=[candle],
            created_at=start + timedelta(hours=5),
            carrier="Mondial Relay",
            tracking_number="MR48213377",
            tracking_url="https://www.mondialrelay.fr/suivi-de-colis/?NumeroExpedition=48213377",
        ),
        "#1001 shipped",
    )
    for hours, status, city in [
        (20, "in_transit", "Lyon"),
        (44, "ready_for_pickup", "Lyon"),
        (60, "picked_up", "Lyon"),
    ]:
        add(
            "fulfillment_events/create",
            fulfillment_event_payload(
                event_id=next_id(),
                fulfillment_id=f1,
                order_id=o1,
                status=status,
                happened_at=start + timedelta(hours=hours),
                city=city,
            ),
            f"#1001 {status}",
        )

    # 2. #1002: a split shipment, two parcels from two warehouses.
    louis = Shopper(
        "Louis",
        "Bernard",
        "louis.bernard@example.fr",
        "+33698765432",
        "Nantes",
        "44000",
        "FR",
        "fr",
        email_consent=True,
    )
    lamp, vase = Item("Lampe Opaline", "89.00"), Item("Vase en grès", "45.00")
    o2, f2a, f2b = next_id(), next_id(), next_id()
    add(
        "orders/create",
        order_payload(
            order_id=o2,
            number=1002,
            shopper=louis,
            items=[lamp, vase],
            created_at=start + timedelta(hours=1),
        ),
        "#1002 ordered",
    )
    add(
        "fulfillments/create",
        fulfillment_payload(
            fulfillment_id=f2a,
            order_id=o2,
            name="#1002.1",
            items=[lamp],
            created_at=start + timedelta(hours=6),
            tracking_number="6A10000000021",
        ),
        "#1002 parcel 1 shipped",
    )
    add(
        "fulfillments/create",
        fulfillment_payload(
            fulfillment_id=f2b,
            order_id=o2,
            name="#1002.2",
            items=[vase],
            carrier="Chronopost",
            created_at=start + timedelta(hours=30),
            tracking_number="XY123456789FR",
            tracking_url="https://www.chronopost.fr/tracking-no-cms/suivi-page?listeNumerosLT=XY123456789FR",
        ),
        "#1002 parcel 2 shipped",
    )
    add(
        "fulfillment_events/create",
        fulfillment_event_payload(
            event_id=next_id(),
            fulfillment_id=f2a,
            order_id=o2,
            status="delivered",
            happened_at=start + timedelta(hours=40),
            city="Nantes",
        ),
        "#1002 parcel 1 delivered",
    )
    add(
        "fulfillment_events/create",
        fulfillment_event_payload(
            event_id=next_id(),
            fulfillment_id=f2b,
            order_id=o2,
            status="in_transit",
            happened_at=start + timedelta(hours=45),
            city="Rennes",
            estimated_delivery_at=now + timedelta(days=1),
        ),
        "#1002 parcel 2 in transit",
    )

    # 3. #1003: a failed delivery attempt, then delivered (shopper writes in English).
    emma = Shopper(
        "Emma", "Wilson", "emma.wilson@example.com", "+447700900123", "Paris", "75011", "FR", "en"
    )
    scarf = Item("Linen scarf", "59.00")
    o3, f3 = next_id(), next_id()
    add(
        "orders/create",
        order_payload(
            order_id=o3,
            number=1003,
            shopper=emma,
            items=[scarf],
            created_at=start + timedelta(hours=2),
        ),
        "#1003 ordered",
    )
    add(
        "fulfillments/create",
        fulfillment_payload(
            fulfillment_id=f3,
            order_id=o3,
            name="#1003.1",
            items=[scarf],
            created_at=start + timedelta(hours=8),
            tracking_number="6A10000000033",
        ),
        "#1003 shipped",
    )
    events3 = [
        (30, "out_for_delivery"),
        (36, "attempted_delivery"),
        (54, "out_for_delivery"),
        (58, "delivered"),
    ]
    for hours, status in events3:
        add(
            "fulfillment_events/create",
            fulfillment_event_payload(
                event_id=next_id(),
                fulfillment_id=f3,
                order_id=o3,
                status=status,
                happened_at=start + timedelta(hours=hours),
                city="Paris",
            ),
            f"#1003 {status}",
        )

    # 4. #1004: cancelled before shipping.
    jules = Shopper(
        "Jules", "Petit", "jules.petit@example.fr", None, "Bordeaux", "33000", "FR", "fr"
    )
    plaid = Item("Plaid en laine", "120.00")
    o4 = next_id()
    created4 = start + timedelta(hours=3)
    add(
        "orders/create",
        order_payload(order_id=o4, number=1004, shopper=jules, items=[plaid], created_at=created4),
        "#1004 ordered",
    )
    add(
        "orders/cancelled",
        order_payload(
            order_id=o4,
            number=1004,
            shopper=jules,
            items=[plaid],
            created_at=created4,
            updated_at=created4 + timedelta(hours=2),
            cancelled_at=created4 + timedelta(hours=2),
        ),
        "#1004 cancelled",
    )

    # 5. #1005: Shopify delivers twice and out of order.
    lea = Shopper(
        "Léa", "Dubois", "lea.dubois@example.fr", "+33611223344", "Lille", "59000", "FR", "fr"
    )
    mug = Item("Tasse émaillée", "18.00", quantity=2)
    o5, f5 = next_id(), next_id()
    add(
        "orders/create",
        order_payload(
            order_id=o5,
            number=1005,
            shopper=lea,
            items=[mug],
            created_at=start + timedelta(hours=4),
        ),
        "#1005 ordered",
    )
    add(
        "fulfillments/create",
        fulfillment_payload(
            fulfillment_id=f5,
            order_id=o5,
            name="#1005.1",
            items=[mug],
            created_at=start + timedelta(hours=9),
            tracking_number="6A10000000055",
        ),
        "#1005 shipped",
    )
    delivered = add(
        "fulfillment_events/create",
        fulfillment_event_payload(
            event_id=next_id(),
            fulfillment_id=f5,
            order_id=o5,
            status="delivered",
            happened_at=start + timedelta(hours=50),
            city="Lille",
        ),
        "#1005 delivered (arrives first)",
    )
    add(
        "fulfillment_events/create",
        fulfillment_event_payload(
            event_id=next_id(),
            fulfillment_id=f5,
            order_id=o5,
            status="in_transit",
            happened_at=start + timedelta(hours=30),
            city="Arras",
        ),
        "#1005 in transit (arrives late)",
    )
    add(
        delivered.topic,
        delivered.payload,
        "#1005 delivered again (duplicate delivery)",
        webhook_id=delivered.webhook_id,
    )
    return hooks


def _wait_for(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def run_demo(*, port: int, wait: bool = True) -> int:
    """Run the demo; returns the process exit code."""
    instance = Path(os.environ.get("RELAIS_INSTANCE_DIR", "instance/demo")).resolve()
    if instance.exists():
        shutil.rmtree(instance)  # each demo starts from a clean slate
    instance.mkdir(parents=True)
    app_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **DEMO_ENV}
    env.update(
        APP_URL=app_url,
        PORT=str(port),
        RELAIS_INSTANCE_DIR=str(instance),
        DATABASE_URL=f"sqlite:///{instance / 'relais.sqlite3'}",
    )
    env.setdefault("REDIS_URL", redis_conn.start_embedded_redis(instance))
    os.environ.update({k: v for k, v in env.items() if k in ("REDIS_URL",)})
    relais = [sys.executable, "-m", "plugin"]
    print(f"Relais demo — instance folder {instance}")
    subprocess.run([*relais, "db", "upgrade"], env=env, check=True)  # noqa: S603
    children = [
        subprocess.Popen([*relais, "serve", "--host", "127.0.0.1"], env=env),  # noqa: S603
        subprocess.Popen([*relais, "worker"], env=env),  # noqa: S603
    ]

    def stop(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()

    try:
        if not _wait_for(lambda: httpx.get(f"{app_url}/healthz", timeout=2).status_code == 200, 60):
            print("the web app did not start; see the log above", file=sys.stderr)
            return 1
        sender = WebhookSender(app_url, env["SHOPIFY_API_SECRET"], DEMO_SHOP)
        print(f"\nReplaying the story of {DEMO_SHOP} over signed HTTP webhooks:")
        for hook in demo_story(datetime.now(UTC)):
            status = sender.send(hook)
            print(f"  {status}  {hook.topic:<28} {hook.label}")
        print("\nWaiting for the worker…")
        processed = _wait_for(lambda: _all_processed(app_url), 60)
        print("all deliveries processed" if processed else "some deliveries are still queued")
        for number in (1001, 1002, 1003, 1004, 1005):
            subprocess.run(  # noqa: S603 - our own command line
                [*relais, "order", "show", DEMO_SHOP, f"#{number}"], env=env, check=False
            )
            print()
        subprocess.run([*relais, "outbox", "--save", str(instance / "outbox")], env=env)  # noqa: S603
        print("Look at:")
        print(f"  {app_url}/healthz")
        print(f"  {app_url}/metrics")
        print(f"  relais order show {DEMO_SHOP} '#1003' --json   (with the environment above)")
        if not wait:
            return 0
        print("\nRelais is running. Ctrl-C to stop.")
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop()


def _all_processed(app_url: str) -> bool:
    text = httpx.get(f"{app_url}/metrics", timeout=2).text
    for line in text.splitlines():
        if line.startswith('relais_webhook_deliveries{status="received"}'):
            return float(line.split()[-1]) == 0
    return True

"""POST /webhooks: signatures, headers, bodies, duplicates, outages."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import func, select

from plugin.models import WebhookDelivery
from tests.conftest import TEST_API_SECRET


def test_official_hmac_vector_from_shopify_libraries():
    digest = hmac.new(b"secret", b"foo=anything", hashlib.sha256).digest()
    assert base64.b64encode(digest).decode() == "yCGX/RrK4fcuNtr3ztk5tQGsOBjcAzHpGLdMUrbV8yI="


def test_official_hmac_vector_through_intake(app, client, runtime):
    from shopify_app import verify_webhook_req

    result = verify_webhook_req(
        {
            "method": "POST",
            "headers": {"X-Shopify-Hmac-Sha256": "yCGX/RrK4fcuNtr3ztk5tQGsOBjcAzHpGLdMUrbV8yI="},
            "url": "https://relais.test/webhooks",
            "body": "foo=anything",
        },
        {"client_id": "x", "client_secret": "secret"},
    )
    assert result.ok
    # The same body under the app's own secret: verified, then refused as not JSON (400).
    response = client.post(
        "/webhooks",
        data=b"foo=anything",
        headers={
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": "demo-shop.myshopify.com",
            "X-Shopify-Webhook-Id": "w-1",
            "X-Shopify-Hmac-Sha256": base64.b64encode(
                hmac.new(TEST_API_SECRET.encode(), b"foo=anything", hashlib.sha256).digest()
            ).decode(),
        },
    )
    assert response.status_code == 400
    assert "not JSON" in response.get_json()["error"]


def _count(runtime) -> int:
    with runtime.db.session() as s:
        return s.scalar(select(func.count()).select_from(WebhookDelivery))


def test_wrong_signature_is_401_and_nothing_stored(post_webhook, runtime, fixture_payload):
    response = post_webhook(
        "orders/create", fixture_payload("orders/create"), secret="not-the-secret"
    )
    assert response.status_code == 401
    assert response.get_json() == {"error": "invalid signature"}
    assert _count(runtime) == 0


def test_body_altered_after_signing_is_401(client, runtime):
    body = json.dumps({"id": 1}).encode()
    signature = base64.b64encode(hmac.new(TEST_API_SECRET.encode(), body, hashlib.sha256).digest())
    response = client.post(
        "/webhooks",
        data=body + b" ",
        headers={
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": "demo-shop.myshopify.com",
            "X-Shopify-Webhook-Id": "w-2",
            "X-Shopify-Hmac-Sha256": signature.decode(),
        },
    )
    assert response.status_code == 401


def test_previous_secret_accepted_during_rotation(config, redis_url, fixture_payload):
    from plugin import create_app

    rotated = config.with_overrides(
        shopify_api_secret="the-new-secret", shopify_old_api_secret=TEST_API_SECRET
    )
    app = create_app(rotated)
    body = json.dumps(fixture_payload("orders/create")).encode()
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Shop-Domain": "demo-shop.myshopify.com",
        "X-Shopify-Webhook-Id": "rotation-1",
    }
    for n, secret in enumerate([TEST_API_SECRET, "the-new-secret"]):
        signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
        response = app.test_client().post(
            "/webhooks",
            data=body,
            headers={
                **headers,
                "X-Shopify-Webhook-Id": f"rotation-{n}",
                "X-Shopify-Hmac-Sha256": signature.decode(),
            },
        )
        assert response.status_code == 200, secret


def test_missing_signature_is_400(client):
    response = client.post("/webhooks", data=b"{}", headers={"X-Shopify-Topic": "orders/create"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "missing", ["X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id"]
)
def test_missing_headers_are_400(post_webhook, runtime, missing, caplog):
    response = post_webhook("orders/create", {"id": 1}, headers={missing: ""})
    assert response.status_code == 400
    assert missing in response.get_json()["error"]
    assert _count(runtime) == 0
    assert any("webhook rejected" in r.getMessage() for r in caplog.records)


def test_foreign_shop_domain_is_400(post_webhook):
    response = post_webhook("orders/create", {"id": 1}, shop_domain="evil.example.com")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"", "not JSON"),
    ],
)
def test_broken_bodies_are_400_with_a_reason(post_webhook, runtime, body, reason, caplog):
    response = post_webhook("orders/create", None, raw_body=body)
    assert response.status_code == 400
    assert reason in response.get_json()["error"]
    assert _count(runtime) == 0
    assert any(reason in r.getMessage() for r in caplog.records)


def test_every_delivery_is_recorded_with_its_headers(post_webhook, runtime, fixture_payload):
    response = post_webhook("orders/create", fixture_payload("orders/create"), webhook_id="abc-123")
    assert response.status_code == 200
    with runtime.db.session() as s:
        delivery = s.scalar(select(WebhookDelivery))
    assert delivery.webhook_id == "abc-123"
    assert delivery.topic == "orders/create"
    assert delivery.shop_domain == "demo-shop.myshopify.com"
    assert delivery.api_version == "2026-07"
    assert delivery.event_id
    assert delivery.triggered_at is not None
    assert delivery.status == "received"


def test_same_webhook_id_twice_is_stored_and_processed_once(
    post_webhook, runtime, run_jobs, fixture_payload
):
    payload = fixture_payload("orders/create")
    first = post_webhook("orders/create", payload, webhook_id="dup-1")
    run_jobs()
    second = post_webhook("orders/create", payload, webhook_id="dup-1")
    assert first.status_code == second.status_code == 200
    assert second.get_json()["status"] == "duplicate"
    run_jobs()
    with runtime.db.session() as s:
        delivery = s.scalar(select(WebhookDelivery))
        assert _count(runtime) == 1
        assert delivery.duplicates == 1
        assert delivery.attempts == 1


def test_redis_outage_answers_503_then_the_retry_succeeds(
    post_webhook, runtime, run_jobs, fixture_payload, monkeypatch
):
    """While Redis is down the answer is 503 (Shopify retries); the retry is processed once."""
    from plugin.queues import JobQueues

    real_enqueue = JobQueues.enqueue

    def redis_down(self, *args, **kwargs):
        raise RedisConnectionError("Connection refused")

    payload = fixture_payload("orders/create")
    monkeypatch.setattr(JobQueues, "enqueue", redis_down)
    outage = post_webhook("orders/create", payload, webhook_id="outage-1")
    assert outage.status_code == 503
    assert outage.headers["Retry-After"]
    monkeypatch.setattr(JobQueues, "enqueue", real_enqueue)
    retry = post_webhook("orders/create", payload, webhook_id="outage-1")
    assert retry.status_code == 200
    assert retry.get_json()["status"] == "accepted"
    run_jobs()
    with runtime.db.session() as s:
        delivery = s.scalar(select(WebhookDelivery))
        assert delivery.status == "processed"
        assert delivery.attempts == 1


def test_redis_server_unreachable_answers_503(config, fixture_payload, tmp_path):
    """A real connection to a Redis that is not there (nothing listens on the socket)."""
    from plugin import create_app

    app = create_app(config.with_overrides(redis_url=f"unix://{tmp_path}/nothing.sock"))
    body = json.dumps(fixture_payload("orders/create")).encode()
    response = app.test_client().post(
        "/webhooks",
        data=body,
        headers={
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": "demo-shop.myshopify.com",
            "X-Shopify-Webhook-Id": "no-redis",
            "X-Shopify-Hmac-Sha256": base64.b64encode(
                hmac.new(TEST_API_SECRET.encode(), body, hashlib.sha256).digest()
            ).decode(),
        },
    )
    assert response.status_code == 503
    health = app.test_client().get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["checks"]["redis"].startswith("error")


def test_database_unreachable_answers_503(config, fixture_payload, tmp_path):
    from plugin import create_app

    missing = tmp_path / "no-such-dir" / "db.sqlite3"
    app = create_app(config.with_overrides(database_url=f"sqlite:///{missing}"))
    body = json.dumps(fixture_payload("orders/create")).encode()
    response = app.test_client().post(
        "/webhooks",
        data=body,
        headers={
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": "demo-shop.myshopify.com",
            "X-Shopify-Webhook-Id": "no-db",
            "X-Shopify-Hmac-Sha256": base64.b64encode(
                hmac.new(TEST_API_SECRET.encode(), body, hashlib.sha256).digest()
            ).decode(),
        },
    )
    assert response.status_code == 503


def test_sweeper_queues_what_an_outage_left_behind(
    post_webhook, runtime, run_jobs, fixture_payload, monkeypatch
):
    """Stored, then Redis failed: Shopify never retries in this test, the sweeper does."""
    from plugin.queues import JobQueues

    real_enqueue = JobQueues.enqueue
    monkeypatch.setattr(
        JobQueues, "enqueue", lambda *a, **k: (_ for _ in ()).throw(RedisConnectionError("down"))
    )
    assert post_webhook("orders/create", fixture_payload("orders/create")).status_code == 503
    monkeypatch.setattr(JobQueues, "enqueue", real_enqueue)
    object.__setattr__(runtime.config, "stuck_delivery_seconds", 0)
    from webhooks.jobs import sweep

    assert sweep()["deliveries"] == 1
    run_jobs()
    with runtime.db.session() as s:
        assert s.scalar(select(WebhookDelivery.status)) == "processed"


def test_healthz_and_metrics(client, post_webhook, fixture_payload, run_jobs):
    assert client.get("/healthz").get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok"},
    }
    post_webhook("orders/create", fixture_payload("orders/create"))
    post_webhook("orders/create", {"id": 1}, secret="wrong")
    run_jobs()
    text = client.get("/metrics").get_data(as_text=True)
    assert 'relais_webhooks_total{outcome="accepted",topic="orders/create"} 1.0' in text
    assert 'relais_webhooks_total{outcome="unauthorized",topic="unknown"} 1.0' in text
    assert 'relais_webhook_deliveries{status="processed"} 1.0' in text
    assert 'relais_milestones_total{milestone="ordered"} 1.0' in text

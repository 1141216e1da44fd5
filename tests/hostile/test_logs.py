"""Logs carry ids, topics, outcomes and reasons, never what identifies a shopper or a secret.

Every record is captured at DEBUG, from Relais and from the libraries (RQ, SQLAlchemy,
httpx), while webhooks carrying known personal values go through intake, the job and the
subscribers (notifications included), valid or mangled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.conftest import TEST_API_SECRET, sign
from tests.hostile.strategies import BASE_PAYLOADS, CANARIES, body_of, topic_and_payload

SECRETS = (TEST_API_SECRET, "test-secret-key")


def _leaks(text: str, extra: tuple[str, ...] = ()) -> list[str]:
    return [value for value in (*CANARIES, *SECRETS, *extra) if value in text]


def test_a_whole_order_story_logs_no_personal_data(
    post_webhook: Callable[..., Any], run_jobs: Callable[[], int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    signatures = []
    for topic in ("orders/create", "fulfillments/create", "fulfillment_events/create"):
        payload = BASE_PAYLOADS[topic]()
        signatures.append(sign(body_of(payload)))
        assert post_webhook(topic, payload).status_code == 200
    run_jobs()
    assert "processed" in caplog.text
    assert not _leaks(caplog.text, tuple(signatures))


def test_refused_webhooks_log_why_without_the_body(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = body_of(BASE_PAYLOADS["orders/create"]())
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Shop-Domain": "demo-shop.myshopify.com",
        "X-Shopify-Webhook-Id": "log-test",
    }
    bad_signature = "A" * 43 + "="
    client.post("/webhooks", data=body, headers={**headers, "X-Shopify-Hmac-Sha256": bad_signature})
    truncated = body[:-5]
    signed = {**headers, "X-Shopify-Hmac-Sha256": sign(truncated)}
    client.post("/webhooks", data=truncated, headers=signed)
    assert "refused" in caplog.text and "rejected" in caplog.text
    assert not _leaks(caplog.text, (bad_signature, sign(truncated)))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=topic_and_payload())
def test_no_personal_data_in_logs_whatever_the_payload(
    reseed: Callable[[], None],
    post_webhook: Callable[..., Any],
    run_jobs: Callable[[], int],
    caplog: pytest.LogCaptureFixture,
    case: tuple[str, dict[str, Any]],
) -> None:
    reseed()
    caplog.clear()
    topic, payload = case
    with caplog.at_level(logging.DEBUG):
        post_webhook(topic, payload)
        run_jobs()  # the real worker: job, domain events, subscribers
    assert not _leaks(caplog.text)

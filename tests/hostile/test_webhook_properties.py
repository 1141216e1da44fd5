"""Property-based tests over POST /webhooks and every topic handler.

Whatever arrives, the intake answers 200, 400 or 401 (never a 5xx while the database and
Redis are up), stores a delivery exactly when it answers 200, and the job settles every
stored delivery (processed, failed or ignored) without raising, so that nothing loops on
retries. A failed delivery writes nothing to the domain (no partial write) and keeps its
payload for an operator; a processed one keeps no payload.
"""

from __future__ import annotations

import json
import logging
import string
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from plugin.models import WebhookDelivery
from plugin.runtime import Runtime
from tests.conftest import sign
from tests.hostile.strategies import (
    BASE_PAYLOADS,
    CANARIES,
    EDGE_VALUES,
    NASTY_SCALARS,
    json_values,
    mutated_payload,
    read_paths,
    topic_and_payload,
    with_value,
)
from webhooks.jobs import process_delivery

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SETTLED = {"processed", "failed", "ignored"}

header_text = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"),
    max_size=80,
)
topics = st.sampled_from(sorted(BASE_PAYLOADS)) | st.sampled_from(
    ["orders", "/", "orders/", "ORDERS/CREATE", "a" * 41 + "/b", "unknown/topic"]
) | header_text
domains = st.sampled_from(
    ["demo-shop.myshopify.com", "other.myshopify.com", "x.myshopify.com.evil.com", "", "-a."
     "myshopify.com", "A.MYSHOPIFY.COM"]
) | header_text
triggered = st.sampled_from([s for s in NASTY_SCALARS if isinstance(s, str)]) | header_text
bodies = json_values.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=200)


def _stored(runtime: Runtime) -> int:
    with runtime.db.session() as session:
        return session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0


@SETTINGS
@given(
    topic=topics,
    domain=domains,
    webhook_id=header_text,
    triggered_at=triggered,
    body=bodies,
    signature=st.sampled_from(["valid", "valid", "garbage"]),
    garbage=header_text,
)
def test_intake_answers_200_400_or_401_and_stores_only_on_200(
    client: Any,
    runtime: Runtime,
    topic: str,
    domain: str,
    webhook_id: str,
    triggered_at: str,
    body: bytes,
    signature: str,
    garbage: str,
) -> None:
    before = _stored(runtime)
    response = client.post(
        "/webhooks",
        data=body,
        headers={
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": domain,
            "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
            "X-Shopify-Triggered-At": triggered_at,
            "X-Shopify-Hmac-Sha256": sign(body) if signature == "valid" else garbage,
        },
    )
    assert response.status_code in (200, 400, 401), response.get_data()[:300]
    assert response.is_json
    after = _stored(runtime)
    if response.status_code == 200:
        # A new webhook id adds one row; a repeated one (hypothesis repeats ids) adds none.
        assert after - before in (0, 1)
        assert response.get_json()["status"] in ("accepted", "duplicate")
    else:
        assert after == before


def _check_one(
    topic: str,
    payload: dict[str, Any],
    post_webhook: Callable[..., Any],
    runtime: Runtime,
    fingerprint: Callable[[], str],
) -> str | None:
    """Deliver and process one payload; return what went wrong, or None."""
    before = fingerprint()
    response = post_webhook(topic, payload)
    if response.status_code != 200:
        return f"intake answered {response.status_code}"
    delivery_id = response.get_json()["id"]
    try:
        result = process_delivery(delivery_id)
    except Exception as exc:  # a raise means RQ retries and the sweeper re-queues forever
        return f"job raised {type(exc).__name__}: {exc}"[:300]
    with runtime.db.session() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        assert delivery is not None
        if delivery.status not in SETTLED:
            return f"left {delivery.status}: {result}"
        if delivery.status == "failed":
            if not delivery.error or delivery.payload is None:
                return "failed without its error or its payload"
            if fingerprint() != before:
                return f"partial write by a failed delivery: {result}"
        elif delivery.payload is not None:
            return "payload kept after processing"
    # The same delivery again (Shopify retries, the sweeper re-queues) changes nothing.
    settled = fingerprint()
    if process_delivery(delivery_id) != "already processed" or fingerprint() != settled:
        return "processing the same delivery twice changed something"
    return None


@SETTINGS
@given(case=topic_and_payload())
def test_every_handler_settles_any_payload_without_partial_write(
    reseed: Callable[[], None],
    post_webhook: Callable[..., Any],
    runtime: Runtime,
    fingerprint: Callable[[], str],
    case: tuple[str, dict[str, Any]],
) -> None:
    reseed()
    topic, payload = case
    problem = _check_one(topic, payload, post_webhook, runtime, fingerprint)
    assert problem is None, (topic, problem)


# One topic per payload shape (the other order topics share orders/updated's handler).
SWEPT_TOPICS = [
    "orders/updated", "fulfillments/update", "fulfillment_events/create",
    "fulfillment_events/delete", "shop/update", "app/uninstalled", "customers/data_request",
    "customers/redact",
]


@pytest.mark.slow
def test_every_read_field_with_every_kind_of_bad_value(
    reseed: Callable[[], None],
    post_webhook: Callable[..., Any],
    runtime: Runtime,
    fingerprint: Callable[[], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Systematic: each field a handler reads, in each payload shape, set to one value of
    each kind of trouble (random search finds such pairs only by luck). Whatever fails
    is logged without the shopper's personal data."""
    caplog.set_level(logging.DEBUG)
    problems = []
    cases = 0
    for topic in SWEPT_TOPICS:
        base = BASE_PAYLOADS[topic]()
        for path in read_paths(base):
            for value in EDGE_VALUES:
                reseed()
                cases += 1
                problem = _check_one(
                    topic, with_value(base, path, value), post_webhook, runtime, fingerprint
                )
                if problem:
                    problems.append(f"{topic} {'.'.join(map(str, path))}={value!r:.40}: {problem}")
    assert cases > 500
    assert not problems, "\n".join(problems[:40])
    assert "failed:" in caplog.text  # the failures were logged...
    leaked = [c for c in CANARIES if c in caplog.text]
    assert not leaked, leaked  # ...without what identifies the shopper


@SETTINGS
@given(
    topic=st.sampled_from(sorted(BASE_PAYLOADS)),
    text=st.text(alphabet=string.printable, max_size=40),
)
def test_body_that_is_not_a_json_object_is_400(
    post_webhook: Callable[..., Any], runtime: Runtime, topic: str, text: str
) -> None:
    before = _stored(runtime)
    payload = json.dumps([text])
    response = post_webhook(topic, None, raw_body=payload.encode())
    assert response.status_code == 400
    assert _stored(runtime) == before


@SETTINGS
@given(topic=st.sampled_from(sorted(BASE_PAYLOADS)), data=st.data())
def test_same_mutated_delivery_twice_is_applied_once(
    reseed: Callable[[], None],
    post_webhook: Callable[..., Any],
    fingerprint: Callable[[], str],
    topic: str,
    data: st.DataObject,
) -> None:
    reseed()
    payload = data.draw(mutated_payload(topic))
    first = post_webhook(topic, payload).get_json()["id"]
    process_delivery(first)
    once = fingerprint()
    # A second delivery of the same event (another webhook id, same content) is a no-op.
    second = post_webhook(topic, payload).get_json()["id"]
    process_delivery(second)
    assert fingerprint() == once or topic.startswith(("customers/", "shop/redact", "app/"))

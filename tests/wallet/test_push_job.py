"""The milestone job pushing registered devices through the local APNs stand-in."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from rq.job import Job
from sqlalchemy import select

from plugin.runtime import Runtime
from tests.standins.apns_server import Rule
from tests.wallet.conftest import APNS_KEY_ID, ORDER_TYPE, PASS_TYPE, TEAM
from tests.wallet.device import ORDER, PASS, OrderStory, WalletDevice, download
from wallet import jobs
from wallet.models import WalletRegistration

# Device tokens are hex; their first characters pick the stand-in's answer.
OK = "00" * 32
GONE = "410a" + "0" * 60
BAD_TOKEN = "400b" + "0" * 60
NOT_FOR_TOPIC = "400c" + "0" * 60
THROTTLED = "429a" + "0" * 60
BROKEN = "500a" + "0" * 60
FORBIDDEN = "403a" + "0" * 60
RULES = {
    "410a": Rule(410, "Unregistered"),
    "400b": Rule(400, "BadDeviceToken"),
    "400c": Rule(400, "DeviceTokenNotForTopic"),
    "429a": Rule(429, "TooManyRequests", {"retry-after": "120"}),
    "500a": Rule(500, "InternalServerError"),
    "403a": Rule(403, "InvalidProviderToken"),
}


@pytest.fixture
def story(shop: Any, post_webhook: Any, run_jobs: Any) -> OrderStory:
    story = OrderStory(post_webhook, run_jobs).create()
    story.ship(8001)
    return story


def _install(
    client: Any, config: Any, runtime: Runtime, story: OrderStory, tokens: list[str], kinds: Any
) -> None:
    """Download the pass (and order), and register one device per push token."""
    for kind in kinds:
        package = download(client, config, kind, story.public_id(runtime))
        for number, token in enumerate(tokens):
            device = WalletDevice(client, f"device{number:04d}", token)
            assert device.register(kind, package.identifier, package.token).status_code == 201


def _fetch(runtime: Runtime, job_id: str) -> Job:
    return Job.fetch(
        job_id, connection=runtime.redis, serializer=runtime.queues["wallet"].serializer
    )


def _registered(runtime: Runtime) -> set[tuple[str, str]]:
    with runtime.db.session() as session:
        rows = session.execute(select(WalletRegistration.kind, WalletRegistration.push_token))
        return {(kind, token) for kind, token in rows}


@pytest.mark.parametrize("apns_auth_mode", ["certificate", "token"])
def test_a_milestone_pushes_every_registered_device(
    apns_auth_mode: str, story: OrderStory, client: Any, config: Any, runtime: Runtime,
    apns: Any, apns_keys: dict[str, Any],
) -> None:  # fmt: skip
    _install(client, config, runtime, story, [OK, "11" * 32], [PASS, ORDER])
    assert apns.requests == []  # registering pushes nothing
    story.event(8001, "in_transit", 20)
    by_topic = {(r.headers["apns-topic"], r.path) for r in apns.requests}
    assert by_topic == {
        (topic, f"/3/device/{token}")
        for topic in (PASS_TYPE, ORDER_TYPE)
        for token in (OK, "11" * 32)
    }
    for request in apns.requests:
        assert request.method == "POST"
        assert request.body == b"{}"
        assert request.status == 200
        assert request.auth == apns_auth_mode
        if apns_auth_mode == "token":
            import jwt

            scheme, _, value = request.headers["authorization"].partition(" ")
            assert scheme == "bearer"
            claims = jwt.decode(value, apns_keys["public"], algorithms=["ES256"], issuer=TEAM)
            assert jwt.get_unverified_header(value)["kid"] == APNS_KEY_ID
            assert abs(claims["iat"] - time.time()) < 60
        else:
            assert "authorization" not in request.headers

    # A second milestone: the same connections, reused (one per credential), and the
    # same provider token (renewed only after 50 minutes).
    story.event(8001, "out_for_delivery", 30)
    assert len(apns.requests) == 8
    assert apns.connections == (1 if apns_auth_mode == "token" else 2)
    if apns_auth_mode == "token":
        assert len({r.headers["authorization"] for r in apns.requests}) == 1
    body = client.get("/metrics").get_data(as_text=True)
    assert 'relais_wallet_pushes_total{kind="pass",outcome="ok"} 4.0' in body
    assert 'relais_wallet_pushes_total{kind="order",outcome="ok"} 4.0' in body


def test_what_apns_answers_decides_each_devices_fate(
    story: OrderStory, client: Any, config: Any, runtime: Runtime, apns: Any,
    run_jobs: Any, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    apns.config.rules.update(RULES)
    tokens = [OK, GONE, BAD_TOKEN, NOT_FOR_TOPIC, THROTTLED, BROKEN, FORBIDDEN]
    _install(client, config, runtime, story, tokens, [PASS])
    started = time.time()
    with caplog.at_level(logging.ERROR, logger="wallet"):
        story.event(8001, "in_transit", 20)
    assert {(r.path.rsplit("/", 1)[1], r.status) for r in apns.requests} == {
        (OK, 200), (GONE, 410), (BAD_TOKEN, 400), (NOT_FOR_TOPIC, 400), (THROTTLED, 429),
        (BROKEN, 500), (FORBIDDEN, 403),
    }  # fmt: skip

    # 410, BadDeviceToken, DeviceTokenNotForTopic: those registrations are gone.
    assert _registered(runtime) == {("pass", t) for t in (OK, THROTTLED, BROKEN, FORBIDDEN)}
    # 403: an alert at ERROR, never retried.
    alerts = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert alerts and any("InvalidProviderToken" in r.getMessage() for r in alerts)
    # 429 and 500: one job, later, for just those two devices, honouring Retry-After.
    registry = runtime.queues["wallet"].scheduled_job_registry
    (job_id,) = registry.get_job_ids()
    job = _fetch(runtime, job_id)
    assert job.func_name == "wallet.jobs.push_devices"
    _pass_id, kind, ids, attempt = job.args
    assert (kind, attempt) == ("pass", 1)
    with runtime.db.session() as session:
        retried = set(
            session.scalars(
                select(WalletRegistration.push_token).where(
                    WalletRegistration.id.in_([int(i) for i in ids.split(",")])
                )
            )
        )
    assert retried == {THROTTLED, BROKEN}
    assert THROTTLED not in str(job.args)  # ids travel through Redis, not push tokens
    due = registry.get_scheduled_time(job)
    assert 115 <= due.timestamp() - started <= 130  # Retry-After 120 beats the 10 s step

    # APNs recovers; the retry comes due: exactly those two devices are pushed again.
    apns.config.rules.clear()
    before = len(apns.requests)
    registry.remove(job)
    runtime.queues["wallet"].enqueue_job(job)
    run_jobs()
    again = apns.requests[before:]
    assert sorted(r.path.rsplit("/", 1)[1] for r in again) == sorted([THROTTLED, BROKEN])
    assert all(r.status == 200 for r in again)
    assert registry.get_job_ids() == []

    body = client.get("/metrics").get_data(as_text=True)
    for outcome, count in (("ok", 3), ("unregister", 3), ("retry", 2), ("forbidden", 1)):
        assert f'relais_wallet_pushes_total{{kind="pass",outcome="{outcome}"}} {count}.0' in body


def test_retries_back_off_and_stop(
    story: OrderStory, client: Any, config: Any, runtime: Runtime, apns: Any, run_jobs: Any,
) -> None:  # fmt: skip
    apns.config.rules["500a"] = Rule(500, "InternalServerError")
    _install(client, config, runtime, story, [BROKEN], [PASS])
    story.event(8001, "in_transit", 20)
    registry = runtime.queues["wallet"].scheduled_job_registry
    delays = []
    for _attempt in range(1, jobs.MAX_ATTEMPTS + 1):
        (job_id,) = registry.get_job_ids()
        job = _fetch(runtime, job_id)
        delays.append(registry.get_scheduled_time(job).timestamp() - time.time())
        registry.remove(job)
        runtime.queues["wallet"].enqueue_job(job)
        run_jobs()
    # One first push and MAX_ATTEMPTS retries, each waiting longer, then nothing more.
    assert len(apns.requests) == 1 + jobs.MAX_ATTEMPTS
    assert registry.get_job_ids() == []
    assert [round(d, -1) for d in delays] == [float(s) for s in jobs.RETRY_DELAYS]
    assert _registered(runtime) == {("pass", BROKEN)}  # a failing server is no reason to forget
    body = client.get("/metrics").get_data(as_text=True)
    assert 'relais_wallet_pushes_total{kind="pass",outcome="gave_up"} 1.0' in body


def test_a_device_gone_before_its_retry_is_not_pushed(
    story: OrderStory, client: Any, config: Any, runtime: Runtime, apns: Any, run_jobs: Any,
) -> None:  # fmt: skip
    apns.config.rules["500a"] = Rule(500, "InternalServerError")
    _install(client, config, runtime, story, [BROKEN], [PASS])
    story.event(8001, "in_transit", 20)
    with runtime.db.transaction() as session:
        session.query(WalletRegistration).delete()
    registry = runtime.queues["wallet"].scheduled_job_registry
    (job_id,) = registry.get_job_ids()
    job = _fetch(runtime, job_id)
    assert jobs.push_devices(*job.args) == "no device left to push"
    assert len(apns.requests) == 1


def test_one_client_per_process_and_credential(config: Any, apns: Any) -> None:
    first = jobs.apns_client(config, "pass")
    assert first is jobs.apns_client(config, "pass")
    # Certificate authentication: the order type has its own certificate, so its own client.
    assert jobs.apns_client(config, "order") is not first


def test_orders_without_their_certificate_are_off(
    story: OrderStory, client: Any, config: Any, runtime: Runtime, apns: Any
) -> None:
    """Production with only WALLET_CERTIFICATE: passes work, Wallet orders answer 404."""
    from plugin import create_app

    app = create_app(config.with_overrides(wallet_order_certificate=None, wallet_order_key=None))
    try:
        other = app.test_client()
        download(other, config, PASS, story.public_id(runtime))
        link = f"/wallet/orders/{_token(config, story.public_id(runtime))}.order"
        assert other.get(link).status_code == 404
        assert other.get(f"/wallet/orders/v1/devices/d/registrations/{ORDER_TYPE}").status_code == (
            404
        )
    finally:
        app.extensions["relais"].db.dispose()


def _token(config: Any, public_id: str) -> str:
    from plugin.links import make_order_token

    return make_order_token(config.secret_key, "demo-shop.myshopify.com", public_id)

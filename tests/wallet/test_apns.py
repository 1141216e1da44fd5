"""APNs client against the local HTTP/2 stand-in: requests, both authentications, outcomes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.standins.apns_server import (
    ApnsStandIn,
    Rule,
    StandInConfig,
    write_server_certificate,
    write_token_key,
)
from tests.wallet.conftest import KEY_PASSWORD, ORDER_TYPE, PASS_TYPE, TEAM
from wallet.apns import (
    TOKEN_REFRESH_SECONDS,
    ApnsClient,
    CertificateAuth,
    PushOutcome,
    PushResult,
    TokenAuth,
    classify,
    httpx_http2_transport,
)
from wallet.devcerts import DevCertificates

KEY_ID = "ABC123DEFG"


def token(prefix: str = "", n: int = 0) -> str:
    """A 64-hex-digit device token starting with ``prefix`` (which picks the answer)."""
    return f"{prefix}{n:0{64 - len(prefix)}x}"


RULES = {
    "410a": Rule(410, "Unregistered"),
    "429a": Rule(429, "TooManyRequests", {"retry-after": "30"}),
    "500a": Rule(500, "InternalServerError"),
    "503a": Rule(503, "ServiceUnavailable"),
    "400b": Rule(400, "BadDeviceToken"),
    "400c": Rule(400, "DeviceTokenNotForTopic"),
    "403a": Rule(403, "Forbidden"),
    "413a": Rule(413, "PayloadTooLarge"),
}
EXPECTED = {
    "": (PushResult.OK, 200, None),
    "410a": (PushResult.UNREGISTER, 410, "Unregistered"),
    "429a": (PushResult.RETRY, 429, "TooManyRequests"),
    "500a": (PushResult.RETRY, 500, "InternalServerError"),
    "503a": (PushResult.RETRY, 503, "ServiceUnavailable"),
    "400b": (PushResult.UNREGISTER, 400, "BadDeviceToken"),
    "400c": (PushResult.UNREGISTER, 400, "DeviceTokenNotForTopic"),
    "403a": (PushResult.FORBIDDEN, 403, "Forbidden"),
    "413a": (PushResult.REJECTED, 413, "PayloadTooLarge"),
}
TRANSPORTS: dict[str, Any] = {"relais-h2": None, "httpx-http2": httpx_http2_transport}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("apns")
    certificate, key = write_server_certificate(folder)
    p8, public = write_token_key(folder, KEY_ID)
    other_p8, _ = write_token_key(folder / "other", KEY_ID)
    return {"tls": certificate, "tls_key": key, "p8": p8, "public": public, "other_p8": other_p8}


@pytest.fixture
def server(keys: dict[str, Any], chain: DevCertificates, tmp_path: Path) -> Iterator[ApnsStandIn]:
    # Client certificates chain to the development root through the WWDR intermediate.
    bundle = tmp_path / "client-ca.pem"
    bundle.write_bytes(chain.root.read_bytes() + chain.intermediate.read_bytes())
    config = StandInConfig(
        certificate=keys["tls"],
        key=keys["tls_key"],
        topics=frozenset({PASS_TYPE, ORDER_TYPE}),
        token_keys={KEY_ID: (TEAM, keys["public"])},
        client_ca=bundle,
        rules=dict(RULES),
    )
    with ApnsStandIn(config) as stand_in:
        yield stand_in


@pytest.fixture(params=list(TRANSPORTS))
def connect(
    request: pytest.FixtureRequest, server: ApnsStandIn, keys: dict[str, Any]
) -> Iterator[Callable[..., ApnsClient]]:
    """Open clients on the stand-in, with our HTTP/2 transport and with httpx's own."""
    opened: list[ApnsClient] = []

    def open_client(auth: Any = None, **options: Any) -> ApnsClient:
        auth = auth or TokenAuth.from_p8(keys["p8"], team_id=TEAM, key_id=KEY_ID)
        options.setdefault("timeout", 3.0)
        client = ApnsClient(
            auth, host=server.url, verify=str(keys["tls"]), transport=TRANSPORTS[request.param],
            **options,
        )  # fmt: skip
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.close()


def test_push_request_is_what_wallet_expects(
    connect: Callable[..., ApnsClient], server: ApnsStandIn
) -> None:
    device = token("", 1)
    outcome = connect().push(device, PASS_TYPE)
    assert outcome == PushOutcome(device, PushResult.OK, 200, None, None, outcome.apns_id)
    assert outcome.apns_id
    (request,) = server.requests
    assert request.method == "POST"
    assert request.path == f"/3/device/{device}"
    assert request.headers["apns-topic"] == PASS_TYPE
    assert request.headers["apns-push-type"] == "background"
    assert "apns-priority" not in request.headers
    assert request.body == b"{}"
    assert request.auth == "token"
    assert (request.status, request.reason) == (200, None)


def test_provider_token_is_an_es256_jwt(
    connect: Callable[..., ApnsClient], server: ApnsStandIn, keys: dict[str, Any]
) -> None:
    before = int(time.time())
    connect().push(token(), ORDER_TYPE)
    scheme, _, value = server.requests[0].headers["authorization"].partition(" ")
    assert scheme == "bearer"
    assert jwt.get_unverified_header(value) == {"alg": "ES256", "kid": KEY_ID}
    claims = jwt.decode(value, keys["public"], algorithms=["ES256"])
    assert claims["iss"] == TEAM
    assert before <= claims["iat"] <= int(time.time())
    assert set(claims) == {"iss", "iat"}


def test_provider_token_is_reused_then_renewed(
    connect: Callable[..., ApnsClient], server: ApnsStandIn
) -> None:
    # The client's clock starts 51.5 minutes back so every token it makes is one the
    # stand-in (on the real clock) still accepts.
    now = [time.time() - TOKEN_REFRESH_SECONDS - 90]
    client = connect(clock=lambda: now[0])
    client.push_many([token("", n) for n in range(5)], PASS_TYPE)
    now[0] += TOKEN_REFRESH_SECONDS - 60
    client.push(token("", 9), PASS_TYPE)
    tokens = {r.headers["authorization"] for r in server.requests}
    assert len(tokens) == 1  # one token for the first 49 minutes
    now[0] += 120
    client.push(token("", 10), PASS_TYPE)
    assert server.requests[-1].headers["authorization"] not in tokens
    assert server.requests[-1].status == 200


def test_certificate_authentication(
    connect: Callable[..., ApnsClient], server: ApnsStandIn, chain: DevCertificates
) -> None:
    auth = CertificateAuth(chain.pass_certificate, chain.pass_key, KEY_PASSWORD)
    client = connect(auth)
    assert client.push(token("", 2), PASS_TYPE).result is PushResult.OK
    request = server.requests[0]
    assert request.auth == "certificate"
    assert "authorization" not in request.headers
    # The certificate is only good for its own pass type.
    refused = client.push(token("", 3), ORDER_TYPE)
    assert (refused.result, refused.status, refused.reason) == (
        PushResult.REJECTED,
        400,
        "TopicDisallowed",
    )


def test_every_answer_maps_to_an_outcome(
    connect: Callable[..., ApnsClient], server: ApnsStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    devices = [token(prefix, n) for n in range(3) for prefix in EXPECTED]
    with caplog.at_level(logging.WARNING, logger="wallet.apns"):
        outcomes = connect().push_many(devices, PASS_TYPE)
    assert [o.device_token for o in outcomes] == devices
    for outcome in outcomes:
        prefix = next((p for p in RULES if outcome.device_token.startswith(p)), "")
        result, status, reason = EXPECTED[prefix]
        assert (outcome.result, outcome.status, outcome.reason) == (result, status, reason)
        assert outcome.retry_after == (30.0 if prefix == "429a" else None)
    assert server.connections == 1  # every stream over the one connection
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 3 and all("refused our credentials" in r.getMessage() for r in errors)


def test_bad_device_token_text_means_unregister(connect: Callable[..., ApnsClient]) -> None:
    outcome = connect().push("not-a-token", PASS_TYPE)
    assert (outcome.result, outcome.reason) == (PushResult.UNREGISTER, "BadDeviceToken")


def test_refused_credentials_are_forbidden_and_alerted(
    connect: Callable[..., ApnsClient],
    keys: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    stranger = TokenAuth.from_p8(keys["other_p8"], team_id=TEAM, key_id=KEY_ID)
    with caplog.at_level(logging.ERROR, logger="wallet.apns"):
        outcome = connect(stranger).push(token(), PASS_TYPE)
    assert (outcome.result, outcome.status, outcome.reason) == (
        PushResult.FORBIDDEN,
        403,
        "InvalidProviderToken",
    )
    assert any(r.levelno == logging.ERROR for r in caplog.records)

    two_hours_ago = time.time() - 7200
    expired = connect(clock=lambda: two_hours_ago).push(token(), PASS_TYPE)
    assert (expired.result, expired.reason) == (PushResult.FORBIDDEN, "ExpiredProviderToken")


def test_slow_answer_is_a_retry(connect: Callable[..., ApnsClient], server: ApnsStandIn) -> None:
    server.config.delay = 1.5
    started = time.monotonic()
    outcome = connect(timeout=0.3).push(token(), PASS_TYPE)
    assert (outcome.result, outcome.reason) == (PushResult.RETRY, "Timeout")
    assert time.monotonic() - started < 1.4


def test_unreachable_host_is_a_retry(
    connect: Callable[..., ApnsClient], server: ApnsStandIn, keys: dict[str, Any]
) -> None:
    closed = httpx.URL(server.url).copy_with(port=1).__str__()
    auth = TokenAuth.from_p8(keys["p8"], team_id=TEAM, key_id=KEY_ID)
    with ApnsClient(auth, host=closed, verify=str(keys["tls"]), timeout=1.0) as client:
        outcome = client.push(token(), PASS_TYPE)
    assert outcome.result is PushResult.RETRY
    assert outcome.status is None


@pytest.mark.parametrize("how", ["drop", "goaway"])
def test_reconnects_after_the_connection_ends(
    how: str, connect: Callable[..., ApnsClient], server: ApnsStandIn
) -> None:
    client = connect()
    assert client.push(token("", 1), PASS_TYPE).result is PushResult.OK
    if how == "drop":
        server.drop_connections()
    else:
        server.goaway()
    time.sleep(0.05)
    results = []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        results.append(client.push(token("", 2), PASS_TYPE).result)
        if results[-1] is PushResult.OK:
            break
        time.sleep(0.05)
    assert results[-1] is PushResult.OK
    assert set(results[:-1]) <= {PushResult.RETRY} and len(results) <= 2
    assert server.connections == 2


def test_many_devices_over_one_connection(
    connect: Callable[..., ApnsClient], server: ApnsStandIn
) -> None:
    devices = [token("", n) for n in range(600)]
    outcomes = connect(concurrency=64).push_many(devices, PASS_TYPE)
    assert {o.result for o in outcomes} == {PushResult.OK}
    assert len({r.path for r in server.requests}) == 600
    assert server.connections == 1


def test_classify_reads_retry_after_dates() -> None:
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 120))
    response = httpx.Response(503, headers={"retry-after": later}, content=b'{"reason":"Shutdown"}')
    outcome = classify("ab", response)
    assert outcome.result is PushResult.RETRY and outcome.reason == "Shutdown"
    assert outcome.retry_after is not None and 100 < outcome.retry_after <= 120
    assert classify("ab", httpx.Response(200)).result is PushResult.OK
    assert classify("ab", httpx.Response(410, content=b"not json")).result is PushResult.UNREGISTER

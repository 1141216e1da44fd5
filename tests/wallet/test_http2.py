"""The HTTP/2 transport on its own: flow control, stream limits, ALPN, one connection."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.standins.apns_server import (
    ApnsStandIn,
    StandInConfig,
    write_server_certificate,
    write_token_key,
)
from tests.wallet.conftest import PASS_TYPE, TEAM
from wallet.apns import TokenAuth
from wallet.http2 import Http2Transport

KEY_ID = "HTTP2TEST1"


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("http2")
    certificate, key = write_server_certificate(folder)
    p8, public = write_token_key(folder, KEY_ID)
    token = TokenAuth.from_p8(p8, team_id=TEAM, key_id=KEY_ID).make_token(int(time.time()))
    return {"tls": certificate, "tls_key": key, "public": public, "token": token}


def stand_in(material: dict[str, Any], **options: Any) -> ApnsStandIn:
    config = StandInConfig(
        certificate=material["tls"],
        key=material["tls_key"],
        topics=frozenset({PASS_TYPE}),
        token_keys={KEY_ID: (TEAM, material["public"])},
        **options,
    )
    return ApnsStandIn(config)


@pytest.fixture
def limited(material: dict[str, Any]) -> Iterator[ApnsStandIn]:
    with stand_in(material, max_streams=4) as server:
        yield server


def post_all(
    url: str, material: dict[str, Any], bodies: list[bytes]
) -> tuple[list[httpx.Response], int]:
    async def run() -> tuple[list[httpx.Response], int]:
        transport = Http2Transport(ssl_context=ssl.create_default_context(cafile=material["tls"]))
        headers = {"authorization": f"bearer {material['token']}", "apns-topic": PASS_TYPE}
        async with httpx.AsyncClient(transport=transport, timeout=5.0) as client:
            responses = await asyncio.gather(
                *(
                    client.post(f"{url}/3/device/{n:064x}", content=body, headers=headers)
                    for n, body in enumerate(bodies)
                )
            )
        return list(responses), transport.connections_opened

    return asyncio.run(run())


def test_stream_limit_is_respected_on_one_connection(
    limited: ApnsStandIn, material: dict[str, Any]
) -> None:
    responses, opened = post_all(limited.url, material, [b"{}"] * 60)
    assert [r.status_code for r in responses] == [200] * 60
    assert all(r.http_version == "HTTP/2" for r in responses)
    assert opened == 1 and limited.connections == 1
    assert limited.errors == []  # never more than 4 streams at once, or h2 would refuse


def test_large_bodies_follow_flow_control(limited: ApnsStandIn, material: dict[str, Any]) -> None:
    # 3 x 200 kB: far beyond the initial 64 kB windows of the stream and the connection.
    big = json.dumps({"padding": "x" * 200_000}).encode()
    responses, _ = post_all(limited.url, material, [big, b"{}", big, big])
    assert [r.status_code for r in responses] == [400, 200, 400, 400]
    assert responses[0].json() == {"reason": "UnexpectedPayload"}
    assert sorted(len(r.body) for r in limited.requests) == [2, len(big), len(big), len(big)]


def test_a_server_without_http2_is_refused(material: dict[str, Any], tmp_path: Path) -> None:
    with stand_in(material, alpn=("http/1.1",)) as server:

        async def run() -> None:
            transport = Http2Transport(
                ssl_context=ssl.create_default_context(cafile=material["tls"])
            )
            async with httpx.AsyncClient(transport=transport) as client:
                await client.post(f"{server.url}/3/device/{0:064x}", content=b"{}")

        with pytest.raises(httpx.ConnectError, match="HTTP/2"):
            asyncio.run(run())


def test_plain_http_is_refused(material: dict[str, Any]) -> None:
    async def run() -> None:
        transport = Http2Transport(ssl_context=ssl.create_default_context())
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get("http://127.0.0.1:1/")

    with pytest.raises(httpx.UnsupportedProtocol):
        asyncio.run(run())

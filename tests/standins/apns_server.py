"""A local HTTP/2 server standing in for APNs (api.push.apple.com) in tests and benchmarks.

It speaks HTTP/2 over TLS with ``h2`` directly (no ASGI layer: fewer moving parts, and
fast enough to measure a client at thousands of pushes per second), checks what APNs
checks for Wallet pushes (method, path, device token, ``apns-topic``, provider token or
client certificate, the empty ``{}`` payload), answers according to rules chosen by the
test (device-token prefix -> status and reason), and records every request.

In process: ``with ApnsStandIn(...) as server: server.url``. As a process (benchmarks):
``python -m tests.standins.apns_server --certificate ... --key ... --port 0`` prints the
URL on its first line of output.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import ssl
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import hpack
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

_PATH = re.compile(r"^/3/device/([^/?]+)$")
_TOKEN = re.compile(r"^[0-9a-fA-F]{64,200}$")
TOKEN_LIFETIME = timedelta(hours=1)  # APNs refuses provider tokens older than an hour
PUSH_TYPES = frozenset({"background", "alert", "voip", "complication", "fileprovider", "mdm"})


@dataclass(frozen=True)
class Rule:
    """What to answer for device tokens starting with a prefix."""

    status: int
    reason: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    auth: str | None  # "token", "certificate" or None
    status: int
    reason: str | None
    connection: int  # which TLS connection carried it


@dataclass
class StandInConfig:
    """What the stand-in accepts.

    ``token_keys`` maps a key id to (team id, public key) for provider tokens;
    ``client_ca`` enables client-certificate authentication (the certificate's UID is
    the topic it may push to); ``rules`` maps device-token prefixes to answers."""

    certificate: Path
    key: Path
    topics: frozenset[str]
    token_keys: dict[str, tuple[str, Any]] = field(default_factory=dict)
    client_ca: Path | None = None
    rules: dict[str, Rule] = field(default_factory=dict)
    record: bool = True
    delay: float = 0.0  # seconds before answering, to exercise client timeouts
    max_streams: int = 1000  # APNs' usual concurrent-stream limit per connection
    alpn: tuple[str, ...] = ("h2",)


class _PlainEncoder(hpack.Encoder):
    """No Huffman coding: the stand-in should cost little CPU next to the client measured."""

    def encode(self, headers: Any, huffman: bool = True) -> bytes:
        return super().encode(headers, huffman=False)


class _Protocol(asyncio.Protocol):
    def __init__(self, server: ApnsStandIn, number: int) -> None:
        self.server = server
        self.number = number
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, tuple[dict[str, str], bytearray]] = {}
        self.peer_topic: str | None = None
        config = h2.config.H2Configuration(
            client_side=False,
            header_encoding="utf-8",
            validate_outbound_headers=False,  # our own few response headers
            normalize_outbound_headers=False,
        )
        self.h2 = h2.connection.H2Connection(config=config)
        self.h2.encoder = _PlainEncoder()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peercert")
        if peer:
            for rdn in peer.get("subject", ()):
                for name, value in rdn:
                    if name == "userId":
                        self.peer_topic = value
        # The stream limit goes in the first SETTINGS frame, so no client ever sees
        # another one.
        self.h2.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.server.config.max_streams
            },
        )
        self.h2.initiate_connection()
        self._flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self.server.errors.append(repr(exc))
            self._flush()
            if self.transport is not None:
                self.transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                headers = {str(k): str(v) for k, v in event.headers}
                self.streams[event.stream_id] = (headers, bytearray())
            elif isinstance(event, h2.events.DataReceived):
                if event.stream_id in self.streams:
                    self.streams[event.stream_id][1].extend(event.data)
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self._answer(event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                self.streams.pop(event.stream_id, None)
            elif isinstance(event, h2.events.ConnectionTerminated) and self.transport:
                self.transport.close()
        self._flush()

    def _flush(self) -> None:
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _answer(self, stream_id: int) -> None:
        headers, body = self.streams.pop(stream_id)
        status, reason, extra, auth = self.server.decide(headers, bytes(body), self.peer_topic)
        if self.server.config.record:
            self.server.requests.append(
                RecordedRequest(
                    method=headers.get(":method", ""),
                    path=headers.get(":path", ""),
                    headers={k: v for k, v in headers.items() if not k.startswith(":")},
                    body=bytes(body),
                    auth=auth,
                    status=status,
                    reason=reason,
                    connection=self.number,
                )
            )
        delay = self.server.config.delay
        if delay:
            asyncio.get_running_loop().call_later(
                delay, self._send, stream_id, headers, status, reason, extra
            )
        else:
            self._send(stream_id, headers, status, reason, extra)

    def _send(
        self,
        stream_id: int,
        request: dict[str, str],
        status: int,
        reason: str | None,
        extra: Mapping[str, str],
    ) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        apns_id = request.get("apns-id") or str(uuid.uuid4()).upper()
        response = [(":status", str(status)), ("apns-id", apns_id), *extra.items()]
        try:
            if reason is None:
                self.h2.send_headers(stream_id, response, end_stream=True)
            else:
                payload: dict[str, Any] = {"reason": reason}
                if status == 410:
                    payload["timestamp"] = int(time.time() * 1000)
                data = json.dumps(payload).encode()
                response.append(("content-type", "application/json"))
                self.h2.send_headers(stream_id, response)
                self.h2.send_data(stream_id, data, end_stream=True)
        except h2.exceptions.StreamClosedError:
            return
        self._flush()


class ApnsStandIn:
    """The stand-in server; runs its event loop in a background thread."""

    def __init__(self, config: StandInConfig) -> None:
        self.config = config
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []  # HTTP/2 protocol errors, which close the connection
        self.url = ""
        self._connections = 0
        self._open: list[_Protocol] = []
        self._verified: dict[str, tuple[str, float]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None

    # ---------------------------------------------------------------- decisions

    def decide(
        self, headers: Mapping[str, str], body: bytes, peer_topic: str | None
    ) -> tuple[int, str | None, Mapping[str, str], str | None]:
        """(status, reason, extra headers, auth kind) for one request, in APNs' order."""
        if headers.get(":method") != "POST":
            return 405, "MethodNotAllowed", {}, None
        match = _PATH.match(headers.get(":path", ""))
        if not match:
            return 404, "BadPath", {}, None
        device_token = match.group(1)
        topic = headers.get("apns-topic")
        authorization = headers.get("authorization")
        if authorization:
            auth = "token"
            problem = self._check_token(authorization)
            if problem:
                return 403, problem, {}, auth
        elif peer_topic is not None:
            auth = "certificate"
            if topic is not None and topic != peer_topic:
                return 400, "TopicDisallowed", {}, auth
        else:
            return 403, "MissingProviderToken", {}, None
        if not topic:
            return 400, "MissingTopic", {}, auth
        if topic not in self.config.topics:
            return 400, "TopicDisallowed", {}, auth
        push_type = headers.get("apns-push-type")
        if push_type is not None and push_type not in PUSH_TYPES:
            return 400, "InvalidPushType", {}, auth
        if not _TOKEN.match(device_token):
            return 400, "BadDeviceToken", {}, auth
        try:
            payload = json.loads(body)
        except ValueError:
            return 400, "BadPayload", {}, auth
        if payload != {}:
            # Wallet pushes carry an empty dictionary; anything else is our bug.
            return 400, "UnexpectedPayload", {}, auth
        for prefix, rule in self.config.rules.items():
            if device_token.lower().startswith(prefix.lower()):
                return rule.status, rule.reason, rule.headers, auth
        return 200, None, {}, auth

    def _check_token(self, authorization: str) -> str | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return "MissingProviderToken"
        cached = self._verified.get(token)
        if cached is None:
            try:
                header = jwt.get_unverified_header(token)
                team_id, public_key = self.config.token_keys[header.get("kid", "")]
                claims = jwt.decode(
                    token,
                    public_key,
                    algorithms=["ES256"],
                    issuer=team_id,
                    options={"require": ["iss", "iat"]},
                )
            except (KeyError, jwt.PyJWTError):
                return "InvalidProviderToken"
            cached = (team_id, float(claims["iat"]))
            self._verified[token] = cached
        if time.time() - cached[1] > TOKEN_LIFETIME.total_seconds():
            return "ExpiredProviderToken"
        return None

    # ---------------------------------------------------------------- lifecycle

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.config.certificate, self.config.key)
        context.set_alpn_protocols(list(self.config.alpn))
        if self.config.client_ca is not None:
            context.load_verify_locations(self.config.client_ca)
            context.verify_mode = ssl.CERT_OPTIONAL
        return context

    def _protocol(self) -> _Protocol:
        self._connections += 1
        protocol = _Protocol(self, self._connections)
        self._open.append(protocol)
        return protocol

    def goaway(self) -> None:
        """Send GOAWAY on every connection (APNs does so before maintenance), then close."""
        loop = self._loop
        if loop is None:
            return

        def send() -> None:
            for protocol in self._open:
                protocol.h2.close_connection()
                protocol._flush()
                if protocol.transport is not None:
                    loop.call_later(0.2, protocol.transport.close)
            self._open.clear()

        loop.call_soon_threadsafe(send)

    def drop_connections(self) -> None:
        """Close every client connection abruptly, as a network failure would."""
        loop = self._loop
        if loop is None:
            return

        def drop() -> None:
            for protocol in self._open:
                if protocol.transport is not None:
                    protocol.transport.abort()
            self._open.clear()

        loop.call_soon_threadsafe(drop)

    @property
    def connections(self) -> int:
        """How many TLS connections clients opened so far."""
        return self._connections

    async def _start(self, host: str, port: int) -> None:
        self._server = await asyncio.get_running_loop().create_server(
            self._protocol, host, port, ssl=self._ssl_context()
        )
        bound = self._server.sockets[0].getsockname()
        self.url = f"https://{host}:{bound[1]}"

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen in a background thread; return the base URL."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._start(host, port))
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="apns-stand-in", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the APNs stand-in did not start")
        return self.url

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
                # Not awaiting wait_closed: open client connections would hold it.

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> ApnsStandIn:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ------------------------------------------------------------------- certificates


def write_server_certificate(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed TLS certificate for ``host`` (IP SAN); returns (certificate, key).

    Clients trust it by passing the certificate file as their CA bundle."""
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "APNs stand-in")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    certificate_path = folder / "apns-stand-in.pem"
    key_path = folder / "apns-stand-in-key.pem"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_path, key_path


def write_token_key(folder: Path, key_id: str) -> tuple[Path, Any]:
    """An APNs-style ``AuthKey_<kid>.p8`` (EC P-256, PKCS #8); returns (path, public key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    path = folder / f"AuthKey_{key_id}.p8"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path, key.public_key()


def _main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificate", type=Path, required=True)
    parser.add_argument("--key", type=Path, required=True)
    parser.add_argument("--topic", action="append", required=True)
    parser.add_argument(
        "--token-key",
        nargs=3,
        action="append",
        default=[],
        metavar=("KID", "TEAM", "PUBLIC_KEY_PEM"),
    )
    parser.add_argument("--client-ca", type=Path)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    keys: dict[str, tuple[str, Any]] = {}
    for kid, team, pem in args.token_key:
        public = serialization.load_pem_public_key(Path(pem).read_bytes())
        assert not isinstance(public, rsa.RSAPublicKey)
        keys[kid] = (team, public)
    config = StandInConfig(
        certificate=args.certificate,
        key=args.key,
        topics=frozenset(args.topic),
        token_keys=keys,
        client_ca=args.client_ca,
        record=False,
    )
    server = ApnsStandIn(config)
    print(server.start(port=args.port), flush=True)
    try:
        sys.stdin.read()  # run until the parent closes our stdin
    finally:
        server.stop()
        for error in server.errors:
            print(error, file=sys.stderr)


if __name__ == "__main__":
    _main(sys.argv[1:])

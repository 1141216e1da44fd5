"""Tell devices a pass or an order changed: APNs over HTTP/2, one connection, many streams.

Wallet pushes are empty: the payload is ``{}`` and ``apns-topic`` is the pass type (or
order type) identifier; the device then asks our web service what changed. Apple's Wallet
documentation asks for nothing else; ``apns-push-type: background`` is sent because APNs
wants a push type on every request since iOS 13 and this one shows no alert of its own
(the pass's ``changeMessage`` does that once the device has fetched the new pass).

One :class:`ApnsClient` owns one httpx transport holding one HTTP/2 connection, driven by
an event loop in a background thread, so synchronous callers (RQ jobs) and bulk sends share
the connection and multiplex their streams over it. The transport is
:class:`wallet.http2.Http2Transport`: httpx's stock HTTP/2 transport
(``httpx.AsyncHTTPTransport(http2=True)``) works too and can be passed in, but measured
about 850 pushes/s against the local stand-in where this one passes 2,000 (see
``benchmarks/apns_push.py``). Requests are sent straight to the transport: the client
layer of httpx (auth flows, redirects, cookies, hooks) has nothing to do for APNs and cost
a fifth of the CPU per push. Create the client in the process that uses it (after an RQ
fork), and close it when done.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import logging
import os
import ssl
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import certifi
import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from plugin.digits import ascii_int
from wallet.http2 import Http2Transport

log = logging.getLogger(__name__)

PRODUCTION_HOST = "https://api.push.apple.com"
DEVELOPMENT_HOST = "https://api.sandbox.push.apple.com"
# Apple refuses provider tokens older than an hour and throttles ones renewed more often
# than every 20 minutes: renew at 50.
TOKEN_REFRESH_SECONDS = 50 * 60
DEFAULT_CONCURRENCY = 100
_T = TypeVar("_T")

_UNREGISTER_REASONS = frozenset({"BadDeviceToken", "DeviceTokenNotForTopic", "Unregistered"})


class PushResult(StrEnum):
    """What to do with a device after a push."""

    OK = "ok"
    UNREGISTER = "unregister"  # forget this device for this pass or order
    RETRY = "retry"  # try again later (honour retry_after when set)
    FORBIDDEN = "forbidden"  # our credentials are refused: never retry, page someone
    REJECTED = "rejected"  # APNs refused the request itself (our bug); do not retry


@dataclass(frozen=True, slots=True)
class PushOutcome:
    device_token: str
    result: PushResult
    status: int | None = None
    reason: str | None = None
    retry_after: float | None = None  # seconds, from Retry-After
    apns_id: str | None = None


@dataclass(frozen=True, slots=True)
class TokenAuth:
    """Provider-token authentication: an APNs key (.p8, EC P-256), its id and the team."""

    team_id: str
    key_id: str
    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def from_p8(cls, path: str | os.PathLike[str], *, team_id: str, key_id: str) -> TokenAuth:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{path} is not an EC private key (APNs .p8 keys are P-256)")
        return cls(team_id=team_id, key_id=key_id, private_key=key)

    def make_token(self, issued_at: int) -> str:
        """An ES256 JWT: header ``{alg, kid}``, claims ``{iss, iat}``."""
        header = {"alg": "ES256", "kid": self.key_id}
        claims = {"iss": self.team_id, "iat": issued_at}
        signing_input = b".".join(
            _b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        der = self.private_key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        # JWS wants the raw 64-byte r||s, not the DER structure OpenSSL returns.
        return (signing_input + b"." + _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))).decode()


@dataclass(frozen=True, slots=True)
class CertificateAuth:
    """Certificate authentication: the Pass Type ID certificate and key as TLS client."""

    certificate: str | os.PathLike[str]
    private_key: str | os.PathLike[str]
    password: str | None = None


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


@dataclass
class _TokenCache:
    auth: TokenAuth
    clock: Callable[[], float] = time.time
    token: str = ""
    issued_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def current(self) -> str:
        now = self.clock()
        if now - self.issued_at >= TOKEN_REFRESH_SECONDS or not self.token:
            with self.lock:
                if now - self.issued_at >= TOKEN_REFRESH_SECONDS or not self.token:
                    self.token = self.auth.make_token(int(now))
                    self.issued_at = now
        return self.token


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    seconds = ascii_int(value.strip())
    if seconds is not None:
        return float(seconds)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def classify(device_token: str, response: httpx.Response) -> PushOutcome:
    """Turn an APNs answer into an outcome (see :class:`PushResult`)."""
    status = response.status_code
    reason: str | None = None
    if status != 200 and response.content:
        try:
            reason = json.loads(response.content).get("reason")
        except (ValueError, AttributeError):
            reason = None
    apns_id = response.headers.get("apns-id")
    retry_after = _retry_after(response.headers.get("retry-after"))
    if status == 200:
        result = PushResult.OK
    elif status == 410 or (status == 400 and reason in _UNREGISTER_REASONS):
        result = PushResult.UNREGISTER
    elif status == 429 or status >= 500:
        result = PushResult.RETRY
    elif status == 403:
        result = PushResult.FORBIDDEN
        # Bad or expired provider token, wrong certificate: every push will fail alike.
        log.error("APNs refused our credentials (%s): pushes stop until fixed", reason)
    else:
        result = PushResult.REJECTED
        log.warning("APNs rejected a push: %s %s", status, reason)
    return PushOutcome(device_token, result, status, reason, retry_after, apns_id)


class ApnsClient:
    """Push Wallet updates to devices over one HTTP/2 connection.

    ``host`` is the APNs base URL (``APNS_HOST``; a local stand-in in tests); ``verify``
    is ``True`` (public CAs), ``False``, or the path of a CA bundle. ``timeout`` bounds
    every call (connect, write, read and waiting for a stream). ``concurrency`` is how
    many requests may be in flight at once (APNs accepts about 1000 streams per
    connection). ``transport`` builds the httpx transport from the TLS context (default
    :class:`~wallet.http2.Http2Transport`; see :func:`httpx_http2_transport`); ``clock``
    dates provider tokens (tests move it)."""

    def __init__(
        self,
        auth: TokenAuth | CertificateAuth,
        *,
        host: str = PRODUCTION_HOST,
        verify: bool | str | os.PathLike[str] = True,
        timeout: float = 10.0,
        concurrency: int = DEFAULT_CONCURRENCY,
        push_type: str = "background",
        priority: int | None = None,
        transport: Callable[[ssl.SSLContext], httpx.AsyncBaseTransport] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.host = host.rstrip("/")
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
        self._tokens = _TokenCache(auth, clock) if isinstance(auth, TokenAuth) else None
        self._headers = {"apns-push-type": push_type}
        if priority is not None:
            self._headers["apns-priority"] = str(priority)
        self._timeouts = httpx.Timeout(timeout).as_dict()
        context = _ssl_context(verify, auth if isinstance(auth, CertificateAuth) else None)
        make_transport = transport or (lambda context: Http2Transport(ssl_context=context))
        self._transport = make_transport(context)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="apns", daemon=True)
        self._thread.start()
        self._closed = False

    def _run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    # ------------------------------------------------------------------ pushes

    def push(self, device_token: str, topic: str) -> PushOutcome:
        """Push one device; never raises for network trouble (that is ``RETRY``)."""
        return self._run(self._push(device_token, topic))

    def push_many(self, device_tokens: Iterable[str], topic: str) -> list[PushOutcome]:
        """Push every device concurrently over the one connection; outcomes in order."""
        return self._run(self._push_many(list(device_tokens), topic))

    async def _push_many(self, device_tokens: list[str], topic: str) -> list[PushOutcome]:
        # A fixed crew of ``concurrency`` workers sharing one queue of tokens: cheaper than
        # a task and a semaphore per device when there are thousands.
        outcomes: list[PushOutcome | None] = [None] * len(device_tokens)
        queue = iter(enumerate(device_tokens))

        async def worker() -> None:
            for index, token in queue:
                outcomes[index] = await self._push(token, topic)

        await asyncio.gather(*(worker() for _ in range(min(self.concurrency, len(outcomes)))))
        return [outcome for outcome in outcomes if outcome is not None]

    async def _push(self, device_token: str, topic: str) -> PushOutcome:
        headers = {"apns-topic": topic, **self._headers}
        if self._tokens is not None:
            headers["authorization"] = f"bearer {self._tokens.current()}"
        request = httpx.Request(
            "POST",
            f"{self.host}/3/device/{device_token}",
            content=b"{}",
            headers=headers,
            extensions={"timeout": self._timeouts},
        )
        try:
            response = await self._transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
        except httpx.TimeoutException:
            return PushOutcome(device_token, PushResult.RETRY, reason="Timeout")
        except httpx.TransportError as exc:
            # Connection refused or reset, GOAWAY: transient by nature.
            return PushOutcome(device_token, PushResult.RETRY, reason=type(exc).__name__)
        return classify(device_token, response)

    # --------------------------------------------------------------- lifecycle

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._run(self._transport.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(self.timeout)
        self._loop.close()

    def __enter__(self) -> ApnsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def httpx_http2_transport(context: ssl.SSLContext) -> httpx.AsyncBaseTransport:
    """httpx's own HTTP/2 transport on one connection, for ``ApnsClient(transport=...)``:
    no code of ours on the wire, at about 850 pushes/s instead of 2,000."""
    return httpx.AsyncHTTPTransport(
        http1=False,  # APNs speaks HTTP/2 only: fail rather than downgrade
        http2=True,
        verify=context,
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
    )


def _ssl_context(
    verify: bool | str | os.PathLike[str], certificate: CertificateAuth | None
) -> ssl.SSLContext:
    if verify is False:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        cafile = certifi.where() if verify is True else os.fspath(verify)
        context = ssl.create_default_context(cafile=cafile)
    if certificate is not None:
        context.load_cert_chain(
            os.fspath(certificate.certificate),
            os.fspath(certificate.private_key),
            password=certificate.password,
        )
    return context

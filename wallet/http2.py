"""A small HTTP/2 transport for httpx, made for many tiny requests on one connection.

httpx's own HTTP/2 transport (httpcore) writes each request in three socket writes
(HEADERS, DATA, END_STREAM) through a Python TLS layer; against the local APNs stand-in
that caps a client near 850 pushes per second, a third of it in system calls. This
transport keeps one TLS connection (asyncio's), lets ``h2`` hold the frames of every stream
opened during an event-loop turn, and writes them all at once at the end of the turn.

Scope, deliberately narrow: HTTPS only, ALPN ``h2`` required, request bodies given as
bytes (APNs payloads; no streaming uploads), responses read whole. It honours the server's
concurrent-stream limit, flow control, GOAWAY (requests not yet sent move to a new
connection) and the timeouts httpx passes in ``request.extensions["timeout"]``. Errors
surface as httpx's own exceptions (``ConnectError``, ``ConnectTimeout``, ``PoolTimeout``,
``ReadTimeout``, ``RemoteProtocolError``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import hpack
import httpx

# Headers HTTP/2 forbids, or that httpx adds for HTTP/1.1 only.
_SKIPPED = frozenset({b"host", b"connection", b"keep-alive", b"transfer-encoding", b"upgrade"})
_SENSITIVE = frozenset({b"authorization", b"proxy-authorization"})

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


class _PlainEncoder(hpack.Encoder):
    """HPACK without Huffman coding: pure-Python Huffman costs more CPU per request than
    the few dozen bytes it saves on a device token and a provider token."""

    def encode(self, headers: Any, huffman: bool = True) -> bytes:
        return super().encode(headers, huffman=False)


@dataclass
class _Stream:
    future: asyncio.Future[Answer]
    pending: bytes = b""  # body bytes still waiting for flow-control window
    timer: asyncio.TimerHandle | None = None
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)


class _Connection(asyncio.Protocol):
    """One HTTP/2 connection; every method runs on the event loop's thread."""

    def __init__(self) -> None:
        # Headers are built (lower-case, no connection headers) by Http2Transport, so h2
        # need not re-check them on every request.
        config = h2.config.H2Configuration(
            client_side=True,
            header_encoding=None,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
        )
        self.h2 = h2.connection.H2Connection(config=config)
        self.h2.encoder = _PlainEncoder()
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, _Stream] = {}
        self.error: Exception | None = None  # set once the connection takes no new stream
        self.waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self.flush_scheduled = False
        self.ready: asyncio.Future[None] = self.loop.create_future()

    # ---------------------------------------------------------- asyncio side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None or ssl_object.selected_alpn_protocol() != "h2":
            self._fail(httpx.ConnectError("the server did not agree to HTTP/2 (ALPN)"))
            transport.close()
            return
        self.h2.initiate_connection()
        self._flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._fail(httpx.RemoteProtocolError(f"HTTP/2 protocol error: {exc}"))
            self._flush()
            if self.transport is not None:
                self.transport.close()
            return
        for event in events:
            self._handle(event)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(httpx.RemoteProtocolError(f"connection closed: {exc or 'by the server'}"))

    # ------------------------------------------------------------- h2 events

    def _handle(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.ResponseReceived):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                for name, value in event.headers:
                    if name == b":status":
                        stream.status = int(value)
                    elif not name.startswith(b":"):
                        stream.headers.append((name, value))
        elif isinstance(event, h2.events.DataReceived):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream.body.extend(event.data)
            self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            self._finish(event.stream_id, None)
        elif isinstance(event, h2.events.StreamReset):
            error = httpx.RemoteProtocolError(f"stream reset by the server ({event.error_code!r})")
            self._finish(event.stream_id, error)
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            if not self.ready.done():
                self.ready.set_result(None)
            self._wake(all_waiters=True)
        elif isinstance(event, h2.events.WindowUpdated):
            for stream_id, stream in list(self.streams.items()):
                if stream.pending:
                    self._send_body(stream_id, stream)
        elif isinstance(event, h2.events.ConnectionTerminated):
            # GOAWAY: streams above last_stream_id were never processed, so they can be
            # retried; the ones below still get their answers on this connection.
            self.error = httpx.RemoteProtocolError(f"GOAWAY ({event.error_code!r})")
            last = event.last_stream_id or 0
            for stream_id in [s for s in self.streams if s > last]:
                self._finish(stream_id, self.error)
            self._wake(all_waiters=True)
            self._close_if_idle()

    def _finish(self, stream_id: int, error: Exception | None) -> None:
        stream = self.streams.pop(stream_id, None)
        if stream is None:
            return
        if stream.timer is not None:
            stream.timer.cancel()
        if not stream.future.done():
            if error is None:
                stream.future.set_result((stream.status, stream.headers, bytes(stream.body)))
            else:
                stream.future.set_exception(error)
        self._wake()
        self._close_if_idle()

    def _fail(self, error: Exception) -> None:
        self.error = self.error or error
        if not self.ready.done():
            self.ready.set_exception(error)
            self.ready.exception()  # marked as retrieved: the connect may have given up
        for stream_id in list(self.streams):
            self._finish(stream_id, error)
        self._wake(all_waiters=True)

    def _wake(self, *, all_waiters: bool = False) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                if not all_waiters:
                    return

    def _close_if_idle(self) -> None:
        if self.error is not None and not self.streams and self.transport is not None:
            self.transport.close()

    # --------------------------------------------------------------- sending

    def try_open(
        self, headers: Iterable[tuple[bytes, bytes]], body: bytes, read_timeout: float | None
    ) -> asyncio.Future[Answer] | None:
        """Start a request and return its future, or ``None`` while every stream the
        server allows is in use (wait on :attr:`waiters`, then try again)."""
        if self.error is not None:
            raise self.error
        # Our own count: h2's open_outbound_streams walks every stream on each call.
        if len(self.streams) >= self.h2.remote_settings.max_concurrent_streams:
            return None
        try:
            stream_id = self.h2.get_next_available_stream_id()
            stream = _Stream(self.loop.create_future(), pending=body)
            self.streams[stream_id] = stream
            self.h2.send_headers(stream_id, list(headers), end_stream=not body)
            if body:
                self._send_body(stream_id, stream)
        except h2.exceptions.ProtocolError as exc:
            # Stream ids exhausted, a GOAWAY h2 saw first, a lowered stream limit: this
            # connection takes no more, the next request opens a new one.
            error = httpx.RemoteProtocolError(f"cannot open a stream: {exc!r}")
            self._fail(error)
            raise error from exc
        if read_timeout is not None:
            stream.timer = self.loop.call_later(read_timeout, self._timed_out, stream_id)
        if not self.flush_scheduled:
            # One write per event-loop turn carries every stream opened during the turn.
            self.flush_scheduled = True
            self.loop.call_soon(self._flush)
        return stream.future

    def _send_body(self, stream_id: int, stream: _Stream) -> None:
        """Send as much of the body as flow control allows; the rest waits for a
        WINDOW_UPDATE."""
        while stream.pending:
            window = min(
                self.h2.local_flow_control_window(stream_id), self.h2.max_outbound_frame_size
            )
            if window <= 0:
                return
            chunk, stream.pending = stream.pending[:window], stream.pending[window:]
            self.h2.send_data(stream_id, chunk, end_stream=not stream.pending)

    def _timed_out(self, stream_id: int) -> None:
        if stream_id in self.streams:
            with contextlib.suppress(h2.exceptions.StreamClosedError):
                self.h2.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
            self._finish(stream_id, httpx.ReadTimeout("no answer from the server in time"))
            self._flush()

    def _flush(self) -> None:
        self.flush_scheduled = False
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        self._fail(httpx.RemoteProtocolError("connection closed by the client"))
        if self.transport is not None and not self.transport.is_closing():
            self.h2.close_connection()
            self._flush()
            self.transport.close()


class Http2Transport(httpx.AsyncBaseTransport):
    """An httpx transport holding one HTTP/2 connection, reopened when lost."""

    def __init__(self, *, ssl_context: ssl.SSLContext) -> None:
        ssl_context.set_alpn_protocols(["h2"])
        self._ssl_context = ssl_context
        self._connection: _Connection | None = None
        self._connecting: asyncio.Lock | None = None
        self.connections_opened = 0

    async def _connect(self, url: httpx.URL, timeout: float | None) -> _Connection:
        current = self._connection
        if current is not None and current.error is None:
            return current
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            current = self._connection
            if current is not None and current.error is None:
                return current
            host, port = url.host, url.port or 443
            loop = asyncio.get_running_loop()
            try:
                async with asyncio.timeout(timeout):
                    _, connection = await loop.create_connection(
                        _Connection, host, port, ssl=self._ssl_context, server_hostname=host
                    )
                    # The server's SETTINGS carry its stream limit: wait for them.
                    await connection.ready
            except TimeoutError as exc:
                raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from exc
            except (OSError, ssl.SSLError) as exc:
                raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
            self._connection = connection
            self.connections_opened += 1
            return connection

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "https":
            raise httpx.UnsupportedProtocol("this transport speaks HTTP/2 over TLS only")
        timeouts = request.extensions.get("timeout", {})
        body = await request.aread()
        headers: list[tuple[bytes, bytes]] = [
            (b":method", request.method.encode()),
            (b":scheme", b"https"),
            (b":authority", request.url.netloc),
            (b":path", request.url.raw_path),
        ]
        for name, value in request.headers.raw:
            name = name.lower()
            if name in _SENSITIVE:
                # Kept out of HPACK's tables, as h2 would do (we skip its normalisation).
                headers.append(hpack.NeverIndexedHeaderTuple(name, value))
            elif name not in _SKIPPED:
                headers.append((name, value))
        for attempt in range(2):
            connection = await self._connect(request.url, timeouts.get("connect"))
            try:
                future = await self._open(connection, headers, body, timeouts)
                break
            except httpx.RemoteProtocolError:
                # Nothing was sent (a GOAWAY or a lost connection came first): one more
                # try on a fresh connection.
                if attempt:
                    raise
        status, response_headers, content = await future
        return httpx.Response(
            status,
            headers=response_headers,
            content=content,
            request=request,
            extensions={"http_version": b"HTTP/2"},
        )

    async def _open(
        self,
        connection: _Connection,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        timeouts: dict[str, float | None],
    ) -> asyncio.Future[Answer]:
        future = connection.try_open(headers, body, timeouts.get("read"))
        while future is None:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            connection.waiters.append(waiter)
            try:
                async with asyncio.timeout(timeouts.get("pool")):
                    await waiter
            except TimeoutError as exc:
                raise httpx.PoolTimeout("no HTTP/2 stream became free in time") from exc
            future = connection.try_open(headers, body, timeouts.get("read"))
        return future

    async def aclose(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

"""A threaded local HTTP server that records requests and answers as a test scripts it.

The SendGrid and Twilio stand-ins build on it: each decides what a well-formed request gets,
and a test can queue special answers (400, 429 with Retry-After, 500, a slow answer) that
the next requests receive in turn.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Answer:
    """One scripted answer. ``delay`` holds the request open that long before answering
    (the request is recorded, and the provider has "accepted" it, before the wait)."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    received_at: float  # time.time()

    def json(self) -> Any:
        return json.loads(self.body)


# (recorded request) -> the answer a real provider would give to it
Responder = Callable[[RecordedRequest], Answer]


class RecordingServer:
    """Serve ``responder`` on 127.0.0.1 in a background thread; use as a context manager."""

    def __init__(self, responder: Responder, *, port: int = 0) -> None:
        self.responder = responder
        self.requests: list[RecordedRequest] = []
        self._script: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet tests
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = RecordedRequest(
                    method=self.command,
                    path=self.path,
                    headers={k: v for k, v in self.headers.items()},
                    body=body,
                    received_at=time.time(),
                )
                answer = server._answer_for(request)
                if answer.delay:
                    time.sleep(answer.delay)
                payload = b""
                if answer.body is not None:
                    payload = (
                        answer.body
                        if isinstance(answer.body, bytes)
                        else json.dumps(answer.body).encode()
                    )
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    if payload and "Content-Type" not in answer.headers:
                        self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if payload:
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout, or its process was killed)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> RecordingServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> RecordingServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(self, *answers: Answer) -> None:
        """The next requests get these answers, in order, instead of the normal one."""
        with self._lock:
            self._script.extend(answers)

    def _answer_for(self, request: RecordedRequest) -> Answer:
        with self._lock:
            self.requests.append(request)
            scripted = self._script.popleft() if self._script else None
            self._arrived.notify_all()
        if scripted is not None and not 200 <= scripted.status < 300:
            return scripted  # an error answer: the provider did not take the request
        normal = self.responder(request)
        if scripted is None or not 200 <= normal.status < 300:
            return normal
        # A scripted success still carries the normal body (ids the client needs).
        if 200 <= scripted.status < 300 and scripted.body is None:
            return Answer(
                scripted.status, normal.body, {**normal.headers, **scripted.headers}, scripted.delay
            )
        return scripted

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Block until ``count`` requests have arrived (True) or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._arrived.wait(left)
        return True

    def posts(self, path_contains: str = "") -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == "POST" and path_contains in r.path]

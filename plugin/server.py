"""``relais serve``: gunicorn in front of the app factory."""

from __future__ import annotations

import os
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from plugin import redis_conn
from plugin.config import Config


class RelaisServer(BaseApplication):
    """gunicorn, configured in code so that ``relais serve`` needs no config file."""

    def __init__(self, config: Config, options: dict[str, Any]) -> None:
        self.relais_config = config
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from plugin import create_app

        return create_app(self.relais_config)


class BalancedThreadWorker(ThreadWorker):
    """gunicorn's threaded worker, taking a new connection only while one of its threads is
    free.

    The processes share one listening socket, and gunicorn's threaded worker accepts as long
    as it holds fewer than ``worker_connections`` (1,000) connections. A burst of connections
    can then land on one process while the other idles (15 of 16 in the intake benchmark):
    that process answers at the pace of one core, and the kept-alive connections stay on it.
    Here a process whose threads all have a connection in hand leaves new ones to the other
    processes. Kept-alive and slow-to-speak connections (parked on the poller) do not count,
    so idle clients never stop a process from accepting.
    """

    _connection_limit: int

    @property
    def worker_connections(self) -> int:
        # gunicorn's event loop accepts while ``nr_conns < worker_connections``.
        # ``pending_conns`` (clients yet to send a request) is missing from older gunicorns.
        parked = len(self.keepalived_conns) + len(getattr(self, "pending_conns", ()))
        in_hand = self.nr_conns - parked
        if in_hand >= self.cfg.threads:
            return int(self.nr_conns)
        return self._connection_limit

    @worker_connections.setter
    def worker_connections(self, value: int) -> None:
        self._connection_limit = value


# Threaded workers: a process keeps several requests in flight, keeps connections alive,
# and lets concurrent webhooks share one commit (plugin.group_commit).
WORKER_CLASS = "plugin.server.BalancedThreadWorker"
WEB_THREADS = 8


def serve_forever(config: Config, *, host: str, workers: int, threads: int | None = None) -> None:
    """Start gunicorn on ``config.port``; an embedded Redis is started first and shared."""
    if not config.redis_url:
        url = redis_conn.start_embedded_redis(config.instance_path)
        os.environ["REDIS_URL"] = url
        config = config.with_overrides(redis_url=url)
    RelaisServer(
        config,
        {
            "bind": f"{host}:{config.port}",
            "workers": workers,
            "worker_class": WORKER_CLASS,
            "threads": threads or WEB_THREADS,
            "timeout": 30,
            "graceful_timeout": 10,
            "accesslog": "-",
            "access_log_format": '%(h)s "%(r)s" %(s)s %(b)s %(M)sms',
        },
    ).run()

"""``relais serve``: gunicorn in front of the app factory."""

from __future__ import annotations

import os
from typing import Any

from gunicorn.app.base import BaseApplication

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


# Threaded workers: a process keeps several requests in flight, keeps connections alive,
# and lets concurrent webhooks share one commit (plugin.group_commit).
WORKER_CLASS = "gthread"
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

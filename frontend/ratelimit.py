"""Fixed-window request counters on Redis, per client IP and per shop.

A small counter rather than flask-limiter: it shares the runtime's Redis connection (and its
short timeouts, and the embedded server's unix socket) and is called after the app proxy
signature is checked, so the shop in the key is one Shopify vouched for.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    """At most ``count`` hits per ``seconds`` for one key."""

    scope: str
    count: int
    seconds: int


# An order lookup is a guess at (number, email): few per visitor, more per shop.
LOOKUP_PER_IP = Limit("lookup-ip", 10, 60)
LOOKUP_PER_SHOP = Limit("lookup-shop", 600, 60)
# Pages and ratings: generous, only to blunt scraping and floods.
PAGE_PER_IP = Limit("page-ip", 120, 60)
PAGE_PER_SHOP = Limit("page-shop", 6000, 60)


def hit(redis: Redis, limit: Limit, key: str, *, now: float | None = None) -> bool:
    """Count one request; False once ``key`` went over ``limit`` in the current window."""
    return allow(redis, (limit, key), now=now)


def allow(redis: Redis, *pairs: tuple[Limit, str], now: float | None = None) -> bool:
    """Count the request under every (limit, key) pair, in one round trip; False if any is
    exceeded (every counter still counts, so each window stays accurate).

    When Redis cannot be reached the request is let through (and logged): the tracking page
    staying up matters more than the limit during an outage.
    """
    moment = now if now is not None else time.time()
    try:
        pipe = redis.pipeline(transaction=False)
        for limit, key in pairs:
            window = int(moment // limit.seconds)
            redis_key = f"relais:ratelimit:{limit.scope}:{key}:{window}"
            pipe.incr(redis_key)
            pipe.expire(redis_key, limit.seconds + 5)
        replies = pipe.execute()
    except RedisError as exc:
        log.warning("rate limit unavailable error=%s", type(exc).__name__)
        return True
    counts = replies[0::2]
    return all(
        int(count) <= limit.count for count, (limit, _key) in zip(counts, pairs, strict=True)
    )

"""The fixed-window counters behind the storefront's rate limits."""

from __future__ import annotations

from redis import Redis

from frontend.ratelimit import Limit, allow, hit

LIMIT = Limit("test", 3, 60)


def test_a_key_is_refused_past_its_limit_until_the_next_window(redis):
    assert [hit(redis, LIMIT, "k", now=1000) for _ in range(4)] == [True, True, True, False]
    assert hit(redis, LIMIT, "other", now=1000)
    assert hit(redis, LIMIT, "k", now=1060)  # a new minute
    assert 0 < redis.ttl("relais:ratelimit:test:k:16") <= 65


def test_every_limit_counts_even_when_one_refuses(redis):
    small, large = Limit("small", 1, 60), Limit("large", 10, 60)
    assert allow(redis, (small, "ip"), (large, "shop"))
    assert not allow(redis, (small, "ip"), (large, "shop"))
    assert redis.get(next(iter(redis.scan_iter("relais:ratelimit:large:shop:*")))) == b"2"


def test_without_redis_the_page_stays_up():
    unreachable = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    assert hit(unreachable, LIMIT, "k")

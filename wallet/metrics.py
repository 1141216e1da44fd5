"""Push outcomes counted in Redis, so every worker adds to the figures ``/metrics`` shows."""

from __future__ import annotations

from collections.abc import Mapping

from redis import Redis

PUSHES_KEY = "relais:metrics:wallet_pushes"  # field "kind|outcome"


def count_pushes(redis: Redis, kind: str, outcomes: Mapping[str, int]) -> None:
    """Add pushes by outcome (ok, unregister, retry, forbidden, rejected, gave_up)."""
    if not outcomes:
        return
    pipeline = redis.pipeline(transaction=False)
    for outcome, count in outcomes.items():
        pipeline.hincrby(PUSHES_KEY, f"{kind}|{outcome}", count)
    pipeline.execute()

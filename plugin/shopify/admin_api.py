"""The one client of Shopify's GraphQL Admin API, on ``shopify_app.admin_graphql_request``.

Rules it keeps, so callers don't have to:

* one API version, :data:`API_VERSION` (the webhooks of ``shopify.app.toml`` use it too);
* the cost extension (``extensions.cost.throttleStatus``) of every answer is kept in Redis
  per shop, shared by every process, and a query waits *before* it would be throttled;
* a throttled answer, a 429, a 5xx or a network error is retried with backoff, at most
  :attr:`RetryPolicy.max_attempts` times in all; a query Shopify rejects (syntax, unknown
  field, missing scope) is never retried.

The package's own retries are switched off (``max_retries=0``): it sleeps between them
without reading the cost, and this client must count attempts itself to keep its cap.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from redis import Redis
from redis.exceptions import RedisError
from shopify_app import ShopifyApp
from shopify_app.types import GQLResult

from plugin.errors import RelaisError

log = logging.getLogger(__name__)

# The Admin API version of every query and webhook (keep shopify.app.toml in step).
API_VERSION = "2026-07"

# When Shopify has not told us a query's cost yet, assume this much (points).
DEFAULT_EXPECTED_COST = 50


class AdminApiError(RelaisError):
    """The Admin API did not give an answer to use."""


class QueryRejected(AdminApiError):
    """Shopify refused the query itself (syntax, unknown field, too costly): never retried."""


class AccessDenied(AdminApiError):
    """The token is invalid or revoked (401) or lacks a scope (403): retrying cannot help."""

    def __init__(self, message: str, *, revoked: bool) -> None:
        super().__init__(message)
        self.revoked = revoked


class AdminUnavailable(AdminApiError):
    """Shopify is throttling or failing (5xx, network) beyond the retry cap: try later."""


class TokenSource(Protocol):
    """Where the client gets a shop's current access token, and reports a revoked one."""

    def access_token(self, shop_domain: str) -> str:
        """A token valid for at least the next minute (refreshed if needed)."""
        ...

    def discard(self, shop_domain: str) -> None:
        """Forget a token Shopify no longer accepts."""
        ...


@dataclass(frozen=True)
class ThrottleStatus:
    """Shopify's leaky bucket for one app and shop, as last reported."""

    maximum_available: float
    currently_available: float
    restore_rate: float
    observed_at: float

    def available_at(self, now: float) -> float:
        """Points available at ``now``: the bucket refills at ``restore_rate`` per second."""
        refilled = self.currently_available + max(0.0, now - self.observed_at) * self.restore_rate
        return min(self.maximum_available, refilled)

    def seconds_until(self, cost: float, now: float) -> float:
        """How long to wait until ``cost`` points are available (0 when they already are)."""
        missing = cost - self.available_at(now)
        if missing <= 0:
            return 0.0
        if self.restore_rate <= 0:
            return float("inf")
        return missing / self.restore_rate


class ThrottleBook:
    """The last throttle status of each shop, in Redis so that every worker sees it."""

    def __init__(self, redis: Redis, *, ttl_seconds: int = 600) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds

    @staticmethod
    def key(shop_domain: str) -> str:
        return f"relais:shopify:throttle:{shop_domain}"

    def read(self, shop_domain: str) -> ThrottleStatus | None:
        try:
            raw = self.redis.get(self.key(shop_domain))
        except RedisError:
            return None  # no shared knowledge: Shopify will still tell us when we are throttled
        if not raw:
            return None
        try:
            values = json.loads(raw)
            return ThrottleStatus(**values)
        except (ValueError, TypeError):
            return None

    def write(self, shop_domain: str, status: ThrottleStatus) -> None:
        try:
            self.redis.set(self.key(shop_domain), json.dumps(status.__dict__), ex=self.ttl_seconds)
        except RedisError as exc:
            log.warning("throttle status not shared: %s", type(exc).__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How many requests one query may take in all, and how long to wait between them."""

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    # Never wait longer than this at once for the bucket; beyond it, give up and retry later.
    max_wait: float = 30.0

    def backoff(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))


@dataclass(frozen=True)
class QueryCost:
    requested: float | None
    actual: float | None
    throttle: ThrottleStatus | None


class AdminApi:
    """Runs GraphQL documents against any installed shop, with the token of that shop."""

    def __init__(
        self,
        shopify: ShopifyApp,
        tokens: TokenSource,
        *,
        http_client: httpx.Client,
        throttle: ThrottleBook,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.shopify = shopify
        self.tokens = tokens
        self.http_client = http_client
        self.throttle = throttle
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.clock = clock
        # The last requested cost of each document, to know how much room the next one needs.
        self._known_costs: dict[str, float] = {}

    def query(
        self,
        shop_domain: str,
        document: str,
        variables: Mapping[str, Any] | None = None,
        *,
        expected_cost: float | None = None,
    ) -> dict[str, Any]:
        """The ``data`` of ``document`` run for ``shop_domain`` (``x.myshopify.com``).

        Raises :class:`QueryRejected`, :class:`AccessDenied` or :class:`AdminUnavailable`.
        """
        shop_name = shop_domain.removesuffix(".myshopify.com")
        doc_key = hashlib.sha1(document.encode(), usedforsecurity=False).hexdigest()
        cost = expected_cost or self._known_costs.get(doc_key) or DEFAULT_EXPECTED_COST
        last_problem = "no attempt made"
        for attempt in range(1, self.policy.max_attempts + 1):
            self._wait_for_room(shop_domain, cost)
            result = self.shopify.admin_graphql_request(
                document,
                shop=shop_name,
                access_token=self.tokens.access_token(shop_domain),
                api_version=API_VERSION,
                variables=dict(variables) if variables else None,
                invalid_token_response=None,  # background use: no request to retry
                max_retries=0,
                http_client=self.http_client,
            )
            code = result.log.code
            if result.ok:
                spent = self._note_cost(shop_domain, doc_key, result.extensions)
                log.debug("admin api %s ok cost=%s", shop_domain, spent.actual)
                return dict(result.data or {})
            if code == "graphql_errors":
                body = _json_body(result)
                self._note_cost(shop_domain, doc_key, body.get("extensions"))
                errors = body.get("errors") or []
                if not _is_throttled(errors):
                    raise QueryRejected(_describe_errors(errors))
                spent = read_cost(body.get("extensions"), observed_at=self.clock())
                cost = spent.requested or cost
                if spent.throttle and cost > spent.throttle.maximum_available:
                    raise QueryRejected(
                        f"query costs {cost:.0f} points, more than the shop's bucket "
                        f"({spent.throttle.maximum_available:.0f}): split it"
                    )
                last_problem = "throttled"
                if attempt < self.policy.max_attempts:
                    wait = (
                        spent.throttle.seconds_until(cost, self.clock())
                        if spent.throttle
                        else self.policy.backoff(attempt)
                    )
                    if wait > self.policy.max_wait:
                        break
                    self._pause(wait)
                continue
            if code == "unauthorized":
                self.tokens.discard(shop_domain)
                raise AccessDenied("access token invalid or revoked", revoked=True)
            if code == "http_error_403":
                raise AccessDenied("access token lacks a scope this query needs", revoked=False)
            if code == "rate_limited":
                last_problem = "HTTP 429"
                self._pause(_retry_after(result) or self.policy.backoff(attempt))
                continue
            if code == "network_error" or _is_server_error(code):
                last_problem = code
                if attempt < self.policy.max_attempts:
                    self._pause(self.policy.backoff(attempt))
                continue
            # 400 and any other client error: the request itself is wrong.
            raise QueryRejected(f"Shopify refused the request ({code})")
        raise AdminUnavailable(
            f"Admin API unavailable for {shop_domain} after {self.policy.max_attempts} "
            f"attempts ({last_problem})"
        )

    def _wait_for_room(self, shop_domain: str, cost: float) -> None:
        status = self.throttle.read(shop_domain)
        if status is None:
            return
        wait = status.seconds_until(cost, self.clock())
        if wait <= 0:
            return
        if wait > self.policy.max_wait:
            raise AdminUnavailable(
                f"Admin API bucket of {shop_domain} needs {wait:.0f}s to refill; retry later"
            )
        log.info("admin api %s: waiting %.2fs for %s points", shop_domain, wait, cost)
        self._pause(wait)

    def _pause(self, seconds: float) -> None:
        self.sleep(min(seconds, self.policy.max_wait))

    def _note_cost(
        self, shop_domain: str, doc_key: str, extensions: Mapping[str, Any] | None
    ) -> QueryCost:
        cost = read_cost(extensions, observed_at=self.clock())
        if cost.requested:
            self._known_costs[doc_key] = cost.requested
        if cost.throttle is not None:
            self.throttle.write(shop_domain, cost.throttle)
        return cost


def read_cost(extensions: Mapping[str, Any] | None, *, observed_at: float) -> QueryCost:
    """The ``cost`` extension of an answer (any part may be missing)."""
    raw = (extensions or {}).get("cost") or {}
    status = raw.get("throttleStatus") or {}
    throttle = None
    try:
        if status:
            throttle = ThrottleStatus(
                maximum_available=float(status["maximumAvailable"]),
                currently_available=float(status["currentlyAvailable"]),
                restore_rate=float(status["restoreRate"]),
                observed_at=observed_at,
            )
    except (KeyError, TypeError, ValueError):
        throttle = None
    return QueryCost(
        requested=_number(raw.get("requestedQueryCost")),
        actual=_number(raw.get("actualQueryCost")),
        throttle=throttle,
    )


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _json_body(result: GQLResult) -> dict[str, Any]:
    try:
        body = json.loads(result.response.body or "{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _is_throttled(errors: list[Any]) -> bool:
    for error in errors:
        if not isinstance(error, dict):
            continue
        code = (error.get("extensions") or {}).get("code")
        if code == "THROTTLED" or error.get("message") == "Throttled":
            return True
    return False


def _describe_errors(errors: list[Any]) -> str:
    messages = [str(e.get("message")) for e in errors if isinstance(e, dict) and e.get("message")]
    return "; ".join(messages)[:500] or "GraphQL errors"


def _is_server_error(code: str) -> bool:
    return code.startswith("http_error_5")


def _retry_after(result: GQLResult) -> float | None:
    # The package's own 429 result carries no headers; the logged response has Shopify's.
    for http_log in reversed(result.http_logs or []):
        headers = {k.lower(): v for k, v in (http_log.res.headers or {}).items()}
        value = headers.get("retry-after")
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None

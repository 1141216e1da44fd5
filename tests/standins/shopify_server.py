"""A stand-in for Shopify on 127.0.0.1: the token endpoint and the GraphQL Admin API.

It answers with the shapes Shopify documents: token exchange and refresh
(``/admin/oauth/access_token``: access_token, scope, expires_in, refresh_token,
refresh_token_expires_in; errors ``invalid_subject_token``, ``invalid_client``,
``invalid_grant``), GraphQL answers with ``extensions.cost.throttleStatus`` and a leaky
bucket, a throttled answer (``errors[].extensions.code = THROTTLED``), 401 for a bad token,
and injected 5xx. It also serves a storefront's app proxy path for the set-up checklist.

``shopify_app`` builds URLs as ``https://{shop}.myshopify.com/...`` and offers no base URL;
it does accept an ``httpx.Client``. :meth:`ShopifyStandIn.http_client` returns one whose
transport sends ``*.myshopify.com`` requests to this server over plain HTTP on loopback,
unchanged otherwise (the ``Host`` header still names the shop), and refuses anything else.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt

API_VERSION = "2026-07"
ACCESS_TOKEN_TTL = 3600
REFRESH_TOKEN_TTL = 90 * 24 * 3600
GRANTED_SCOPES = (
    "read_customers,read_fulfillments,read_locales,read_orders,read_products,write_app_proxy,"
    "write_discounts"
)
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
_OPERATION = re.compile(r"\b(?:query|mutation)\s+(\w+)")


@dataclass
class Bucket:
    """Shopify's leaky bucket for one app and shop."""

    maximum: float = 1000.0
    restore_rate: float = 100.0
    available: float = 1000.0
    at: float = field(default_factory=time.monotonic)

    def refill(self) -> None:
        now = time.monotonic()
        self.available = min(self.maximum, self.available + (now - self.at) * self.restore_rate)
        self.at = now

    def status(self) -> dict[str, float]:
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": round(self.available, 1),
            "restoreRate": self.restore_rate,
        }


@dataclass
class ShopState:
    """What the stand-in knows about one shop."""

    domain: str
    name: str = "Maison Lumière"
    email: str = "bonjour@maison-lumiere.fr"
    primary_domain: str = "maison-lumiere.fr"
    locale: str = "fr"
    timezone: str = "Europe/Paris"
    currency: str = "EUR"
    country: str = "FR"
    orders: list[dict[str, Any]] = field(default_factory=list)
    products: list[dict[str, Any]] = field(default_factory=list)
    collections: dict[str, dict[str, Any]] = field(default_factory=dict)
    discounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The DiscountCodeBasicInput of each code created through discountCodeBasicCreate.
    created_discounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    bucket: Bucket = field(default_factory=Bucket)
    # What https://{shop}/apps/track/... answers (status, body); None: no app proxy (404);
    # a 3xx redirects to /password like a password-protected storefront.
    proxy_answer: tuple[int, str] | None = None


@dataclass
class IssuedToken:
    shop: str
    access_token: str
    refresh_token: str
    expires_at: float
    refresh_expires_at: float
    refresh_used: bool = False


@dataclass(frozen=True)
class Call:
    """One request the stand-in answered (for tests to count)."""

    kind: str  # token_exchange | refresh | graphql | proxy
    shop: str
    detail: str
    status: int


@dataclass(frozen=True)
class Fault:
    """An answer forced on the next GraphQL request(s): a 5xx, or a throttled answer."""

    status: int = 503
    throttled: bool = False
    body: str = '{"errors":"Service unavailable"}'


class ShopifyStandIn:
    """Start with ``with ShopifyStandIn(client_id, secret) as shopify: ...``."""

    def __init__(self, client_id: str, client_secret: str, *, api_version: str = API_VERSION):
        self.client_id = client_id
        self.client_secret = client_secret
        self.api_version = api_version
        self.shops: dict[str, ShopState] = {}
        self.tokens: dict[str, IssuedToken] = {}  # by access token
        self.calls: list[Call] = []
        self.faults: deque[Fault] = deque()
        self.refresh_delay = 0.0
        self.access_token_ttl = ACCESS_TOKEN_TTL
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> ShopifyStandIn:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        handler = _handler_for(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None, "stand-in not started"
        return int(self._server.server_address[1])

    def http_client(self, *, timeout: float = 5.0) -> httpx.Client:
        """An HTTP client whose ``*.myshopify.com`` requests reach this stand-in."""
        return httpx.Client(transport=LoopbackTransport(self.port), timeout=timeout)

    # --- set-up helpers ----------------------------------------------------------------

    def add_shop(self, domain: str, **details: Any) -> ShopState:
        shop = ShopState(domain=domain, **details)
        self.shops[domain] = shop
        return shop

    def shop(self, domain: str) -> ShopState:
        return self.shops.setdefault(domain, ShopState(domain=domain))

    def fail_next(self, status: int = 503, times: int = 1) -> None:
        for _ in range(times):
            self.faults.append(Fault(status=status))

    def throttle_next(self, times: int = 1) -> None:
        for _ in range(times):
            self.faults.append(Fault(status=200, throttled=True))

    def issue_token(self, shop: str, *, expires_in: float | None = None) -> IssuedToken:
        """A token pair as a token exchange would issue it (for tests that start installed)."""
        now = time.time()
        token = IssuedToken(
            shop=shop,
            access_token="shpat_" + secrets.token_hex(16),
            refresh_token="shprt_" + secrets.token_hex(16),
            expires_at=now + (self.access_token_ttl if expires_in is None else expires_in),
            refresh_expires_at=now + REFRESH_TOKEN_TTL,
        )
        with self._lock:
            self.tokens[token.access_token] = token
        return token

    def count(self, kind: str, shop: str | None = None) -> int:
        return sum(1 for c in self.calls if c.kind == kind and (shop is None or c.shop == shop))

    def graphql_calls(self) -> list[Call]:
        return [c for c in self.calls if c.kind == "graphql"]

    # --- token endpoint ----------------------------------------------------------------

    def token_endpoint(self, shop: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        if (
            body.get("client_id") != self.client_id
            or body.get("client_secret") != self.client_secret
        ):
            return 401, {"error": "invalid_client", "error_description": "client credentials"}
        grant = body.get("grant_type")
        if grant == "urn:ietf:params:oauth:grant-type:token-exchange":
            return self._exchange(shop, body)
        if grant == "refresh_token":
            return self._refresh(shop, body)
        return 400, {"error": "unsupported_grant_type"}

    def _exchange(self, shop: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            claims = jwt.decode(
                str(body.get("subject_token", "")),
                self.client_secret,
                algorithms=["HS256"],
                audience=self.client_id,
                leeway=10,
            )
        except jwt.PyJWTError:
            self._record("token_exchange", shop, "invalid_subject_token", 400)
            return 400, {"error": "invalid_subject_token"}
        if str(claims.get("dest", "")).removeprefix("https://") != shop:
            self._record("token_exchange", shop, "dest mismatch", 400)
            return 400, {"error": "invalid_subject_token"}
        if (
            body.get("requested_token_type")
            != "urn:shopify:params:oauth:token-type:offline-access-token"
        ):
            return 400, {"error": "invalid_request"}
        token = self.issue_token(shop)
        self._record("token_exchange", shop, "ok", 200)
        answer: dict[str, Any] = {"access_token": token.access_token, "scope": GRANTED_SCOPES}
        if str(body.get("expiring")) == "1":
            answer.update(
                expires_in=self.access_token_ttl,
                refresh_token=token.refresh_token,
                refresh_token_expires_in=REFRESH_TOKEN_TTL,
            )
        else:
            token.expires_at = float("inf")
        return 200, answer

    def _refresh(self, shop: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.refresh_delay:
            time.sleep(self.refresh_delay)  # widens the window in which a race would show
        with self._lock:
            current = next(
                (t for t in self.tokens.values() if t.refresh_token == body.get("refresh_token")),
                None,
            )
            if (
                current is None
                or current.shop != shop
                or current.refresh_used
                or current.refresh_expires_at < time.time()
            ):
                self.calls.append(Call("refresh", shop, "invalid_grant", 400))
                return 400, {"error": "invalid_grant"}
            current.refresh_used = True
        token = self.issue_token(shop)
        self._record("refresh", shop, "ok", 200)
        return 200, {
            "access_token": token.access_token,
            "scope": GRANTED_SCOPES,
            "expires_in": self.access_token_ttl,
            "refresh_token": token.refresh_token,
            "refresh_token_expires_in": REFRESH_TOKEN_TTL,
        }

    # --- GraphQL -----------------------------------------------------------------------

    def graphql(
        self, shop_domain: str, version: str, access_token: str | None, body: Mapping[str, Any]
    ) -> tuple[int, dict[str, Any] | str]:
        token = self.tokens.get(access_token or "")
        if token is None or token.shop != shop_domain or token.expires_at < time.time():
            self._record("graphql", shop_domain, "unauthorized", 401)
            return 401, {"errors": INVALID_TOKEN}
        if version != self.api_version:
            self._record("graphql", shop_domain, f"version {version}", 404)
            return 404, {"errors": "Not Found"}
        query = str(body.get("query", ""))
        variables = body.get("variables") or {}
        match = _OPERATION.search(query)
        operation = match.group(1) if match else "anonymous"
        shop = self.shop(shop_domain)
        with self._lock:
            fault = self.faults.popleft() if self.faults else None
        if fault is not None and not fault.throttled:
            self._record("graphql", shop_domain, f"{operation} fault", fault.status)
            return fault.status, fault.body
        resolver = _RESOLVERS.get(operation)
        if resolver is None:
            self._record("graphql", shop_domain, f"{operation} rejected", 200)
            return 200, {
                "errors": [
                    {
                        "message": f"Field '{operation}' doesn't exist on type 'QueryRoot'",
                        "locations": [{"line": 1, "column": 1}],
                        "extensions": {"code": "undefinedField", "typeName": "QueryRoot"},
                    }
                ]
            }
        cost = _COSTS[operation](variables)
        with self._lock:
            shop.bucket.refill()
            if fault is not None:
                shop.bucket.available = 0.0
            if fault is not None or cost > shop.bucket.available:
                self.calls.append(Call("graphql", shop_domain, f"{operation} throttled", 200))
                return 200, {
                    "errors": [
                        {
                            "message": "Throttled",
                            "extensions": {
                                "code": "THROTTLED",
                                "documentation": "https://shopify.dev/api/usage/rate-limits",
                            },
                        }
                    ],
                    "extensions": {
                        "cost": {
                            "requestedQueryCost": cost,
                            "actualQueryCost": None,
                            "throttleStatus": shop.bucket.status(),
                        }
                    },
                }
            shop.bucket.available -= cost
            status = shop.bucket.status()
        data = resolver(shop, variables)
        self._record("graphql", shop_domain, operation, 200)
        return 200, {
            "data": data,
            "extensions": {
                "cost": {
                    "requestedQueryCost": cost,
                    "actualQueryCost": cost,
                    "throttleStatus": status,
                }
            },
        }

    def _record(self, kind: str, shop: str, detail: str, status: int) -> None:
        with self._lock:
            self.calls.append(Call(kind, shop, detail, status))


# --- GraphQL resolvers: the documented shapes of the queries Relais runs ------------------


def _shop(shop: ShopState, variables: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "shop": {
            "id": "gid://shopify/Shop/" + str(abs(hash(shop.domain)) % 10**10),
            "name": shop.name,
            "email": shop.email,
            "contactEmail": shop.email,
            "myshopifyDomain": shop.domain,
            "primaryDomain": {"host": shop.primary_domain},
            "ianaTimezone": shop.timezone,
            "currencyCode": shop.currency,
            "billingAddress": {"countryCodeV2": shop.country},
            "updatedAt": "2026-01-05T10:00:00Z",
        },
        "shopLocales": [
            {"locale": shop.locale, "primary": True},
            {"locale": "en" if shop.locale != "en" else "fr", "primary": False},
        ],
    }


def _created_since(search: str) -> datetime | None:
    match = re.search(r"created_at:>=(\S+)", search)
    if not match:
        return None
    return datetime.fromisoformat(match.group(1).replace("Z", "+00:00"))


def _open_orders(shop: ShopState, variables: Mapping[str, Any]) -> dict[str, Any]:
    search = str(variables.get("query") or "")
    since = _created_since(search)
    name = re.search(r"name:(\S+)", search)
    wanted = [
        o
        for o in shop.orders
        if ("status:open" not in search or not o.get("closed"))
        and (
            since is None or datetime.fromisoformat(o["createdAt"].replace("Z", "+00:00")) >= since
        )
        and (name is None or o["name"] == name.group(1))
    ]
    wanted.sort(key=lambda o: o["createdAt"])
    start = int(variables["after"].removeprefix("cursor-")) if variables.get("after") else 0
    first = int(variables["first"])
    page = wanted[start : start + first]
    has_next = start + first < len(wanted)
    return {
        "orders": {
            "pageInfo": {
                "hasNextPage": has_next,
                "endCursor": f"cursor-{start + len(page)}" if page else None,
            },
            "nodes": [_shaped_order(o, variables) for o in page],
        }
    }


def _shaped_order(order: Mapping[str, Any], variables: Mapping[str, Any]) -> dict[str, Any]:
    """An order cut to the nested sizes the query asked for, with pageInfo to match."""
    items = order.get("lineItems", [])
    fulfillments = order.get("fulfillments", [])[: int(variables["fulfillments"])]
    shaped = {k: v for k, v in order.items() if k not in ("closed", "lineItems", "fulfillments")}
    shaped["lineItems"] = {
        "pageInfo": {"hasNextPage": len(items) > int(variables["lineItems"])},
        "nodes": items[: int(variables["lineItems"])],
    }
    shaped["fulfillments"] = []
    for fulfillment in fulfillments:
        events = fulfillment.get("events", [])
        shaped["fulfillments"].append(
            {
                **{k: v for k, v in fulfillment.items() if k not in ("events", "lineItems")},
                "fulfillmentLineItems": {"nodes": fulfillment.get("lineItems", [])},
                "events": {
                    "pageInfo": {"hasNextPage": len(events) > int(variables["events"])},
                    "nodes": events[: int(variables["events"])],
                },
            }
        )
    return shaped


def _order(shop: ShopState, variables: Mapping[str, Any]) -> dict[str, Any]:
    found = next((o for o in shop.orders if o["id"] == variables.get("id")), None)
    return {"order": _shaped_order(found, variables) if found else None}


def _products(shop: ShopState, variables: Mapping[str, Any]) -> dict[str, Any]:
    return {"products": {"nodes": shop.products[: int(variables.get("first") or 10)]}}


def _collection(shop: ShopState, variables: Mapping[str, Any]) -> dict[str, Any]:
    return {"collectionByIdentifier": shop.collections.get(str(variables.get("handle")))}


def _discount(shop: ShopState, variables: Mapping[str, Any]) -> dict[str, Any]:
    return {"codeDiscountNodeByCode": shop.discounts.get(str(variables.get("code")).upper())}


def _discount_code_basic_create(shop: ShopState, variables: Mapping[str, Any]) -> dict[str, Any]:
    """``discountCodeBasicCreate``: the node's id, or ``userErrors`` as Shopify words them."""
    given = variables.get("basicCodeDiscount") or {}
    errors = []

    def refuse(path: str, message: str, code: str) -> None:
        errors.append({"field": ["basicCodeDiscount", path], "message": message, "code": code})

    code = str(given.get("code") or "").strip()
    if not code:
        refuse("code", "Code can't be blank", "BLANK")
    elif code.upper() in shop.discounts:
        refuse("code", "Code must be unique. Please try a different code.", "TAKEN")
    if not given.get("title"):
        refuse("title", "Title can't be blank", "BLANK")
    if not given.get("startsAt"):
        refuse("startsAt", "Starts at can't be blank", "BLANK")
    if not given.get("context") and not given.get("customerSelection"):
        refuse("context", "Context can't be blank", "BLANK")
    value = ((given.get("customerGets") or {}).get("value")) or {}
    percentage = value.get("percentage")
    if percentage is not None and not 0 < float(percentage) <= 1:
        refuse("customerGets", "Value must be between 0.0 and 1.0", "VALUE_OUTSIDE_RANGE")
    if errors:
        return {"discountCodeBasicCreate": {"codeDiscountNode": None, "userErrors": errors}}
    gid = f"gid://shopify/DiscountCodeNode/{1000 + len(shop.discounts)}"
    shop.discounts[code.upper()] = {
        "id": gid,
        "codeDiscount": {
            "__typename": "DiscountCodeBasic",
            "title": given["title"],
            "status": "ACTIVE",
            "endsAt": given.get("endsAt"),
        },
    }
    shop.created_discounts[code.upper()] = dict(given)
    return {"discountCodeBasicCreate": {"codeDiscountNode": {"id": gid}, "userErrors": []}}


_RESOLVERS: dict[str, Callable[[ShopState, Mapping[str, Any]], dict[str, Any]]] = {
    "RelaisShop": _shop,
    "RelaisOpenOrders": _open_orders,
    "RelaisOrder": _order,
    "RelaisProducts": _products,
    "RelaisCollection": _collection,
    "RelaisDiscountCode": _discount,
    "RelaisDiscountCodeCreate": _discount_code_basic_create,
}

_COSTS: dict[str, Callable[[Mapping[str, Any]], int]] = {
    "RelaisShop": lambda v: 2,
    "RelaisOpenOrders": lambda v: (
        2
        + int(v["first"])
        * (1 + int(v["lineItems"]) + int(v["fulfillments"]) * (2 + int(v["events"])))
    ),
    "RelaisOrder": lambda v: (
        1 + int(v["lineItems"]) + int(v["fulfillments"]) * (2 + int(v["events"]))
    ),
    "RelaisProducts": lambda v: 2 + int(v.get("first") or 10),
    "RelaisCollection": lambda v: 2,
    "RelaisDiscountCode": lambda v: 2,
    "RelaisDiscountCodeCreate": lambda v: 10,
}


# --- HTTP plumbing -----------------------------------------------------------------------


class LoopbackTransport(httpx.BaseTransport):
    """Sends ``https://{shop}.myshopify.com/...`` to the stand-in; refuses other hosts."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if not host.endswith(".myshopify.com"):
            raise httpx.ConnectError(
                f"the Shopify stand-in only serves *.myshopify.com, not {host}"
            )
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def _handler_for(standin: ShopifyStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _shop(self) -> str:
            return (self.headers.get("Host") or "").split(":", 1)[0].lower()

        def _send(self, status: int, payload: Any, content_type: str = "application/json") -> None:
            body = payload if isinstance(payload, str) else json.dumps(payload)
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            if status == 429:
                self.send_header("Retry-After", "1")
            if 300 <= status < 400:
                # A password-protected storefront sends every visitor to /password.
                self.send_header("Location", "/password")
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            try:
                parsed = json.loads(raw or b"{}")
            except ValueError:
                return {}
            return parsed if isinstance(parsed, dict) else {}

        def do_POST(self) -> None:
            shop = self._shop()
            if self.path == "/admin/oauth/access_token":
                status, answer = standin.token_endpoint(shop, self._body())
                self._send(status, answer)
                return
            match = re.fullmatch(r"/admin/api/([\w-]+)/graphql\.json", self.path)
            if match:
                status, answer = standin.graphql(
                    shop, match.group(1), self.headers.get("X-Shopify-Access-Token"), self._body()
                )
                self._send(status, answer)
                return
            self._send(404, {"errors": "Not Found"})

        def do_GET(self) -> None:
            shop_domain = self._shop()
            if self.path.startswith("/apps/track"):
                state = standin.shops.get(shop_domain)
                answer = state.proxy_answer if state else None
                status, body = answer or (404, "<!doctype html><title>404 Not Found</title>")
                standin._record("proxy", shop_domain, self.path, status)
                self._send(status, body, "text/html; charset=utf-8")
                return
            self._send(404, {"errors": "Not Found"})

    return Handler


# --- ID tokens and GraphQL order nodes for tests -------------------------------------------


def id_token(
    shop: str,
    *,
    client_id: str,
    secret: str,
    expires_in: int = 60,
    issued_at: datetime | None = None,
    **overrides: Any,
) -> str:
    """An App Bridge ID token signed like Shopify's (HS256 with the app's secret)."""
    now = int((issued_at or datetime.now(UTC)).timestamp())
    claims: dict[str, Any] = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": client_id,
        "sub": "42",
        "exp": now + expires_in,
        "nbf": now - 5,
        "iat": now - 5,
        "jti": secrets.token_hex(12),
        "sid": secrets.token_hex(12),
    }
    claims.update(overrides)
    return jwt.encode(claims, secret, algorithm="HS256")


def graphql_order(
    order_id: int,
    *,
    name: str | None = None,
    created_at: str = "2026-01-10T09:00:00Z",
    updated_at: str | None = None,
    email: str = "camille@example.fr",
    first_name: str = "Camille",
    city: str = "Lyon",
    fulfillments: list[dict[str, Any]] | None = None,
    closed: bool = False,
    line_items: int = 1,
) -> dict[str, Any]:
    """An order node in the Admin API's shape (fields of the Relais order fragment)."""
    return {
        "id": f"gid://shopify/Order/{order_id}",
        "name": name or f"#{order_id % 100000}",
        "number": order_id % 100000,
        "createdAt": created_at,
        "updatedAt": updated_at or created_at,
        "cancelledAt": None,
        "cancelReason": None,
        "customerLocale": "fr",
        "currencyCode": "EUR",
        "displayFinancialStatus": "PAID",
        "email": email,
        "phone": "+33612345678",
        "totalPriceSet": {"shopMoney": {"amount": "59.90"}},
        "customer": {
            "id": f"gid://shopify/Customer/{order_id + 7}",
            "firstName": first_name,
            "emailMarketingConsent": {"marketingState": "SUBSCRIBED"},
            "smsMarketingConsent": {"marketingState": "NOT_SUBSCRIBED"},
        },
        "shippingAddress": {
            "firstName": first_name,
            "company": None,
            "address1": "3 rue de la République",
            "city": city,
            "zip": "69001",
            "provinceCode": None,
            "countryCodeV2": "FR",
            "phone": None,
        },
        "billingAddress": {
            "city": city,
            "zip": "69001",
            "provinceCode": None,
            "countryCodeV2": "FR",
        },
        "shippingLine": {"title": "Colissimo Domicile", "code": "colissimo", "source": "shopify"},
        "lineItems": [
            {
                "id": f"gid://shopify/LineItem/{order_id * 10 + i}",
                "title": f"Bougie n°{i + 1}",
                "quantity": 1,
                "variantTitle": None,
                "sku": f"SKU-{i}",
                "originalUnitPriceSet": {"shopMoney": {"amount": "29.95"}},
                "product": {"id": f"gid://shopify/Product/{900 + i}"},
                "variant": {"id": f"gid://shopify/ProductVariant/{800 + i}"},
                "image": None,
            }
            for i in range(line_items)
        ],
        "fulfillments": fulfillments or [],
        "closed": closed,
    }


def graphql_fulfillment(
    fulfillment_id: int,
    *,
    created_at: str = "2026-01-11T08:00:00Z",
    updated_at: str | None = None,
    status: str = "SUCCESS",
    events: list[tuple[int, str, str]] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    """A fulfillment node; ``events`` are (id, FulfillmentEventStatus, happenedAt)."""
    return {
        "id": f"gid://shopify/Fulfillment/{fulfillment_id}",
        "name": f"#F{fulfillment_id}",
        "status": status,
        "createdAt": created_at,
        "updatedAt": updated_at or created_at,
        "estimatedDeliveryAt": None,
        "trackingInfo": [
            {
                "company": "Colissimo",
                "number": f"6A{fulfillment_id}",
                "url": "https://www.laposte.fr/outils/suivre-vos-envois",
            }
        ],
        "lineItems": [],
        "events": [
            {
                "id": f"gid://shopify/FulfillmentEvent/{event_id}",
                "status": event_status,
                "happenedAt": happened_at,
                "message": None,
                "city": "Lyon",
                "country": "FR",
                "estimatedDeliveryAt": None,
            }
            for event_id, event_status, happened_at in events
        ],
    }


def iter_calls(standin: ShopifyStandIn, kind: str) -> Iterator[Call]:
    return (c for c in standin.calls if c.kind == kind)

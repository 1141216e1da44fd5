"""Providers failing: SendGrid, Twilio and APNs answer 500, then 429 with Retry-After, then
time out, for a window (a minute by default), then recover.

The three stand-ins of tests/standins run in this process; a cluster (PostgreSQL,
redis-server, gunicorn, RQ workers) sends to them. Orders are created first and some
shoppers add their order's pass to Wallet (a device registers through Apple's web-service
protocol); then, while the providers fail, the rest of every order's story arrives
(shipped, out for delivery, delivered): emails, SMS and Wallet pushes are due during the
fault. A third of the window each: 500, 429 with ``Retry-After``, then timing out (the
stand-in takes the request, holds it past Relais' timeout, then accepts it, as a provider
whose answer is lost does). Then the providers answer normally again, and the run waits
for every message and push to settle before counting, per provider: requests refused,
requests held past the timeout, items delivered after the recovery, lost and duplicated.

    python -m ops.provider_faults --window 60 --json benchmarks/results/provider-faults.json
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from redis import Redis
from rq.registry import ScheduledJobRegistry
from sqlalchemy import Engine, func, select

from ops.audit import Figures, audit, engine_for, queues_idle, wait_until_drained
from ops.cluster import ClusterSettings, running_cluster
from ops.load import Driver, LoadReport, Webhook, order_story, shop_domain
from ops.shops import install_shops
from plugin.config import Config
from plugin.links import wallet_pass_link
from plugin.models import DomainEvent, Order, Shop
from plugin.queues import QUEUE_NAMES
from plugin.redis_conn import connect
from tests.standins.apns_server import (
    ApnsStandIn,
    Rule,
    StandInConfig,
    write_server_certificate,
    write_token_key,
)
from tests.standins.http_recorder import Answer, RecordedRequest, RecordingServer, Responder
from tests.standins.sendgrid_server import API_KEY, respond
from tests.standins.twilio_server import ACCOUNT_SID, AUTH_TOKEN, TwilioStandIn

MODES = ("500", "429", "timeout")
# Shorter than production's 10 s / 30 s so that the timeout phase holds several attempts;
# the lease must exceed the timeout, as in production.
SEND_TIMEOUT = 4.0
LEASE_SECONDS = 12.0
APNS_CLIENT_TIMEOUT = 10.0  # wallet.apns.ApnsClient's own
RETRY_AFTER = 5
APNS_KEY_ID = "RELAISFLT1"
SMS_FROM = "+15005550006"


@dataclass
class ProviderSwitch:
    """What the three stand-ins answer right now, and a log of every HTTP answer given."""

    mode: str = "normal"
    hold: float = SEND_TIMEOUT + 2.0
    # id of the recorded request -> (mode, status answered)
    log: dict[int, tuple[str, int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, responder: Responder) -> Responder:
        """``responder`` (the provider's normal behaviour) under the current mode."""

        def answer(request: RecordedRequest) -> Answer:
            mode = self.mode
            if mode == "500":
                result = Answer(500, {"errors": [{"message": "Internal Server Error"}]})
            elif mode == "429":
                result = Answer(
                    429, {"errors": [{"message": "Too many requests"}]},
                    headers={"Retry-After": str(RETRY_AFTER)},
                )
            else:
                # The provider takes the request (a message is created) in every other mode;
                # in "timeout" its answer comes after the client has given up.
                result = responder(request)
                if mode == "timeout":
                    result = replace(result, delay=self.hold)
            with self.lock:
                self.log[id(request)] = (mode, result.status)
            return result

        return answer


@dataclass
class Standins:
    sendgrid: RecordingServer
    twilio: TwilioStandIn
    apns: ApnsStandIn
    apns_env: dict[str, str]


@contextmanager
def provider_standins(switch: ProviderSwitch, folder: Path) -> Iterator[Standins]:
    """SendGrid, Twilio and APNs stand-ins whose answers follow ``switch``."""
    certificate, key = write_server_certificate(folder)
    p8, public = write_token_key(folder, APNS_KEY_ID)
    apns_config = StandInConfig(
        certificate=certificate,
        key=key,
        # The cluster runs with Relais' default Wallet identifiers.
        topics=frozenset({Config.pass_type_identifier, Config.order_type_identifier}),
        token_keys={APNS_KEY_ID: (Config.apple_team_id, public)},
    )
    sendgrid = RecordingServer(switch.wrap(respond))
    twilio = TwilioStandIn()
    twilio.responder = switch.wrap(twilio.state.respond)
    with ExitStack() as stack:
        stack.enter_context(sendgrid)
        stack.enter_context(twilio)
        apns = stack.enter_context(ApnsStandIn(apns_config))
        yield Standins(
            sendgrid, twilio, apns,
            {"APNS_HOST": apns.url, "APNS_CA_FILE": str(certificate),
             "APNS_KEY_PATH": str(p8), "APNS_KEY_ID": APNS_KEY_ID},
        )


def apply_mode(switch: ProviderSwitch, apns: ApnsStandIn, mode: str) -> None:
    """Put the three providers in ``mode`` at once (APNs through its rules and delay)."""
    apns_rules = {
        "500": {"": Rule(500, "InternalServerError")},
        "429": {"": Rule(429, "TooManyRequests", {"retry-after": str(RETRY_AFTER)})},
    }
    apns.config.rules = apns_rules.get(mode, {})
    apns.config.delay = APNS_CLIENT_TIMEOUT + 2.0 if mode == "timeout" else 0.0
    switch.mode = mode


def _cluster_env(standins: Standins) -> dict[str, str]:
    return {
        "EMAIL_BACKEND": "sendgrid",
        "SENDGRID_API_KEY": API_KEY,
        "SENDGRID_HOST": standins.sendgrid.url,
        "NOTIFICATIONS_FROM_EMAIL": "relais@example.org",
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_BASE_URL": standins.twilio.url,
        "TWILIO_SMS_FROM": SMS_FROM,
        "NOTIFICATIONS_SEND_TIMEOUT": str(SEND_TIMEOUT),
        "NOTIFICATIONS_LEASE_SECONDS": str(LEASE_SECONDS),
        **standins.apns_env,
    }


def fault_stories(domains: list[str], orders_per_shop: int, secret: str) -> list[list[Webhook]]:
    """Orders of every shop, interleaved: half stop at "shipped" (an email), half go on to
    "out for delivery" (an SMS, or the Wallet pass for shoppers who added it). Only one
    milestone calls for a message in each story, so that no message is skipped because a
    later milestone overtook it while the provider was failing."""
    stories = []
    for n in range(orders_per_shop):
        for index, domain in enumerate(domains):
            # Alternating story by story, so that every phase of the fault sees both kinds.
            events = ("out_for_delivery",) if (n + index) % 2 else ()
            stories.append(order_story(domain, secret, events=events))
    return stories


# --- Wallet devices --------------------------------------------------------------------------


def register_devices(
    base_url: str, config: Config, engine: Engine, orders: list[tuple[str, int]]
) -> dict[str, int]:
    """Download each order's pass and register one device for it, as iOS does.

    Returns push token -> order id (Relais' own), for the push audit."""
    tokens: dict[str, int] = {}
    with engine.connect() as conn, httpx.Client(base_url=base_url, timeout=30) as client:
        for number, (domain, shopify_id) in enumerate(orders):
            row = conn.execute(
                select(Order.id, Order.public_id)
                .join(Shop, Shop.id == Order.shop_id)
                .where(Shop.domain == domain, Order.shopify_id == shopify_id)
            ).first()
            if row is None:
                raise RuntimeError(f"order {shopify_id} of {domain} was not applied")
            order_id, public_id = row
            link = wallet_pass_link(config, domain, public_id)
            package = client.get(link.removeprefix(config.app_url))
            package.raise_for_status()
            document = json.loads(zipfile.ZipFile(io.BytesIO(package.content)).read("pass.json"))
            token = f"{number:064x}"
            answer = client.post(
                f"/wallet/v1/devices/device{number:05d}/registrations/"
                f"{document['passTypeIdentifier']}/{document['serialNumber']}",
                json={"pushToken": token},
                headers={"Authorization": f"ApplePass {document['authenticationToken']}"},
            )
            if answer.status_code != 201:
                raise RuntimeError(f"device registration answered {answer.status_code}")
            tokens[token] = order_id
    return tokens


# --- waiting and counting ----------------------------------------------------------------------


def _message_states(engine: Engine) -> dict[tuple[str, str], int]:
    from plugin.notifications.models import NotificationMessage

    with engine.connect() as conn:
        rows = conn.execute(
            select(NotificationMessage.channel, NotificationMessage.state, func.count())
            .group_by(NotificationMessage.channel, NotificationMessage.state)
        ).all()
    return {(channel, state): count for channel, state, count in rows}


def _sent_ids(engine: Engine, channel: str) -> set[str]:
    from plugin.notifications.models import NotificationMessage

    with engine.connect() as conn:
        return {
            str(message_id)
            for message_id in conn.scalars(
                select(NotificationMessage.id).where(
                    NotificationMessage.channel == channel, NotificationMessage.state == "sent"
                )
            )
        }


def _skip_reasons(engine: Engine) -> dict[str, int]:
    from plugin.notifications.models import NotificationMessage

    with engine.connect() as conn:
        rows = conn.execute(
            select(NotificationMessage.channel, NotificationMessage.reason, func.count())
            .where(NotificationMessage.state.in_(("skipped", "failed")))
            .group_by(NotificationMessage.channel, NotificationMessage.reason)
        ).all()
    return {f"{channel}: {reason}": count for channel, reason, count in rows}


def _settled(engine: Engine, redis: Redis) -> bool:
    pending = any(
        state in ("queued", "sending") for (_, state) in _message_states(engine)
    )
    scheduled = sum(ScheduledJobRegistry(name, connection=redis).count for name in QUEUE_NAMES)
    return not pending and not scheduled and queues_idle(redis)


def wait_until_settled(engine: Engine, redis: Redis, timeout: float) -> float:
    """Wait until no message is queued or sending, no retry is scheduled and the queues are
    idle (twice in a row); return the seconds waited (``timeout`` if never)."""
    started = time.monotonic()
    calm = 0
    while time.monotonic() - started < timeout:
        try:
            calm = calm + 1 if _settled(engine, redis) else 0
        except Exception:  # a scrape during a hiccup is not an answer
            calm = 0
        if calm >= 2:
            return time.monotonic() - started
        time.sleep(1.0)
    return timeout


def _accepted(status: int) -> bool:
    return 200 <= status < 300


def _sendgrid_key(request: RecordedRequest) -> str:
    body = request.json()
    return str((body.get("custom_args") or {}).get("relais_message_id"))


def _twilio_key(request: RecordedRequest) -> str | None:
    if request.method != "POST":
        return None  # Relais asking Twilio whether an attempt in doubt went through
    form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
    callback = form.get("StatusCallback")
    if callback:
        return parse_qs(urlsplit(callback).query).get("m", [""])[0]
    return f"{form.get('To')}|{form.get('Body')}"


@dataclass
class ProviderFigures:
    """One provider's side of the run."""

    provider: str
    requests: int = 0
    refused_500: int = 0
    refused_429: int = 0
    held_past_timeout: int = 0  # taken by the provider, answered after Relais gave up
    items: int = 0  # distinct messages (APNs: devices told of the last change) delivered
    delivered_after_recovery: int = 0
    lost: int = 0
    duplicated: int = 0
    # Taken by the provider while Relais recorded the message as not sent (a timeout, then
    # the milestone was overtaken before the retry): the shopper got it, the record says no.
    delivered_not_recorded: int = 0

    def line(self) -> str:
        return (
            f"  {self.provider}: {self.requests} requests (500: {self.refused_500}, "
            f"429: {self.refused_429}, held past the timeout: {self.held_past_timeout}), "
            f"{self.items} delivered, {self.delivered_after_recovery} after the recovery, "
            f"lost {self.lost}, duplicated {self.duplicated}, delivered but recorded as not "
            f"sent {self.delivered_not_recorded}"
        )


def _http_provider_figures(
    name: str, switch: ProviderSwitch, server: RecordingServer, recovered_at: float,
    key_of: Any, sent_ids: set[str],
) -> ProviderFigures:
    """Requests by answer, and the provider's accepted messages against the ones Relais
    recorded as sent (both keyed by Relais' message id)."""
    figures = ProviderFigures(name)
    accepted_keys: Counter[str] = Counter()
    for request in list(server.requests):
        key = key_of(request)
        if key is None:
            continue
        figures.requests += 1
        mode, status = switch.log.get(id(request), ("normal", 0))
        figures.refused_500 += status == 500
        figures.refused_429 += status == 429
        if _accepted(status):
            figures.held_past_timeout += mode == "timeout"
            accepted_keys[key] += 1
            figures.delivered_after_recovery += (
                request.received_at >= recovered_at and accepted_keys[key] == 1
            )
    figures.items = len(accepted_keys)
    figures.duplicated = sum(n - 1 for n in accepted_keys.values())
    figures.lost = len(sent_ids - set(accepted_keys))
    figures.delivered_not_recorded = len(set(accepted_keys) - sent_ids)
    return figures


class TimedRequests(list[Any]):
    """The APNs stand-in's list of requests, noting when each arrived (time.time())."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item: Any) -> None:
        self.times.append(time.time())
        super().append(item)


def _apns_figures(
    apns: ApnsStandIn, window: tuple[float, float], tokens: dict[str, int], engine: Engine,
    first_event_id: int,
) -> ProviderFigures:
    """A device is up to date when a push reached it after its order's last milestone (a
    push only says "your pass changed": one after the last change is enough)."""
    requests = apns.requests
    times = requests.times if isinstance(requests, TimedRequests) else [0.0] * len(requests)
    timed = list(zip(times, list(requests), strict=False))
    figures = ProviderFigures("apns", requests=len(timed))
    figures.refused_500 = sum(r.status == 500 for _, r in timed)
    figures.refused_429 = sum(r.status == 429 for _, r in timed)
    with engine.connect() as conn:
        rows = conn.execute(
            select(DomainEvent.order_id, func.count(), func.max(DomainEvent.created_at))
            .where(DomainEvent.id >= first_event_id)
            .group_by(DomainEvent.order_id)
        ).all()
    milestones = {order_id: (count, last.timestamp()) for order_id, count, last in rows}
    timeout_from = window[0] + (window[1] - window[0]) * 2 / len(MODES)
    for token, order_id in tokens.items():
        count, last_change = milestones.get(order_id, (0, 0.0))
        pushed = [at for at, r in timed if r.status == 200 and r.path.endswith("/" + token)]
        figures.held_past_timeout += sum(timeout_from <= at < window[1] for at in pushed)
        told = [at for at in pushed if at >= last_change]
        if count and not told:
            figures.lost += 1
            continue
        figures.items += 1
        figures.delivered_after_recovery += bool(told) and min(told) >= window[1]
        figures.duplicated += max(0, len(pushed) - count)
    return figures


# --- the scenario -----------------------------------------------------------------------------


@dataclass
class ProviderFaultResult:
    figures: Figures  # the webhooks' side: accepted, processed, lost, duplicated
    providers: list[ProviderFigures]
    messages: dict[tuple[str, str], int]
    settle_seconds: float

    def lines(self) -> list[str]:
        states = ", ".join(f"{c}/{s}: {n}" for (c, s), n in sorted(self.messages.items()))
        return [
            self.figures.line(),
            *(p.line() for p in self.providers),
            f"  messages by channel/state: {states}; settled "
            f"{self.settle_seconds:.0f} s after the providers recovered",
            "  " + json.dumps(self.figures.notes, default=str),
        ]

    def as_dict(self) -> dict[str, Any]:
        data = self.figures.as_dict()
        data["providers"] = {p.provider: vars(p) for p in self.providers}
        data["messages"] = {f"{c}|{s}": n for (c, s), n in self.messages.items()}
        data["settle_seconds"] = round(self.settle_seconds, 1)
        return data


def run_provider_faults(
    *, window: float = 60.0, shops: int = 10, orders_per_shop: int = 4, wallet_every: int = 3,
    workers: int = 2, settle_timeout: float = 400.0,
) -> ProviderFaultResult:
    """The whole scenario; ``window`` is the time the providers fail (a third per mode)."""
    switch = ProviderSwitch()
    with tempfile.TemporaryDirectory(prefix="relais-providers-") as folder, \
            provider_standins(switch, Path(folder)) as standins:
        settings = ClusterSettings(
            workers=workers, log_level="WARNING", stuck_delivery_seconds=5,
            extra_env=_cluster_env(standins),
        )
        with running_cluster(settings) as cluster:
            env = cluster.env()
            config = Config.from_env(env)
            domains = [shop_domain(s, "fault") for s in range(shops)]
            install_shops(cluster.database_url, domains)
            stories = fault_stories(domains, orders_per_shop, env["SHOPIFY_API_SECRET"])
            engine = engine_for(cluster.database_url)
            redis = connect(cluster.redis.url)
            driver = Driver(cluster.base_url, concurrency=4, deadline=window + 120)
            # 1. Orders are placed; a third of the shoppers add theirs to Wallet.
            created = driver.run([story[:1] for story in stories])
            wait_until_drained(engine, redis, len(created.accepted), timeout=120)
            wallet_orders = [
                (story[0].shop_domain, story[0].effect[1]) for story in stories[::wallet_every]
            ]
            tokens = register_devices(cluster.base_url, config, engine, wallet_orders)
            with engine.connect() as conn:
                first_event_id = (conn.scalar(select(func.max(DomainEvent.id))) or 0) + 1
            # 2. The providers fail while the rest of every story arrives.
            standins.apns.requests = TimedRequests()
            failing_from = time.time()
            rest = [story[1:] for story in stories]
            paced = Driver(cluster.base_url, concurrency=4, deadline=window + 120,
                           rate=len(rest) / max(window * 0.9, 1.0))
            result: dict[str, LoadReport] = {}
            sender = threading.Thread(target=lambda: result.update(report=paced.run(rest)))
            for mode in MODES:
                apply_mode(switch, standins.apns, mode)
                if mode == MODES[0]:
                    sender.start()
                time.sleep(window / len(MODES))
            apply_mode(switch, standins.apns, "normal")
            recovered_at = time.time()
            sender.join()
            # 3. Everything settles; count.
            report = LoadReport(created.records + result["report"].records,
                                created.started, result["report"].finished)
            redis = connect(cluster.redis.url)
            waited = wait_until_drained(engine, redis, len(report.accepted), timeout=120)
            wait_until_settled(engine, redis, settle_timeout)
            settle_seconds = time.time() - recovered_at
            figures = audit("SendGrid, Twilio and APNs failing", engine, redis, report, waited)
            messages = _message_states(engine)
            reasons = _skip_reasons(engine)
            providers = [
                _http_provider_figures("sendgrid", switch, standins.sendgrid, recovered_at,
                                       _sendgrid_key, _sent_ids(engine, "email")),
                _http_provider_figures("twilio", switch, standins.twilio, recovered_at,
                                       _twilio_key, _sent_ids(engine, "sms")),
                _apns_figures(standins.apns, (failing_from, recovered_at), tokens, engine,
                              first_event_id),
            ]
            # A message not sent in the end (failed, or still waiting) is lost too.
            for provider, channel in (("sendgrid", "email"), ("twilio", "sms")):
                unsent = sum(n for (c, s), n in messages.items()
                             if c == channel and s in ("failed", "queued", "sending"))
                next(p for p in providers if p.provider == provider).lost += unsent
            engine.dispose()
    figures.notes.update(not_sent=reasons, window_seconds=window, wallet_devices=len(tokens),
                         send_timeout=SEND_TIMEOUT, lease_seconds=LEASE_SECONDS,
                         apns_timeout=APNS_CLIENT_TIMEOUT)
    return ProviderFaultResult(figures, providers, messages, settle_seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--window", type=float, default=60.0, help="seconds the providers fail")
    parser.add_argument("--shops", type=int, default=10)
    parser.add_argument("--orders", type=int, default=4, help="orders per shop")
    parser.add_argument("--json", type=Path, help="merge the figures into this JSON file")
    args = parser.parse_args(argv)
    outcome = run_provider_faults(window=args.window, shops=args.shops,
                                  orders_per_shop=args.orders)
    for line in outcome.lines():
        print(line, flush=True)
    if args.json:
        command = "python -m ops.provider_faults " + " ".join(argv or sys.argv[1:])
        record = {"command": command.replace(f" --json {args.json}", ""), **outcome.as_dict()}
        args.json.write_text(json.dumps(record, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The Wallet subscriber: on every milestone, move the order's pass forward and push.

``on_milestone(event_id)`` runs inside the job that recorded the milestone. It records the
update (a new update number and a later ``updatedAt``, in one transaction) and, when devices
follow the pass, queues ``push_devices``, which pushes every device registered for the
order's pass (topic: the pass type identifier) and Wallet order (topic: the order type
identifier) over APNs. What APNs answers decides what happens to each device:

* 200: done;
* 410, or 400 ``BadDeviceToken`` / ``DeviceTokenNotForTopic``: the registration is deleted;
* 429 and 5xx (and network failures): a job pushes again, later, to just those devices,
  waiting the longer of the backoff step and APNs' ``Retry-After``, at most
  :data:`MAX_ATTEMPTS` times;
* 403: our credentials are refused; logged at ERROR (an alert), counted, never retried;
* anything else: our request is wrong; logged and counted, not retried.

The same event twice moves the pass forward twice and pushes twice: harmless (the device
fetches an identical pass), which is what :mod:`plugin.events` asks of subscribers.

One :class:`~wallet.apns.ApnsClient` per worker process and credential, kept in this
module and reused by every job, so pushes share one HTTP/2 connection; closed when the
process exits.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import threading
from collections import Counter
from collections.abc import Hashable, Sequence
from datetime import timedelta

from sqlalchemy import bindparam, select

from plugin.config import Config
from plugin.digits import ascii_int
from plugin.models import DomainEvent
from plugin.runtime import Runtime, current_runtime
from wallet import service
from wallet.apns import ApnsClient, PushOutcome, PushResult
from wallet.credentials import apns_auth, topic
from wallet.metrics import count_pushes
from wallet.models import KINDS, WalletPass

log = logging.getLogger(__name__)

QUEUE = "wallet"
NOT_DOWNLOADED = "no pass downloaded for this order"
# The event's order and its pass, if any; built once (it runs for every event).
_PASS_OF_EVENT = (
    select(DomainEvent.order_id, WalletPass.id.label("pass_id"))
    .outerjoin(WalletPass, WalletPass.order_id == DomainEvent.order_id)
    .where(DomainEvent.id == bindparam("event_id"))
)
# Seconds before retry n (1-based); Retry-After from APNs can only make it longer.
RETRY_DELAYS = (10, 60, 300, 1800, 3600)
MAX_ATTEMPTS = len(RETRY_DELAYS)
MAX_RETRY_DELAY = 3600

_clients: dict[Hashable, ApnsClient] = {}
_clients_lock = threading.Lock()
_clients_pid = os.getpid()


def apns_client(config: Config, kind: str) -> ApnsClient | None:
    """This process's client for ``kind``'s credentials (None when the kind is off)."""
    global _clients_pid
    auth = apns_auth(config, kind)
    if auth is None:
        return None
    key = (config.apns_host, config.apns_ca_file, auth)
    with _clients_lock:
        if os.getpid() != _clients_pid:
            # A forked child: the parent's connections and loop threads are not ours.
            _clients.clear()
            _clients_pid = os.getpid()
        client = _clients.get(key)
        if client is None:
            client = ApnsClient(auth, host=config.apns_host, verify=config.apns_ca_file or True)
            _clients[key] = client
    return client


def close_clients() -> None:
    """Close every client of this process (at exit, and between tests)."""
    with _clients_lock:
        clients = list(_clients.values()) if os.getpid() == _clients_pid else []
        _clients.clear()
    for client in clients:
        try:
            client.close()
        except Exception:  # closing at exit: nothing useful to do with an error
            log.debug("APNs client did not close cleanly", exc_info=True)


atexit.register(close_clients)


# ---------------------------------------------------------------------------- jobs


def on_milestone(event_id: int) -> str:
    """Subscriber of "milestone reached", run inline in the job that recorded the event:
    move the order's pass forward, and queue the push of each kind that has devices.

    Most orders have no pass (nobody downloaded it): that answer costs one query here
    rather than a job of its own. The pushes, which wait on APNs, go to the ``wallet``
    queue.
    """
    runtime = current_runtime()
    # Answered by a read: asking inside a write transaction would take SQLite's write lock
    # (and cost PostgreSQL a transaction) for every event of every order without a pass.
    with runtime.db.session() as session:
        row = session.connection().execute(_PASS_OF_EVENT, {"event_id": event_id}).first()
    if row is None or row.order_id is None:
        return "unknown event"
    if row.pass_id is None:
        return NOT_DOWNLOADED
    order_id = row.order_id
    with runtime.db.transaction() as session:
        # Asked again under the write lock: record_update answers None if the pass is gone.
        wallet_pass = service.record_update(session, order_id)
        if wallet_pass is None:
            return NOT_DOWNLOADED
        pass_id, tag = wallet_pass.id, wallet_pass.update_seq
        registrations = service.registrations_of(session, pass_id)
    results = [f"update {tag}"]
    for kind in KINDS:
        ids = ",".join(str(r.id) for r in registrations if r.kind == kind)
        if ids:
            runtime.queues.enqueue(
                QUEUE,
                "wallet.jobs.push_devices",
                pass_id,
                kind,
                ids,
                0,
                job_id=f"wallet-push-{pass_id}-{kind}-event-{event_id}",
            )
            results.append(f"{kind}: push queued")
    return "; ".join(results)


def push_devices(wallet_pass_id: int, kind: str, registration_ids: str, attempt: int) -> str:
    """Push these devices of one pass (or Wallet order), if still registered (with their
    current push token: a device may have registered a new one since). ``attempt`` 0 is
    the push a milestone queued; the later ones are retries."""
    runtime = current_runtime()
    wanted = {n for x in registration_ids.split(",") if (n := ascii_int(x)) is not None}
    with runtime.db.session() as session:
        devices = [
            r
            for r in service.registrations_of(session, wallet_pass_id)
            if r.kind == kind and r.id in wanted
        ]
    if not devices:
        return "no device left to push"
    return push(runtime, wallet_pass_id, kind, devices, attempt=attempt)


def push(
    runtime: Runtime,
    wallet_pass_id: int,
    kind: str,
    devices: Sequence[service.Registration],
    *,
    attempt: int,
) -> str:
    """Push ``devices`` of one pass (or order) and act on every outcome."""
    config = runtime.config
    client = apns_client(config, kind)
    if client is None:
        log.warning("wallet %s pushes are off (no credentials): %d device(s)", kind, len(devices))
        return f"{kind}: no credentials"
    apns_topic = topic(config, kind)
    tokens = list(dict.fromkeys(device.push_token for device in devices))
    outcomes = client.push_many(tokens, apns_topic)
    counts = Counter(outcome.result.value for outcome in outcomes)
    dead = [o.device_token for o in outcomes if o.result is PushResult.UNREGISTER]
    if dead:
        with runtime.db.transaction() as session:
            service.forget_devices(session, wallet_pass_id, kind, dead)
    forbidden = [o for o in outcomes if o.result is PushResult.FORBIDDEN]
    if forbidden:
        log.error(
            "APNs refused Relais' credentials for topic %s (%s): %d device(s) not told; "
            "check APNS_KEY_PATH/APNS_KEY_ID or the Wallet certificate",
            apns_topic,
            forbidden[0].reason,
            len(forbidden),
        )
    failed = [o for o in outcomes if o.result is PushResult.RETRY]
    if failed:
        tokens_failed = {o.device_token for o in failed}
        ids = sorted(d.id for d in devices if d.push_token in tokens_failed)
        if not _schedule_retry(runtime, wallet_pass_id, kind, ids, failed, attempt):
            counts["gave_up"] += len(failed)
    count_pushes(runtime.redis, kind, counts)
    return f"{kind}: " + ", ".join(f"{n} {result}" for result, n in sorted(counts.items()))


def retry_delay(attempt: int, outcomes: Sequence[PushOutcome]) -> int:
    """Seconds before retry ``attempt`` (1-based): the backoff step, or APNs' Retry-After
    when it asks for longer, never more than :data:`MAX_RETRY_DELAY`."""
    step = RETRY_DELAYS[min(attempt, MAX_ATTEMPTS) - 1]
    asked = max((o.retry_after or 0.0 for o in outcomes), default=0.0)
    return int(min(MAX_RETRY_DELAY, max(step, asked)))


def _schedule_retry(
    runtime: Runtime,
    wallet_pass_id: int,
    kind: str,
    registration_ids: Sequence[int],
    failed: Sequence[PushOutcome],
    attempt: int,
) -> bool:
    next_attempt = attempt + 1
    if next_attempt > MAX_ATTEMPTS:
        log.warning(
            "wallet %s push to %d device(s) still failing after %d attempts (%s): given up",
            kind,
            len(failed),
            attempt + 1,
            failed[0].reason or failed[0].status,
        )
        return False
    # Registration ids, not push tokens: no personal data waits in Redis.
    ids = ",".join(str(i) for i in registration_ids)
    digest = hashlib.sha256(ids.encode()).hexdigest()[:12]
    delay = retry_delay(next_attempt, failed)
    runtime.queues.enqueue(
        QUEUE,
        "wallet.jobs.push_devices",
        wallet_pass_id,
        kind,
        ids,
        next_attempt,
        job_id=f"wallet-push-{wallet_pass_id}-{kind}-{next_attempt}-{digest}",
        retry=None,
        delay=timedelta(seconds=delay),
    )
    log.info(
        "wallet %s push: %d device(s) retried in %ds (attempt %d)",
        kind,
        len(failed),
        delay,
        next_attempt,
    )
    return True

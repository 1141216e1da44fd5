"""A worker killed with SIGKILL in the middle of a send, then restarted.

The provider stand-in takes the request (a real provider would have accepted the message)
and holds the answer; the worker is killed while it waits. The message row is left
"sending". A restarted worker's sweeper finds it once its lease has passed and settles it:

- Twilio: Relais asks Twilio for messages to that number since the attempt started, finds
  the accepted one, and marks the row sent with its SID: no second SMS.
- SendGrid: if the Event Webhook's "processed" event arrived meanwhile, the row is already
  sent: no second email. Without it, SendGrid cannot be asked, and the email is sent again:
  that duplicate is bounded (only a crash between acceptance and the commit of "sent"
  causes it) and its delay is measured here and documented in docs/notifications.md.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from plugin.milestones import Milestone
from plugin.notifications.channels import Channel
from plugin.notifications.models import MessageState, NotificationMessage
from plugin.notifications.settings import (
    DEFAULT_SETTINGS,
    MilestoneRule,
    QuietHours,
    save_settings,
)
from tests.notifications.conftest import CAMILLE, sendgrid_post
from tests.standins import sendgrid_server, twilio_server
from tests.standins.http_recorder import Answer

pytestmark = pytest.mark.slow

SEND_TIMEOUT = 6.0
LEASE = 8.0
ROOT = Path(__file__).resolve().parents[2]
RESULTS: dict[str, dict[str, float]] = {}


def _start_worker(config, sendgrid, twilio, log_path: Path) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    settings = {
        "database_url": config.database_url,
        "redis_url": config.redis_url,
        "instance_dir": config.instance_dir,
        "sendgrid_api_key": sendgrid_server.API_KEY,
        "sendgrid_url": sendgrid.url,
        "twilio_account_sid": twilio_server.ACCOUNT_SID,
        "twilio_auth_token": twilio_server.AUTH_TOKEN,
        "twilio_url": twilio.url,
        "sms_from": config.twilio_sms_from,
        "whatsapp_from": config.twilio_whatsapp_from,
        "send_timeout": SEND_TIMEOUT,
        "lease_seconds": LEASE,
    }
    log = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "tests.notifications.crash_worker", json.dumps(settings)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _row(runtime, channel: str) -> NotificationMessage | None:  # type: ignore[no-untyped-def]
    with runtime.db.session() as session:
        return session.scalar(
            select(NotificationMessage).where(
                NotificationMessage.milestone == "out_for_delivery",
                NotificationMessage.channel == channel,
            )
        )


def _wait(predicate, timeout: float, what: str) -> float:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.time()
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _stop(process: subprocess.Popen) -> None:  # type: ignore[type-arg]
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.parametrize("provider", ["twilio", "sendgrid", "sendgrid+processed"])
def test_sigkill_during_a_send_then_restart(
    provider, config, runtime, story, shop, tmp_path, client, sendgrid_keys
):
    channel = Channel.SMS if provider == "twilio" else Channel.EMAIL
    with runtime.db.transaction() as session:
        save_settings(
            session,
            shop.id,
            replace(
                DEFAULT_SETTINGS,
                quiet_hours=QuietHours(enabled=False),  # the worker runs on the real clock
                rules={
                    **DEFAULT_SETTINGS.rules,
                    Milestone.SHIPPED: MilestoneRule(False, (Channel.EMAIL,)),
                    Milestone.OUT_FOR_DELIVERY: MilestoneRule(True, (channel,)),
                },
            ),
        )
    log_path = tmp_path / "worker.log"
    with sendgrid_server.sendgrid_standin() as sendgrid, twilio_server.twilio_standin() as twilio:
        standin = twilio if channel == Channel.SMS else sendgrid
        path = "/Messages.json" if channel == Channel.SMS else "/v3/mail/send"
        # The provider accepts, then holds its answer longer than the worker will live.
        standin.script(Answer(201 if channel == Channel.SMS else 202, delay=30))
        camille = story(CAMILLE, 1001)
        camille.ordered()
        fulfillment = camille.shipped()
        camille.event(fulfillment, "out_for_delivery", 40)

        worker = _start_worker(config, sendgrid, twilio, log_path)
        try:
            assert standin.wait_for(1, timeout=30), log_path.read_text()
            accepted_at = standin.posts(path)[0].received_at
            time.sleep(0.3)
            worker.send_signal(signal.SIGKILL)
            killed_at = time.time()
            worker.wait(timeout=10)
        finally:
            _stop(worker)
        row = _row(runtime, channel)
        assert row is not None and row.state == MessageState.SENDING
        assert row.attempts == 1

        if provider == "sendgrid+processed":
            # SendGrid's Event Webhook reports the message processed (its custom args name it).
            response = sendgrid_post(
                client,
                sendgrid_keys[0],
                [
                    {
                        "email": "camille.martin@example.fr",
                        "event": "processed",
                        "timestamp": int(time.time()),
                        "relais_message_id": str(row.id),
                        "sg_message_id": "sgAccepted1.filter",
                    }
                ],
            )
            assert response.status_code == 204

        restarted = _start_worker(config, sendgrid, twilio, log_path)
        restarted_at = time.time()
        try:
            settled_at = _wait(
                lambda: (r := _row(runtime, channel)) is not None and r.state == MessageState.SENT,
                timeout=LEASE + 30,
                what="the message to be settled",
            )
            time.sleep(1.0)  # room for a (wrong) second send to show up
        finally:
            _stop(restarted)
        row = _row(runtime, channel)
        assert row is not None
        sends = standin.posts(path)
        RESULTS[provider] = {
            "sends": len(sends),
            "kill_to_settled_s": round(settled_at - killed_at, 2),
            "restart_to_settled_s": round(settled_at - restarted_at, 2),
            "duplicate_after_s": round(sends[1].received_at - accepted_at, 2)
            if len(sends) > 1
            else 0.0,
        }
        print(f"\n{provider}: {RESULTS[provider]}  (reason: {row.reason})")
        if provider == "twilio":
            assert len(sends) == 1, "Twilio had accepted the SMS: no second one"
            assert row.provider_id == twilio.state.messages[0]["sid"]
            assert row.reason == "recovered: the provider had already accepted it"
        elif provider == "sendgrid+processed":
            assert len(sends) == 1
            assert row.provider_id == "sgAccepted1"
        else:
            # Not knowable from SendGrid: sent again, once, after the lease.
            assert len(sends) == 2
            assert row.attempts == 2
            assert LEASE - 1 <= sends[1].received_at - accepted_at <= LEASE + 15

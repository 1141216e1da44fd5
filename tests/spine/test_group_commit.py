"""Group commit: concurrent webhooks share one transaction and one Redis round trip."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from plugin.group_commit import GroupCommit
from plugin.models import WebhookDelivery
from plugin.runtime import Runtime
from tests.conftest import DEMO_SHOP, sign
from webhooks import intake


class RecordingWriter:
    """Writes by doubling; the first call waits until released, so others pile up."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, items: Sequence[int]) -> list[int | BaseException]:
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.entered.set()
            assert self.release.wait(5)
        return [ValueError(f"refused {i}") if i < 0 else i * 2 for i in items]


Submitted = tuple[dict[int, Any], list[threading.Thread]]


def _submit_in_threads(committer: GroupCommit[int, int], items: list[int]) -> Submitted:
    outcomes: dict[int, Any] = {}

    def run(item: int) -> None:
        try:
            outcomes[item] = committer.submit(item)
        except BaseException as exc:
            outcomes[item] = exc

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    return outcomes, threads


def _join(submitted: Submitted) -> dict[int, Any]:
    outcomes, threads = submitted
    for thread in threads:
        thread.join(5)
    return outcomes


def test_a_lone_item_is_written_at_once_by_its_own_thread() -> None:
    writer = RecordingWriter()
    writer.release.set()
    committer = GroupCommit(writer)
    assert committer.submit(21) == 42
    assert writer.batches == [[21]]


def test_items_arriving_during_a_write_are_written_together() -> None:
    writer = RecordingWriter()
    committer = GroupCommit(writer)
    first = _submit_in_threads(committer, [1])
    assert writer.entered.wait(5)
    others = _submit_in_threads(committer, [2, 3, 4, 5, -6])
    # Wait until the five are queued behind the write in progress.
    for _ in range(500):
        if len(committer._pending) == 5:
            break
        threading.Event().wait(0.01)
    writer.release.set()
    assert _join(first) == {1: 2}
    results = _join(others)
    assert writer.batches[0] == [1]
    assert sorted(writer.batches[1]) == [-6, 2, 3, 4, 5]
    assert len(writer.batches) == 2
    assert {item: results[item] for item in (2, 3, 4, 5)} == {2: 4, 3: 6, 4: 8, 5: 10}
    # An item's own failure reaches only its caller.
    assert isinstance(results[-6], ValueError) and str(results[-6]) == "refused -6"


def test_a_failed_write_reaches_every_caller_of_its_batch_and_the_next_batch_runs() -> None:
    calls: list[list[int]] = []

    def write(items: Sequence[int]) -> list[int | BaseException]:
        calls.append(list(items))
        if len(calls) == 1:
            raise ConnectionError("database unreachable")
        return list(items)

    committer = GroupCommit(write)
    with pytest.raises(ConnectionError):
        committer.submit(1)
    assert committer.submit(2) == 2


def test_batches_are_capped() -> None:
    writer = RecordingWriter()
    committer = GroupCommit(writer, max_batch=3)
    first = _submit_in_threads(committer, [1])
    assert writer.entered.wait(5)
    others = _submit_in_threads(committer, list(range(10, 17)))
    for _ in range(500):
        if len(committer._pending) == 7:
            break
        threading.Event().wait(0.01)
    writer.release.set()
    _join(first)
    results = _join(others)
    assert all(len(batch) <= 3 for batch in writer.batches)
    assert results == {item: item * 2 for item in range(10, 17)}


def _arrival(webhook_id: str, shop: str = "bench-shop.myshopify.com") -> intake.Arrival:
    incoming = intake.IncomingDelivery(webhook_id, "orders/create", shop, "2026-07", None, None)
    return intake.Arrival(incoming, json.dumps({"id": webhook_id}))


def test_one_row_the_database_refuses_fails_only_its_own_delivery(runtime: Runtime) -> None:
    writer = intake.IntakeWriter(runtime.db, runtime.redis, runtime.queues, budget=100)
    broken = intake.Arrival(
        intake.IncomingDelivery("broken", None, "a.myshopify.com", None, None, None),  # type: ignore[arg-type]
        "{}",
    )
    results = writer.store_and_queue([_arrival("good-1"), broken, _arrival("good-2")])
    assert isinstance(results[0], intake.Stored) and results[0].outcome == "accepted"
    assert isinstance(results[1], Exception)
    assert isinstance(results[2], intake.Stored) and results[2].outcome == "accepted"
    with runtime.db.session() as session:
        stored = set(session.scalars(select(WebhookDelivery.webhook_id)))
    assert stored == {"good-1", "good-2"}
    assert runtime.queues["webhooks"].count == 2


def test_duplicates_inside_one_batch_are_stored_once(runtime: Runtime) -> None:
    writer = intake.IntakeWriter(runtime.db, runtime.redis, runtime.queues, budget=100)
    results = writer.store_and_queue([_arrival("same"), _arrival("same"), _arrival("other")])
    assert all(isinstance(result, intake.Stored) for result in results)
    first, second, _ = results
    assert isinstance(first, intake.Stored) and isinstance(second, intake.Stored)
    assert first.delivery_id == second.delivery_id
    with runtime.db.session() as session:
        rows = session.execute(select(WebhookDelivery.webhook_id, WebhookDelivery.duplicates)).all()
    assert sorted(rows) == [("other", 0), ("same", 1)]


def test_concurrent_webhooks_are_each_stored_and_queued_once(app: Flask, runtime: Runtime) -> None:
    """Twelve threads post at once (some deliveries twice): every answer is 200, every
    delivery is one row and one job."""
    answers: list[int] = []
    lock = threading.Lock()

    def post(n: int) -> None:
        body = json.dumps({"id": n % 9}).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": DEMO_SHOP,
            "X-Shopify-Webhook-Id": f"concurrent-{n % 9}",
            "X-Shopify-Hmac-Sha256": sign(body),
        }
        response = app.test_client().post("/webhooks", data=body, headers=headers)
        with lock:
            answers.append(response.status_code)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert answers == [200] * 12
    with runtime.db.session() as session:
        count = session.scalar(select(func.count()).select_from(WebhookDelivery))
    assert count == 9
    queued = set(runtime.queues["webhooks"].job_ids) | set(runtime.queues["webhooks_bulk"].job_ids)
    with runtime.db.session() as session:
        ids = set(session.scalars(select(WebhookDelivery.id)))
    assert queued == {f"delivery-{delivery_id}" for delivery_id in ids}

"""Group commit: the writes of concurrent request threads share one transaction.

A web process serving several requests at once (gunicorn's threaded worker) would otherwise
pay one database commit and one Redis round trip per request, one after the other, behind
SQLite's single writer. Here the first thread to arrive writes everything pending at that
moment; threads arriving meanwhile wait and are written together by the next one. A lone
request is written at once by its own thread: no delay is ever added to wait for company.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(eq=False)
class _Ticket(Generic[Item, Result]):
    item: Item
    done: bool = False
    result: Result | None = None
    error: BaseException | None = field(default=None)

    def outcome(self) -> Result:
        if self.error is not None:
            raise self.error
        if not self.done:  # pragma: no cover - the writer thread died without a word
            raise RuntimeError("group commit ended without writing this item")
        return self.result  # type: ignore[return-value]


class GroupCommit(Generic[Item, Result]):
    """Calls ``write`` with the items submitted concurrently, in arrival order.

    ``write`` returns one entry per item: its result, or an exception that only that item's
    caller receives. An exception raised by ``write`` itself reaches every caller of the
    batch (the transaction as a whole did not happen).
    """

    def __init__(
        self,
        write: Callable[[Sequence[Item]], Sequence[Result | BaseException]],
        *,
        max_batch: int = 64,
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._pending: list[_Ticket[Item, Result]] = []
        self._writing = False
        self._changed = threading.Condition()

    def submit(self, item: Item) -> Result:
        """Write ``item`` (with whatever else is pending) and return its result."""
        ticket: _Ticket[Item, Result] = _Ticket(item)
        with self._changed:
            self._pending.append(ticket)
        while True:
            with self._changed:
                while self._writing and not ticket.done:
                    self._changed.wait()
                if ticket.done:
                    return ticket.outcome()
                self._writing = True
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
            self._write_batch(batch)

    def _write_batch(self, batch: list[_Ticket[Item, Result]]) -> None:
        try:
            results = self._write([ticket.item for ticket in batch])
            if len(results) != len(batch):
                raise RuntimeError("group commit: one result per item expected")
            for ticket, result in zip(batch, results, strict=True):
                if isinstance(result, BaseException):
                    ticket.error = result
                else:
                    ticket.result = result
        except BaseException as exc:  # every caller of the batch gets the failure
            for ticket in batch:
                ticket.error = exc
            if not isinstance(exc, Exception):
                raise
        finally:
            with self._changed:
                for ticket in batch:
                    ticket.done = True
                self._writing = False
                self._changed.notify_all()

"""Wallet state in the database: passes, device registrations, and update tags.

Update tags. Every change to a pass takes the next value of one counter row
(:class:`~wallet.models.WalletUpdateCounter`) in the transaction that records it, and the
device's "what changed since tag N" lists the passes whose value is above N. Taking the
value locks the counter row until commit, so changes commit in the order of their values:
a device that read tag N has seen every change numbered N or less, and whatever commits
later gets a larger number. Wall-clock seconds would not do: two changes in one second,
or a transaction that commits after a later one, would be skipped by the next poll.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.digits import ascii_int
from plugin.models import Order
from plugin.upsert import insert_once
from wallet.models import KINDS, WalletPass, WalletRegistration, WalletUpdateCounter
from wallet.orders import next_updated_at

COUNTER = "updates"
# Compared against when the serial number is unknown, so that the answer takes as long
# whether the pass exists or not.
_DUMMY_TOKEN = secrets.token_urlsafe(24)


def new_serial_number() -> str:
    """Random and stable: names the pass without revealing the order (24 characters)."""
    return secrets.token_urlsafe(18)


def new_authentication_token() -> str:
    """The shared secret of one pass: 32 URL-safe characters (Apple asks for 16 or more)."""
    return secrets.token_urlsafe(24)


# ------------------------------------------------------------------------ update tags


def next_update(session: Session) -> int:
    """Take the next update number (locks the counter row until the transaction ends)."""
    statement = (
        update(WalletUpdateCounter)
        .where(WalletUpdateCounter.name == COUNTER)
        .values(value=WalletUpdateCounter.value + 1)
        .returning(WalletUpdateCounter.value)
        .execution_options(synchronize_session=False)
    )
    value = session.execute(statement).scalar_one_or_none()
    if value is None:
        insert_once(
            session, WalletUpdateCounter, {"name": COUNTER, "value": 0}, conflict_columns=["name"]
        )
        value = session.execute(statement).scalar_one()
    return int(value)


def current_update(session: Session) -> int:
    """The last update number handed out (0 before the first)."""
    value = session.scalar(
        select(WalletUpdateCounter.value).where(WalletUpdateCounter.name == COUNTER)
    )
    return int(value or 0)


def parse_tag(tag: str | None) -> int | None:
    """A tag we issued, or None (missing, or not ours: the device then gets everything)."""
    return None if tag is None else ascii_int(tag.strip())


# ---------------------------------------------------------------------------- passes


def find_pass(session: Session, order_id: int) -> WalletPass | None:
    return session.scalar(select(WalletPass).where(WalletPass.order_id == order_id))


def ensure_pass(session: Session, order: Order, *, now: datetime | None = None) -> WalletPass:
    """The order's pass row, created (serial number, token, first update) if missing."""
    existing = find_pass(session, order.id)
    if existing is not None:
        return existing
    moment = now or utcnow()
    insert_once(
        session,
        WalletPass,
        {
            "shop_id": order.shop_id,
            "order_id": order.id,
            "serial_number": new_serial_number(),
            "authentication_token": new_authentication_token(),
            "update_seq": next_update(session),
            "updated_at": next_updated_at(moment, None),
            "created_at": moment,
        },
        conflict_columns=["order_id"],
    )
    created = find_pass(session, order.id)
    assert created is not None
    return created


def record_update(
    session: Session, order_id: int, *, now: datetime | None = None
) -> WalletPass | None:
    """Mark the order's pass changed: a new update number and a later ``updated_at``.

    None when the order has no pass yet (nobody downloaded it: the first download will be
    current anyway). The counter is taken before the pass row is locked, in every code
    path, so two updates never wait for each other in opposite orders."""
    if session.scalar(select(WalletPass.id).where(WalletPass.order_id == order_id)) is None:
        return None
    seq = next_update(session)
    wallet_pass = session.scalar(
        select(WalletPass)
        .where(WalletPass.order_id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert wallet_pass is not None
    wallet_pass.update_seq = seq
    wallet_pass.updated_at = next_updated_at(now or utcnow(), wallet_pass.updated_at)
    return wallet_pass


@dataclass(frozen=True)
class Authenticated:
    """A pass the device proved it holds (serial number and token matched)."""

    wallet_pass: WalletPass
    order: Order


def authenticate(session: Session, serial_number: str, token: str | None) -> Authenticated | None:
    """The pass named by ``serial_number`` if ``token`` is its token (constant-time
    comparison), else None. Redacted orders no longer authenticate."""
    row = session.execute(
        select(WalletPass, Order)
        .join(Order, Order.id == WalletPass.order_id)
        .where(WalletPass.serial_number == serial_number)
    ).first()
    expected = row[0].authentication_token if row is not None else _DUMMY_TOKEN
    presented = token or ""
    matches = hmac.compare_digest(expected.encode(), presented.encode())
    if row is None or not matches or row[1].redacted_at is not None:
        return None
    return Authenticated(row[0], row[1])


# --------------------------------------------------------------------- registrations


def register(
    session: Session, kind: str, device_identifier: str, push_token: str, wallet_pass: WalletPass
) -> bool:
    """Register a device for a pass or order; True when new, False when already known
    (its push token is refreshed then: a restored device keeps its identifier)."""
    now = utcnow()
    new_id = insert_once(
        session,
        WalletRegistration,
        {
            "shop_id": wallet_pass.shop_id,
            "wallet_pass_id": wallet_pass.id,
            "kind": kind,
            "device_identifier": device_identifier,
            "push_token": push_token,
            "created_at": now,
            "updated_at": now,
        },
        conflict_columns=["kind", "device_identifier", "wallet_pass_id"],
    )
    if new_id is not None:
        return True
    session.execute(
        update(WalletRegistration)
        .where(
            WalletRegistration.kind == kind,
            WalletRegistration.device_identifier == device_identifier,
            WalletRegistration.wallet_pass_id == wallet_pass.id,
            WalletRegistration.push_token != push_token,
        )
        .values(push_token=push_token, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return False


def unregister(session: Session, kind: str, device_identifier: str, wallet_pass: WalletPass) -> int:
    result = session.execute(
        delete(WalletRegistration).where(
            WalletRegistration.kind == kind,
            WalletRegistration.device_identifier == device_identifier,
            WalletRegistration.wallet_pass_id == wallet_pass.id,
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def updated_since(
    session: Session, kind: str, device_identifier: str, tag: str | None
) -> tuple[list[str], str] | None:
    """Serial numbers (or order identifiers) of the device's passes changed after ``tag``,
    with the tag to send next time; None when nothing changed (the device gets a 204).

    The counter is read first: everything numbered up to that value has committed, so
    the tag returned never skips a change (see the module docstring)."""
    current = current_update(session)
    since = parse_tag(tag)
    if since is None or since > current:
        # No tag, or one we never issued (a restored database): send every registration.
        since = -1
    rows = session.execute(
        select(WalletPass.serial_number, WalletPass.update_seq)
        .join(WalletRegistration, WalletRegistration.wallet_pass_id == WalletPass.id)
        .where(
            WalletRegistration.kind == kind,
            WalletRegistration.device_identifier == device_identifier,
            WalletPass.update_seq > since,
        )
        .order_by(WalletPass.update_seq)
    ).all()
    if not rows:
        return None
    last = max(current, max(seq for _, seq in rows))
    return [serial for serial, _ in rows], str(last)


@dataclass(frozen=True)
class Registration:
    id: int
    kind: str
    push_token: str


def registrations_of(session: Session, wallet_pass_id: int) -> list[Registration]:
    rows = session.execute(
        select(WalletRegistration.id, WalletRegistration.kind, WalletRegistration.push_token)
        .where(WalletRegistration.wallet_pass_id == wallet_pass_id)
        .order_by(WalletRegistration.id)
    )
    return [Registration(id_, kind, token) for id_, kind, token in rows]


def forget_devices(
    session: Session, wallet_pass_id: int, kind: str, push_tokens: Sequence[str]
) -> int:
    """Delete the registrations APNs says are dead (only those still on that token: a
    device that re-registered since with a new token stays)."""
    if not push_tokens:
        return 0
    result = session.execute(
        delete(WalletRegistration).where(
            WalletRegistration.wallet_pass_id == wallet_pass_id,
            WalletRegistration.kind == kind,
            WalletRegistration.push_token.in_(list(push_tokens)),
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# ------------------------------------------------- what the rest of Relais plugs in


class RegisteredDevices:
    """``WalletPresence`` for notifications: does a device follow this order in Wallet?

    A pass registration and a Wallet order registration both count: either way the
    shopper sees the change on their device without a message."""

    def has_registered_device(self, session: Session, order_id: int) -> bool:
        # Asked for every milestone of every order: the statement is built once and read on
        # the session's connection (the ORM adds nothing to one id and costs five times more).
        found = session.connection().execute(_DEVICE_OF_ORDER, {"order_id": order_id}).scalar()
        return found is not None


_DEVICE_OF_ORDER = (
    select(WalletRegistration.id)
    .join(WalletPass, WalletPass.id == WalletRegistration.wallet_pass_id)
    .where(WalletPass.order_id == bindparam("order_id"))
    .limit(1)
)


class WalletRecords:
    """Registrations as personal data (compliance topics) and as part of ``relais order
    show``. Push tokens identify a device: exported on request, erased with the order."""

    name = "wallet"

    def describe(self, session: Session, order_id: int) -> dict[str, Any] | None:
        wallet_pass = find_pass(session, order_id)
        if wallet_pass is None:
            return None
        counts = dict(
            session.execute(
                select(WalletRegistration.kind, func.count())
                .where(WalletRegistration.wallet_pass_id == wallet_pass.id)
                .group_by(WalletRegistration.kind)
            ).all()
        )
        return {
            "serial_number": wallet_pass.serial_number,
            "registrations": {kind: int(counts.get(kind, 0)) for kind in KINDS},
            "last_update": wallet_pass.updated_at.isoformat(),
            "update_tag": wallet_pass.update_seq,
        }

    def export(self, session: Session, shop_id: int, order_ids: Sequence[int]) -> Any:
        if not order_ids:
            return []
        rows = session.execute(
            select(WalletRegistration, WalletPass.serial_number, Order.name)
            .join(WalletPass, WalletPass.id == WalletRegistration.wallet_pass_id)
            .join(Order, Order.id == WalletPass.order_id)
            .where(WalletPass.shop_id == shop_id, WalletPass.order_id.in_(list(order_ids)))
            .order_by(WalletRegistration.id)
        )
        return [
            {
                "order": order_name,
                "kind": registration.kind,
                "serial_number": serial,
                "device": registration.device_identifier,
                "push_token": registration.push_token,
                "registered_at": registration.created_at.isoformat(),
            }
            for registration, serial, order_name in rows
        ]

    def redact(self, session: Session, shop_id: int, order_ids: Sequence[int]) -> None:
        if not order_ids:
            return
        passes = select(WalletPass.id).where(
            WalletPass.shop_id == shop_id, WalletPass.order_id.in_(list(order_ids))
        )
        session.execute(
            delete(WalletRegistration).where(WalletRegistration.wallet_pass_id.in_(passes))
        )


def forget_shop_devices(session: Session, shop_id: int) -> None:
    """Uninstall hook: stop pushing to the devices of a shop that left."""
    session.execute(delete(WalletRegistration).where(WalletRegistration.shop_id == shop_id))

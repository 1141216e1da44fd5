"""Orders read through the Admin API: the import on install, and reconciles.

* On install, the open orders of the last 60 days are imported page by page; the cursor
  is saved with each page, so a crash or a deploy resumes where it stopped. History is
  imported silently: its milestones are recorded but not announced to shoppers.
* An order can be reconciled on demand (``relais order sync SHOP ORDER``) and, nightly,
  every order still under way whose last update is old (a lost webhook shows up there).
  Those milestones are announced like a webhook's.

Both feed the same :mod:`plugin.tracking` functions as the webhooks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from plugin import events, tracking
from plugin.db import utcnow
from plugin.digits import ascii_int
from plugin.errors import PayloadError
from plugin.models import DomainEvent, Order, Shipment, Shop
from plugin.runtime import Runtime, current_runtime
from plugin.shopify import graphql_shapes as shapes
from plugin.shopify.admin_api import AccessDenied, AdminApi, QueryRejected
from plugin.shopify.connection import shop_job_id, shopify_connection
from plugin.shopify.models import ShopifyAccessToken, ShopifyOrderImport
from plugin.shopify.tokens import NoAccessToken
from plugin.tracking import FulfillmentEventSnapshot, OrderSnapshot

log = logging.getLogger(__name__)

IMPORT_WINDOW = timedelta(days=60)
# Pages per job: a job stays short, then queues the next one (a deploy loses nothing).
PAGES_PER_JOB = 20
# An order under way with no update for this long is read again from Shopify at night.
STALE_AFTER = timedelta(days=2)
MAX_RECONCILES_PER_SHOP = 500


class OrderNotFound(Exception):
    """Neither Relais nor Shopify knows this order."""


@dataclass(frozen=True)
class ImportProgress:
    pages: int
    orders: int
    complete: bool
    stopped: str | None = None


@dataclass(frozen=True)
class ReconcileResult:
    order_shopify_id: int
    name: str | None
    milestones: tuple[str, ...]
    found: bool


# --- shop details -------------------------------------------------------------------------


def sync_shop_details(runtime: Runtime, admin: AdminApi, shop_id: int) -> Shop:
    """Read name, domain, locale, time zone and currency from Shopify into the shop row."""
    domain = _shop_domain(runtime, shop_id)
    data = admin.query(domain, shapes.SHOP_QUERY)
    snapshot = shapes.shop_snapshot(domain, data)
    with runtime.db.transaction() as session:
        return tracking.apply_shop(session, snapshot)


def sync_shop_job(shop_id: int) -> str:
    """Job: :func:`sync_shop_details` (queued on install)."""
    runtime = current_runtime()
    if not _is_installed(runtime, shop_id):
        return "shop not installed"
    try:
        shop = sync_shop_details(runtime, shopify_connection().admin, shop_id)
    except (NoAccessToken, AccessDenied, QueryRejected, PayloadError) as exc:
        log.warning("shop %s details not synced: %s", shop_id, exc)
        return f"stopped: {exc}"
    return f"shop {shop.domain} synced"


# --- import of recent open orders ---------------------------------------------------------


def start_order_import(runtime: Runtime, shop_id: int) -> None:
    """(Re)start the import from the beginning of the window (install or reinstall)."""
    since = utcnow() - IMPORT_WINDOW
    with runtime.db.transaction() as session:
        state = session.get(ShopifyOrderImport, shop_id)
        if state is None:
            session.add(ShopifyOrderImport(shop_id=shop_id, since=since, pages=0, orders=0))
        else:
            state.since, state.cursor, state.pages, state.orders = since, None, 0, 0
            state.started_at, state.completed_at, state.last_error = utcnow(), None, None


def start_order_import_job(shop_id: int) -> str:
    """Job: reset the import of the shop, then run its first pages."""
    runtime = current_runtime()
    if not _is_installed(runtime, shop_id):
        return "shop not installed"
    start_order_import(runtime, shop_id)
    return import_orders_job(shop_id)


def import_orders(
    runtime: Runtime, admin: AdminApi, shop_id: int, *, max_pages: int = PAGES_PER_JOB
) -> ImportProgress:
    """Import up to ``max_pages`` pages from the saved cursor; each page commits with its
    cursor. Orders cut short by the page's nested limits are reconciled one by one."""
    domain = _shop_domain(runtime, shop_id)
    pages = orders = 0
    for _ in range(max_pages):
        with runtime.db.session() as session:
            state = session.get(ShopifyOrderImport, shop_id)
            installed = session.scalar(select(Shop.uninstalled_at).where(Shop.id == shop_id))
        if state is None or state.completed_at is not None:
            return ImportProgress(pages, orders, complete=True)
        if installed is not None:
            return ImportProgress(pages, orders, complete=False, stopped="shop uninstalled")
        variables = {
            **shapes.BACKFILL_SIZES,
            "after": state.cursor,
            "query": shapes.open_orders_filter(state.since),
        }
        page = shapes.order_page(admin.query(domain, shapes.OPEN_ORDERS_QUERY, variables))
        with runtime.db.transaction() as session:
            shop = session.get(Shop, shop_id)
            assert shop is not None
            _apply(session, shop, page.orders, page.events, announce=False)
            current = session.get(ShopifyOrderImport, shop_id)
            assert current is not None
            current.cursor = page.next_cursor
            current.pages += 1
            current.orders += len(page.orders)
            current.last_error = None
            if page.next_cursor is None:
                current.completed_at = utcnow()
        for order_id in page.truncated:
            _queue_reconcile(runtime, shop_id, order_id)
        pages += 1
        orders += len(page.orders)
        if page.next_cursor is None:
            return ImportProgress(pages, orders, complete=True)
    return ImportProgress(pages, orders, complete=False)


def import_orders_job(shop_id: int) -> str:
    """Job: import the next pages; queue itself again until the import is complete."""
    runtime = current_runtime()
    try:
        progress = import_orders(runtime, shopify_connection().admin, shop_id)
    except (NoAccessToken, AccessDenied, QueryRejected, PayloadError) as exc:
        # Retrying will not help: keep the cursor, say why; the next install resumes.
        with runtime.db.transaction() as session:
            state = session.get(ShopifyOrderImport, shop_id)
            if state is not None:
                state.last_error = str(exc)[:1000]
        log.warning("order import of shop %s stopped: %s", shop_id, exc)
        return f"stopped: {exc}"
    if not progress.complete and progress.stopped is None:
        with runtime.db.session() as session:
            done = session.scalar(
                select(ShopifyOrderImport.pages).where(ShopifyOrderImport.shop_id == shop_id)
            )
        runtime.queues.enqueue(
            "default",
            "plugin.shopify.sync.import_orders_job",
            shop_id,
            job_id=shop_job_id(shop_id, f"order-import-{done}"),
        )
    return f"{progress.pages} page(s), {progress.orders} order(s), complete={progress.complete}"


# --- reconcile ----------------------------------------------------------------------------


def reconcile_order(
    runtime: Runtime, admin: AdminApi, shop_id: int, order_shopify_id: int
) -> ReconcileResult:
    """Read one order from Shopify and apply it as a webhook would; announce what moved."""
    domain = _shop_domain(runtime, shop_id)
    data = admin.query(
        domain,
        shapes.ORDER_QUERY,
        {"id": shapes.order_gid(order_shopify_id), **shapes.RECONCILE_SIZES},
    )
    node = data.get("order")
    if not node:
        return ReconcileResult(order_shopify_id, None, (), found=False)
    snapshot, order_events, _ = shapes.order_snapshot(node)
    with runtime.db.transaction() as session:
        shop = session.get(Shop, shop_id)
        assert shop is not None
        moved = _apply(session, shop, [snapshot], order_events, announce=True)
        recorded = events.recorded_event_ids(session)
    # Exactly the events this transaction recorded (others are their own job's to dispatch).
    events.dispatch(runtime.db, runtime.queues, runtime.subscribers, recorded)
    return ReconcileResult(order_shopify_id, snapshot.name, tuple(moved), found=True)


def reconcile_order_job(shop_id: int, order_shopify_id: int) -> str:
    """Job: :func:`reconcile_order`."""
    runtime = current_runtime()
    if not _is_installed(runtime, shop_id):
        return "shop not installed"
    try:
        result = reconcile_order(runtime, shopify_connection().admin, shop_id, order_shopify_id)
    except (NoAccessToken, AccessDenied, QueryRejected, PayloadError) as exc:
        log.warning("order %s of shop %s not reconciled: %s", order_shopify_id, shop_id, exc)
        return f"stopped: {exc}"
    if not result.found:
        return "order not found in Shopify"
    return f"order {result.name}: " + (", ".join(result.milestones) or "no change")


def stale_order_ids(
    session: Session, shop_id: int, *, now: datetime, limit: int = MAX_RECONCILES_PER_SHOP
) -> list[int]:
    """Shopify ids of the shop's orders still under way whose last update is old."""
    cutoff = now - STALE_AFTER
    recently_moved = exists().where(Shipment.order_id == Order.id, Shipment.updated_at >= cutoff)
    under_way = exists().where(
        Shipment.order_id == Order.id, Shipment.milestone.not_in(("delivered", "cancelled"))
    )
    no_shipment = ~exists().where(Shipment.order_id == Order.id)
    return list(
        session.scalars(
            select(Order.shopify_id)
            .where(
                Order.shop_id == shop_id,
                Order.cancelled_at.is_(None),
                Order.redacted_at.is_(None),
                Order.created_at >= now - IMPORT_WINDOW,
                Order.updated_at < cutoff,
                ~recently_moved,
                under_way | no_shipment,
            )
            .order_by(Order.updated_at)
            .limit(limit)
        )
    )


def reconcile_stale_orders_job() -> str:
    """Nightly job: queue a reconcile for every stale order of every installed shop."""
    runtime = current_runtime()
    now = utcnow()
    queued = 0
    with runtime.db.session() as session:
        shop_ids = list(
            session.scalars(
                select(Shop.id)
                .join(ShopifyAccessToken, ShopifyAccessToken.shop_id == Shop.id)
                .where(Shop.uninstalled_at.is_(None))
            )
        )
        stale = {shop_id: stale_order_ids(session, shop_id, now=now) for shop_id in shop_ids}
    for shop_id, order_ids in stale.items():
        for order_id in order_ids:
            _queue_reconcile(runtime, shop_id, order_id)
            queued += 1
    return f"{queued} order(s) queued for reconcile"


def resolve_order(runtime: Runtime, admin: AdminApi, shop_id: int, reference: str) -> int:
    """The Shopify id of ``reference``: a Shopify id, or a name like ``#1001``."""
    ref = reference.strip()
    number = ascii_int(ref)
    if number is not None and len(ref) > 6:
        return number
    name = ref if ref.startswith("#") else f"#{ref}"
    with runtime.db.session() as session:
        known = session.scalar(
            select(Order.shopify_id).where(Order.shop_id == shop_id, Order.name == name)
        )
    if known is not None:
        return known
    domain = _shop_domain(runtime, shop_id)
    variables = {**shapes.BACKFILL_SIZES, "first": 1, "after": None, "query": f"name:{name}"}
    page = shapes.order_page(admin.query(domain, shapes.OPEN_ORDERS_QUERY, variables))
    if not page.orders:
        raise OrderNotFound(f"order {name} not found in Relais nor in Shopify")
    return page.orders[0].shopify_id


def sync_order(
    runtime: Runtime, admin: AdminApi, shop_domain: str, reference: str
) -> ReconcileResult:
    """``relais order sync``: reconcile the order ``reference`` of ``shop_domain`` now."""
    with runtime.db.session() as session:
        shop_id = session.scalar(select(Shop.id).where(Shop.domain == shop_domain))
    if shop_id is None:
        raise OrderNotFound(f"{shop_domain} is not a shop of Relais")
    order_id = resolve_order(runtime, admin, shop_id, reference)
    return reconcile_order(runtime, admin, shop_id, order_id)


# --- shared -------------------------------------------------------------------------------


def _apply(
    session: Session,
    shop: Shop,
    orders: Sequence[OrderSnapshot],
    order_events: Sequence[FulfillmentEventSnapshot],
    *,
    announce: bool,
) -> list[str]:
    """Apply orders, then their carrier events, in one transaction; the milestones moved."""
    first_new_event = (session.scalar(select(func.max(DomainEvent.id))) or 0) + 1
    moved: list[str] = []
    order_ids: set[int] = set()
    for snapshot in orders:
        outcome = tracking.apply_order(session, shop, snapshot)
        moved += [m for _, m in outcome.milestones]
        if outcome.order_id is not None:
            order_ids.add(outcome.order_id)
    for event in sorted(order_events, key=lambda e: e.happened_at):
        moved += [m for _, m in tracking.apply_fulfillment_event(session, shop, event).milestones]
    if not announce and order_ids:
        # Imported history: recorded, never announced (no message for a month-old order).
        # These orders' rows are locked by this transaction, so their new events are ours.
        session.execute(
            update(DomainEvent)
            .where(
                DomainEvent.id >= first_new_event,
                DomainEvent.order_id.in_(order_ids),
                DomainEvent.dispatched_at.is_(None),
            )
            .values(dispatched_at=utcnow())
        )
    return moved


def _queue_reconcile(runtime: Runtime, shop_id: int, order_shopify_id: int) -> None:
    runtime.queues.enqueue(
        "default",
        "plugin.shopify.sync.reconcile_order_job",
        shop_id,
        order_shopify_id,
        job_id=shop_job_id(shop_id, f"reconcile-{order_shopify_id}"),
    )


def _shop_domain(runtime: Runtime, shop_id: int) -> str:
    with runtime.db.session() as session:
        domain = session.scalar(select(Shop.domain).where(Shop.id == shop_id))
    if domain is None:
        raise NoAccessToken(f"shop {shop_id} is unknown")
    return domain


def _is_installed(runtime: Runtime, shop_id: int) -> bool:
    with runtime.db.session() as session:
        row = session.execute(select(Shop.uninstalled_at).where(Shop.id == shop_id)).one_or_none()
    return row is not None and row.uninstalled_at is None

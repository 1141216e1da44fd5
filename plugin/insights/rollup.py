"""The dashboard's daily rollup, in the shop's time zone, kept equal to the raw rows.

Per local day: messages per channel (sent, delivered, opened, clicked, by the day a message
was created), clicks and views (by the day they happened) and ratings per score (by the day
of the shopper's first answer, at its latest score). A day's rows are recomputed from the
raw rows, never incremented: recomputing is idempotent, so a retried job, a provider event
received twice or two dashboards refreshing at once cannot count anything twice.

A refresh recomputes the days of the range that were never computed, and the days whose
raw rows changed since the previous refresh: messages (``updated_at``: state or provider
status), click and view events (appended, stamped when recorded) and answers
(``updated_at``). "Since" reaches back :data:`COMMIT_MARGIN` before the previous refresh, so
a transaction that stamped a row before that refresh but committed after it is still seen.
Changed days outside the range lose their rows, to be recomputed when a range asks for them.
A new time zone drops every row of the shop.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Date, Select, cast, delete, exists, func, insert, select
from sqlalchemy.orm import Session

from frontend.models import ShipmentFeedback
from plugin.db import utcnow
from plugin.insights.models import (
    DailyEvents,
    DailyMessageFigures,
    DailyRatings,
    EventKind,
    InsightEvent,
    RollupWatermark,
)
from plugin.insights.tracking import UPSELL_CAMPAIGN
from plugin.models import Shop
from plugin.notifications.models import MessageState, NotificationMessage
from plugin.runtime import current_runtime
from plugin.upsert import insert_once

CHANNELS = ("email", "sms", "whatsapp", "wallet")
DELIVERED_STATUSES = ("delivered", "opened", "clicked", "read")
OPENED_STATUSES = ("opened", "clicked", "read")
COUNTED_EVENTS = (EventKind.CLICK, EventKind.PAGE_VIEW, EventKind.UPSELL_VIEW)
# Longer than any transaction that writes messages, events or answers.
COMMIT_MARGIN = timedelta(minutes=10)
# Days the periodic refresh keeps up to date (the dashboard's longest usual range).
WARM_DAYS = 90
_DAY_TABLES = (DailyMessageFigures, DailyRatings, DailyEvents)


def shop_zone(name: str | None) -> ZoneInfo:
    """The shop's IANA time zone; UTC when it is missing or unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants ``[start, end)`` of one local day (23 or 25 hours on DST changes)."""
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def local_day(at: datetime, zone: ZoneInfo) -> date:
    """The local date of an instant (naive datetimes are UTC)."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(zone).date()


@dataclass
class DayFigures:
    """What the rollup holds for a range of days, summed by the dashboard."""

    # (day, channel) -> [sent, delivered, opened, clicked]
    messages: dict[tuple[date, str], list[int]] = field(default_factory=dict)
    link_clicks: int = 0
    page_views: int = 0
    upsell_views: int = 0
    upsell_clicks: int = 0
    # (day, scale, rating) -> answers
    ratings: dict[tuple[date, str, int], int] = field(default_factory=dict)


def refresh(
    session: Session, shop_id: int, zone: ZoneInfo, start: date, end: date, *, now: datetime
) -> int:
    """Bring the rollup of the local days ``[start, end)`` in line with the raw rows.

    Call inside a write transaction; concurrent refreshes of one shop wait for each other on
    the watermark row. Returns the number of days recomputed.
    """
    insert_once(
        session,
        RollupWatermark,
        {"shop_id": shop_id, "timezone": zone.key, "refreshed_at": None},
        conflict_columns=["shop_id"],
    )
    mark = session.scalars(
        select(RollupWatermark)
        .where(RollupWatermark.shop_id == shop_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if mark.timezone != zone.key:
        for table in _DAY_TABLES:
            session.execute(delete(table).where(table.shop_id == shop_id))
        mark.timezone, mark.refreshed_at = zone.key, None
    changed: set[date] = set()
    if mark.refreshed_at is not None:
        changed = _changed_days(session, shop_id, zone, mark.refreshed_at - COMMIT_MARGIN)
    e = DailyEvents
    present = set(
        session.scalars(select(e.day).where(e.shop_id == shop_id, e.day >= start, e.day < end))
    )
    wanted = {start + timedelta(days=n) for n in range((end - start).days)}
    _drop(session, shop_id, sorted(changed - wanted))
    todo = sorted((wanted - present) | (changed & wanted))
    _drop(session, shop_id, [d for d in todo if d in present])
    for day in todo:
        _recompute(session, shop_id, zone, day)
    mark.refreshed_at = now
    return len(todo)


def refresh_all_job() -> str:
    """Periodic job: bring the last :data:`WARM_DAYS` of every installed shop up to date, so
    that a dashboard load (which refreshes too) only recomputes what changed since."""
    runtime = current_runtime()
    with runtime.db.session() as session:
        shops = list(
            session.execute(
                select(Shop.id, Shop.iana_timezone).where(Shop.uninstalled_at.is_(None))
            )
        )
    for shop_id, timezone in shops:
        zone, now = shop_zone(timezone), utcnow()
        today = local_day(now, zone)
        with runtime.db.transaction() as session:
            refresh(
                session,
                shop_id,
                zone,
                today - timedelta(days=WARM_DAYS - 1),
                today + timedelta(days=1),
                now=now,
            )
    return f"{len(shops)} shop(s) refreshed"


def read(session: Session, shop_id: int, start: date, end: date) -> DayFigures:
    """The rollup of the local days ``[start, end)`` (refresh it first)."""
    figures = DayFigures()
    m, e, r = DailyMessageFigures, DailyEvents, DailyRatings
    for day, channel, *counts in session.execute(
        select(m.day, m.channel, m.sent, m.delivered, m.opened, m.clicked).where(
            m.shop_id == shop_id, m.day >= start, m.day < end
        )
    ):
        figures.messages[(day, channel)] = list(counts)
    totals = session.execute(
        select(
            func.coalesce(func.sum(e.link_clicks), 0),
            func.coalesce(func.sum(e.page_views), 0),
            func.coalesce(func.sum(e.upsell_views), 0),
            func.coalesce(func.sum(e.upsell_clicks), 0),
        ).where(e.shop_id == shop_id, e.day >= start, e.day < end)
    ).one()
    (figures.link_clicks, figures.page_views, figures.upsell_views, figures.upsell_clicks) = (
        int(v) for v in totals
    )
    for day, scale, rating, answers in session.execute(
        select(r.day, r.scale, r.rating, r.answers).where(
            r.shop_id == shop_id, r.day >= start, r.day < end
        )
    ):
        figures.ratings[(day, scale, rating)] = answers
    return figures


def _changed_days(session: Session, shop_id: int, zone: ZoneInfo, since: datetime) -> set[date]:
    m, e, f = NotificationMessage, InsightEvent, ShipmentFeedback
    messages = select(m.created_at).where(m.shop_id == shop_id, m.updated_at >= since)
    events = select(e.happened_at).where(
        e.shop_id == shop_id, e.kind.in_(COUNTED_EVENTS), e.happened_at >= since
    )
    clicked = (
        select(m.created_at)
        .select_from(e)
        .join(m, m.id == e.message_id)
        .where(e.shop_id == shop_id, e.kind == EventKind.CLICK, e.happened_at >= since)
    )
    answers = select(f.created_at).where(f.shop_id == shop_id, f.updated_at >= since)
    return set().union(
        *(_local_days(session, zone, q) for q in (messages, events, clicked, answers))
    )


def _local_days(session: Session, zone: ZoneInfo, instants: Select[datetime]) -> set[date]:
    """The distinct local days of a one-column query of instants."""
    if session.get_bind().dialect.name == "postgresql":
        # Thousands of instants a busy day: let the database reduce them to days.
        column = instants.subquery().c[0]
        day = cast(func.timezone(zone.key, column), Date)
        return set(session.scalars(select(day).distinct()))
    return {local_day(at, zone) for at in session.scalars(instants)}


def _drop(session: Session, shop_id: int, days: list[date]) -> None:
    for chunk in range(0, len(days), 500):
        some = days[chunk : chunk + 500]
        for table in _DAY_TABLES:
            session.execute(delete(table).where(table.shop_id == shop_id, table.day.in_(some)))


def _recompute(session: Session, shop_id: int, zone: ZoneInfo, day: date) -> None:
    lo, hi = day_bounds(day, zone)
    m, e, f = NotificationMessage, InsightEvent, ShipmentFeedback
    clicked = exists().where(e.message_id == m.id, e.kind == EventKind.CLICK, e.shop_id == shop_id)
    messages = session.execute(
        select(
            m.channel,
            func.count(),
            func.count().filter(m.delivery_status.in_(DELIVERED_STATUSES)),
            func.count().filter(m.delivery_status.in_(OPENED_STATUSES)),
            # Clicked: at least one click through the redirect.
            func.count().filter(clicked),
        )
        .where(
            m.shop_id == shop_id,
            m.state == MessageState.SENT,
            m.created_at >= lo,
            m.created_at < hi,
        )
        .group_by(m.channel)
    ).all()
    _insert(
        session,
        DailyMessageFigures,
        (
            {
                "shop_id": shop_id,
                "day": day,
                "channel": channel,
                "sent": sent,
                "delivered": delivered,
                "opened": opened,
                "clicked": clicks,
            }
            for channel, sent, delivered, opened, clicks in messages
        ),
    )
    in_day = (e.shop_id == shop_id, e.happened_at >= lo, e.happened_at < hi)
    link_clicks, page_views, upsell_views, upsell_clicks = session.execute(
        select(
            func.count().filter(e.kind == EventKind.CLICK),
            func.count().filter(e.kind == EventKind.PAGE_VIEW),
            func.count().filter(e.kind == EventKind.UPSELL_VIEW),
            func.count().filter(e.kind == EventKind.CLICK, e.campaign == UPSELL_CAMPAIGN),
        ).where(*in_day, e.kind.in_(COUNTED_EVENTS))
    ).one()
    # Written for every computed day, events or not: it marks the day as computed.
    session.execute(
        insert(DailyEvents).values(
            shop_id=shop_id,
            day=day,
            link_clicks=link_clicks,
            page_views=page_views,
            upsell_views=upsell_views,
            upsell_clicks=upsell_clicks,
        )
    )
    ratings = session.execute(
        select(f.scale, f.rating, func.count())
        .where(f.shop_id == shop_id, f.created_at >= lo, f.created_at < hi)
        .group_by(f.scale, f.rating)
    ).all()
    _insert(
        session,
        DailyRatings,
        (
            {"shop_id": shop_id, "day": day, "scale": scale, "rating": rating, "answers": n}
            for scale, rating, n in ratings
        ),
    )


def _insert(session: Session, table: type, rows: Iterable[dict[str, object]]) -> None:
    values = list(rows)
    if values:
        session.execute(insert(table), values)

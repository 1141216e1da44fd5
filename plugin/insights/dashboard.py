"""Every figure of the dashboard, computed from the raw rows in a few aggregate queries.

Messages (per channel: sent, delivered, opened, clicked), tracking page views, Wallet
passes and orders added, upsell views, clicks, orders and revenue, ratings, and the
shipments that need attention now. Dates are UTC days; the range is ``[start, end)``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session

from frontend.models import ShipmentFeedback
from plugin.insights.models import EventKind, InsightEvent, OrderAttribution
from plugin.insights.tracking import UPSELL_CAMPAIGN
from plugin.milestones import Milestone
from plugin.models import Order, Shipment
from plugin.notifications.models import NotificationMessage

CHANNELS = ("email", "sms", "whatsapp", "wallet")
DELIVERED_STATUSES = ("delivered", "opened", "clicked", "read")
OPENED_STATUSES = ("opened", "clicked", "read")
STALLED_AFTER = timedelta(days=4)
ATTENTION_LIMIT = 50
IN_TRANSIT = (Milestone.SHIPPED.value, Milestone.IN_TRANSIT.value, Milestone.DELAYED.value)
SETTLED = (
    Milestone.DELIVERED.value,
    Milestone.CANCELLED.value,
    Milestone.RETURNING_TO_SENDER.value,
    Milestone.FAILURE.value,
)


@dataclass
class ChannelFigures:
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0


@dataclass
class Attention:
    reason: str  # stalled | late | pickup | failed_attempt
    order_name: str
    order_shopify_id: int
    carrier: str | None
    tracking_number: str | None
    since: datetime | None


@dataclass
class Dashboard:
    start: date
    end: date  # exclusive
    currency: str
    channels: dict[str, ChannelFigures] = field(default_factory=dict)
    sent_per_day: dict[date, int] = field(default_factory=dict)
    link_clicks: int = 0
    page_views: int = 0
    wallet_passes_added: int = 0
    wallet_orders_added: int = 0
    wallet_pushes_sent: int | None = None  # None: not recorded by the Wallet package
    upsell_views: int = 0
    upsell_clicks: int = 0
    upsell_orders: int = 0
    upsell_revenue: Decimal = Decimal("0.00")
    attributed_orders: int = 0
    attributed_revenue: Decimal = Decimal("0.00")
    rating_scale: str = "stars"
    rating_distribution: dict[int, int] = field(default_factory=dict)
    rating_trend: dict[date, float] = field(default_factory=dict)  # average per week (Monday)
    rating_count: int = 0
    rating_average: float | None = None
    attention: list[Attention] = field(default_factory=list)

    def figures(self) -> list[tuple[str, str, str]]:
        """Every figure as (section, key, value): the CSV export and the tests read these."""
        rows: list[tuple[str, str, str]] = []
        for channel, f in self.channels.items():
            for name in ("sent", "delivered", "opened", "clicked"):
                rows.append(("messages", f"{channel}.{name}", str(getattr(f, name))))
        for day, count in sorted(self.sent_per_day.items()):
            rows.append(("sent_per_day", day.isoformat(), str(count)))
        rows += [
            ("links", "clicks", str(self.link_clicks)),
            ("tracking_page", "views", str(self.page_views)),
            ("wallet", "passes_added", str(self.wallet_passes_added)),
            ("wallet", "orders_added", str(self.wallet_orders_added)),
            ("wallet", "pushes_sent", str(self.wallet_pushes_sent or 0)),
            ("upsell", "views", str(self.upsell_views)),
            ("upsell", "clicks", str(self.upsell_clicks)),
            ("upsell", "orders", str(self.upsell_orders)),
            ("upsell", "revenue", f"{self.upsell_revenue:.2f}"),
            ("attribution", "orders", str(self.attributed_orders)),
            ("attribution", "revenue", f"{self.attributed_revenue:.2f}"),
            ("ratings", "count", str(self.rating_count)),
            (
                "ratings",
                "average",
                "" if self.rating_average is None else f"{self.rating_average:.2f}",
            ),
        ]
        for score, count in sorted(self.rating_distribution.items()):
            rows.append(("rating_distribution", str(score), str(count)))
        for week, avg in sorted(self.rating_trend.items()):
            rows.append(("rating_trend", week.isoformat(), f"{avg:.2f}"))
        rows.append(("attention", "shipments", str(len(self.attention))))
        return rows


def _day(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def build_dashboard(
    session: Session,
    shop_id: int,
    start: date,
    end: date,
    *,
    currency: str,
    scale: str,
    now: datetime,
) -> Dashboard:
    """The dashboard of one shop for the UTC days ``[start, end)``."""
    from datetime import UTC

    lo = datetime(start.year, start.month, start.day, tzinfo=UTC)
    hi = datetime(end.year, end.month, end.day, tzinfo=UTC)
    dialect = session.get_bind().dialect.name
    board = Dashboard(start=start, end=end, currency=currency, rating_scale=scale)
    board.channels = {c: ChannelFigures() for c in CHANNELS}

    # Messages: one pass over the range, per day and channel.
    m = NotificationMessage
    day = _day(m.created_at, dialect).label("day")
    rows = session.execute(
        select(
            day,
            m.channel,
            func.count(),
            func.count().filter(m.delivery_status.in_(DELIVERED_STATUSES)),
            func.count().filter(m.delivery_status.in_(OPENED_STATUSES)),
        )
        .where(m.shop_id == shop_id, m.state == "sent", m.created_at >= lo, m.created_at < hi)
        .group_by(day, m.channel)
    )
    for raw_day, channel, sent, delivered, opened in rows:
        figures = board.channels.setdefault(channel, ChannelFigures())
        figures.sent += sent
        figures.delivered += delivered
        figures.opened += opened
        key = raw_day if isinstance(raw_day, date) else date.fromisoformat(str(raw_day))
        board.sent_per_day[key] = board.sent_per_day.get(key, 0) + sent

    # Clicked: sent messages of the range with at least one click through the redirect.
    e = InsightEvent
    clicked = session.execute(
        select(m.channel, func.count(func.distinct(e.message_id)))
        .join(m, m.id == e.message_id)
        .where(
            e.shop_id == shop_id,
            e.kind == EventKind.CLICK,
            m.shop_id == shop_id,
            m.state == "sent",
            m.created_at >= lo,
            m.created_at < hi,
        )
        .group_by(m.channel)
    )
    for channel, count in clicked:
        board.channels.setdefault(channel, ChannelFigures()).clicked = count

    # Clicks, page views, upsell views and clicks.
    in_range = and_(e.shop_id == shop_id, e.happened_at >= lo, e.happened_at < hi)
    counts = session.execute(
        select(
            func.count().filter(e.kind == EventKind.CLICK),
            func.count().filter(e.kind == EventKind.PAGE_VIEW),
            func.count().filter(e.kind == EventKind.UPSELL_VIEW),
            func.count().filter(e.kind == EventKind.CLICK, e.campaign == UPSELL_CAMPAIGN),
        ).where(in_range, e.kind.in_((EventKind.CLICK, EventKind.PAGE_VIEW, EventKind.UPSELL_VIEW)))
    ).one()
    board.link_clicks, board.page_views, board.upsell_views, board.upsell_clicks = counts

    # Attributed orders and revenue (all, and those of the upsell).
    a = OrderAttribution
    upsell = or_(a.campaign == UPSELL_CAMPAIGN, a.discount_code.is_not(None))
    money = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(a.revenue), 0),
            func.count().filter(upsell),
            func.coalesce(func.sum(case((upsell, a.revenue), else_=0)), 0),
        ).where(a.shop_id == shop_id, a.ordered_at >= lo, a.ordered_at < hi)
    ).one()
    board.attributed_orders = money[0]
    board.attributed_revenue = Decimal(money[1]).quantize(Decimal("0.01"))
    board.upsell_orders = money[2]
    board.upsell_revenue = Decimal(money[3]).quantize(Decimal("0.01"))

    _wallet(session, board, shop_id, lo, hi)
    _ratings(session, board, shop_id, lo, hi, scale)
    board.attention = attention_list(session, shop_id, now)
    return board


def _wallet(session: Session, board: Dashboard, shop_id: int, lo: datetime, hi: datetime) -> None:
    try:
        from wallet.models import WalletRegistration
    except ImportError:  # pragma: no cover - the Wallet package is optional
        return
    w = WalletRegistration
    rows = session.execute(
        select(w.kind, func.count())
        .where(w.shop_id == shop_id, w.created_at >= lo, w.created_at < hi)
        .group_by(w.kind)
    )
    for kind, count in rows:
        if kind == "pass":
            board.wallet_passes_added = count
        elif kind == "order":
            board.wallet_orders_added = count


def _ratings(
    session: Session, board: Dashboard, shop_id: int, lo: datetime, hi: datetime, scale: str
) -> None:
    f = ShipmentFeedback
    rows = session.execute(
        select(f.rating, f.updated_at).where(
            f.shop_id == shop_id, f.scale == scale, f.updated_at >= lo, f.updated_at < hi
        )
    ).all()
    by_week: dict[date, list[int]] = {}
    for rating, at in rows:
        board.rating_distribution[rating] = board.rating_distribution.get(rating, 0) + 1
        week = at.date() - timedelta(days=at.weekday())
        by_week.setdefault(week, []).append(rating)
    board.rating_count = len(rows)
    if rows:
        board.rating_average = sum(r for r, _ in rows) / len(rows)
    board.rating_trend = {w: sum(v) / len(v) for w, v in by_week.items()}


def attention_list(session: Session, shop_id: int, now: datetime) -> list[Attention]:
    """Shipments that need the merchant now: failed attempt, waiting at a pickup point, late
    (past the estimated date), stalled (in transit without news for 4 days)."""
    s, o = Shipment, Order
    reason = case(
        (s.milestone.in_((Milestone.ATTEMPTED_DELIVERY.value,)), "failed_attempt"),
        (s.milestone == Milestone.READY_FOR_PICKUP.value, "pickup"),
        (and_(s.estimated_delivery_at.is_not(None), s.estimated_delivery_at < now), "late"),
        else_="stalled",
    )
    rows = session.execute(
        select(reason, o.name, o.shopify_id, s.tracking_company, s.tracking_number, s.milestone_at)
        .join(o, o.id == s.order_id)
        .where(
            s.shop_id == shop_id,
            o.cancelled_at.is_(None),
            s.milestone.not_in(SETTLED),
            or_(
                s.milestone.in_(
                    (Milestone.ATTEMPTED_DELIVERY.value, Milestone.READY_FOR_PICKUP.value)
                ),
                and_(s.estimated_delivery_at.is_not(None), s.estimated_delivery_at < now),
                and_(s.milestone.in_(IN_TRANSIT), s.milestone_at < now - STALLED_AFTER),
            ),
        )
        .order_by(s.milestone_at.asc())
        .limit(ATTENTION_LIMIT)
    )
    return [
        Attention(r, name or "", int(sid), carrier, number, since)
        for r, name, sid, carrier, number, since in rows
    ]


def to_csv(board: Dashboard) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "key", "value"])
    writer.writerow(["range", "start", board.start.isoformat()])
    writer.writerow(["range", "end_exclusive", board.end.isoformat()])
    writer.writerow(["range", "currency", board.currency])
    writer.writerows(board.figures())
    for item in board.attention:
        writer.writerow(
            ["attention_item", item.reason, f"{item.order_name} {item.tracking_number or ''}"]
        )
    return out.getvalue()

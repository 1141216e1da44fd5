"""Every figure of the dashboard, computed from the raw rows in a few aggregate queries.

Messages (per channel: sent, delivered, opened, clicked), tracking page views, Wallet
passes and orders added, upsell views, clicks, orders and revenue, ratings, and the
shipments that need attention now. Days are the shop's local days (its IANA time zone);
the range is ``[start, end)``. Messages, clicks, views and ratings come from the daily
rollup (:mod:`plugin.insights.rollup`), refreshed first, so they equal the raw rows.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from plugin.insights import rollup
from plugin.insights.models import OrderAttribution
from plugin.insights.rollup import CHANNELS
from plugin.insights.tracking import UPSELL_CAMPAIGN
from plugin.milestones import Milestone
from plugin.models import Order, Shipment, TrackingEvent
from plugin.notifications.settings import AlertThresholds, get_settings

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
    timezone: str = "UTC"  # the shop's: what a day is
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


def build_dashboard(
    session: Session,
    shop_id: int,
    start: date,
    end: date,
    *,
    currency: str,
    scale: str,
    zone: ZoneInfo,
    now: datetime,
) -> Dashboard:
    """The dashboard of one shop for its local days ``[start, end)``.

    Call inside a write transaction: the daily rollup is refreshed first.
    """
    lo = rollup.day_bounds(start, zone)[0]
    hi = rollup.day_bounds(end, zone)[0]
    board = Dashboard(
        start=start, end=end, currency=currency, timezone=zone.key, rating_scale=scale
    )
    board.channels = {c: ChannelFigures() for c in CHANNELS}

    # Messages, clicks, views and ratings, per local day, from the rollup.
    rollup.refresh(session, shop_id, zone, start, end, now=now)
    days = rollup.read(session, shop_id, start, end)
    for (day, channel), (sent, delivered, opened, clicked) in days.messages.items():
        figures = board.channels.setdefault(channel, ChannelFigures())
        figures.sent += sent
        figures.delivered += delivered
        figures.opened += opened
        figures.clicked += clicked
        if sent:
            board.sent_per_day[day] = board.sent_per_day.get(day, 0) + sent
    board.link_clicks, board.page_views = days.link_clicks, days.page_views
    board.upsell_views, board.upsell_clicks = days.upsell_views, days.upsell_clicks
    _ratings(board, days, scale)

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
    stalled_days = get_settings(session, shop_id).thresholds.stalled_days
    board.attention = attention_list(session, shop_id, now, stalled_days=stalled_days)
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


def _ratings(board: Dashboard, days: rollup.DayFigures, scale: str) -> None:
    """Answers on the shop's scale, by the day of the first answer, at the latest score."""
    by_week: dict[date, list[int]] = {}  # [sum of scores, answers]
    for (day, answer_scale, rating), answers in days.ratings.items():
        if answer_scale != scale:
            continue
        board.rating_distribution[rating] = board.rating_distribution.get(rating, 0) + answers
        week = by_week.setdefault(day - timedelta(days=day.weekday()), [0, 0])
        week[0] += rating * answers
        week[1] += answers
    board.rating_count = sum(board.rating_distribution.values())
    if board.rating_count:
        total = sum(r * n for r, n in board.rating_distribution.items())
        board.rating_average = total / board.rating_count
    board.rating_trend = {w: total / n for w, (total, n) in by_week.items()}


def attention_list(
    session: Session, shop_id: int, now: datetime, *, stalled_days: int
) -> list[Attention]:
    """Shipments that need the merchant now: failed attempt, waiting at a pickup point, late
    (past the estimated date), stalled (in transit without news for ``stalled_days``, the
    threshold of the proactive alert; when that alert is off, its default)."""
    stalled_after = timedelta(days=stalled_days or AlertThresholds().stalled_days)
    s, o = Shipment, Order
    # "No news" as the stalled alert reads it: the last carrier event, else the milestone.
    last_news = func.coalesce(
        select(func.max(TrackingEvent.happened_at))
        .where(TrackingEvent.shipment_id == s.id)
        .scalar_subquery(),
        s.milestone_at,
        s.created_at,
    )
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
                and_(s.milestone.in_(IN_TRANSIT), last_news < now - stalled_after),
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
    writer.writerow(["range", "timezone", board.timezone])
    writer.writerow(["range", "currency", board.currency])
    writer.writerows(board.figures())
    for item in board.attention:
        writer.writerow(
            ["attention_item", item.reason, f"{item.order_name} {item.tracking_number or ''}"]
        )
    return out.getvalue()

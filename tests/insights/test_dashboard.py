"""Every dashboard figure equals the same figure computed in Python from the raw rows."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from frontend.models import ShipmentFeedback
from plugin.insights.dashboard import DELIVERED_STATUSES, OPENED_STATUSES, build_dashboard
from plugin.insights.dataset import generate
from plugin.insights.models import InsightEvent, OrderAttribution
from plugin.notifications.models import NotificationMessage

NOW = datetime(2026, 3, 31, 12, tzinfo=UTC)
START, END = date(2026, 1, 15), date(2026, 3, 20)


def _in(at: datetime) -> bool:
    return START <= at.astimezone(UTC).date() < END


def _expected(session, shop_id):
    msgs = [m for m in session.scalars(select(NotificationMessage)) if m.shop_id == shop_id]
    events = list(session.scalars(select(InsightEvent)))
    sent = [m for m in msgs if m.state == "sent" and _in(m.created_at)]
    clicked_ids = {e.message_id for e in events if e.kind == "click" and e.message_id}
    exp: dict[str, str] = {}
    for channel in ("email", "sms", "whatsapp", "wallet"):
        mine = [m for m in sent if m.channel == channel]
        exp[f"messages/{channel}.sent"] = str(len(mine))
        exp[f"messages/{channel}.delivered"] = str(
            sum(m.delivery_status in DELIVERED_STATUSES for m in mine)
        )
        exp[f"messages/{channel}.opened"] = str(
            sum(m.delivery_status in OPENED_STATUSES for m in mine)
        )
        exp[f"messages/{channel}.clicked"] = str(sum(m.id in clicked_ids for m in mine))
    per_day = Counter(m.created_at.astimezone(UTC).date() for m in sent)
    for day, count in per_day.items():
        exp[f"sent_per_day/{day.isoformat()}"] = str(count)
    ev = [e for e in events if _in(e.happened_at)]
    exp["links/clicks"] = str(sum(e.kind == "click" for e in ev))
    exp["tracking_page/views"] = str(sum(e.kind == "page_view" for e in ev))
    exp["upsell/views"] = str(sum(e.kind == "upsell_view" for e in ev))
    exp["upsell/clicks"] = str(sum(e.kind == "click" and e.campaign == "upsell" for e in ev))
    attrs = [a for a in session.scalars(select(OrderAttribution)) if _in(a.ordered_at)]
    up = [a for a in attrs if a.campaign == "upsell" or a.discount_code]
    exp["attribution/orders"] = str(len(attrs))
    exp["attribution/revenue"] = f"{sum((a.revenue for a in attrs), Decimal(0)):.2f}"
    exp["upsell/orders"] = str(len(up))
    exp["upsell/revenue"] = f"{sum((a.revenue for a in up), Decimal(0)):.2f}"
    fb = [f for f in session.scalars(select(ShipmentFeedback)) if _in(f.updated_at)]
    exp["ratings/count"] = str(len(fb))
    exp["ratings/average"] = f"{sum(f.rating for f in fb) / len(fb):.2f}"
    for score, count in Counter(f.rating for f in fb).items():
        exp[f"rating_distribution/{score}"] = str(count)
    weeks = defaultdict(list)
    for f in fb:
        d = f.updated_at.astimezone(UTC).date()
        weeks[d - timedelta(days=d.weekday())].append(f.rating)
    for week, values in weeks.items():
        exp[f"rating_trend/{week.isoformat()}"] = f"{sum(values) / len(values):.2f}"
    return exp


def test_every_figure_equals_the_raw_rows(runtime, shop):
    with runtime.db.write_connection() as conn:
        generate(conn, shop.id, now=NOW, days=90, orders=150, messages=3000)
    with runtime.db.session() as session:
        board = build_dashboard(
            session, shop.id, START, END, currency="EUR", scale="stars", now=NOW
        )
        expected = _expected(session, shop.id)
    got = {f"{section}/{key}": value for section, key, value in board.figures()}
    got.pop("attention/shipments")
    # Zero-count keys appear only on one side (days or scores without rows).
    got = {k: v for k, v in got.items() if v not in ("0", "0.00") or k in expected}
    assert got == expected
    assert int(expected["messages/email.sent"]) > 0 and int(expected["links/clicks"]) > 0


def test_attention_lists_the_shipments_to_act_on(runtime, shop):
    with runtime.db.write_connection() as conn:
        generate(conn, shop.id, now=NOW, days=30, orders=60, messages=10)
    from plugin.models import Shipment

    with runtime.db.session() as session:
        board = build_dashboard(
            session, shop.id, START, END, currency="EUR", scale="stars", now=NOW
        )
        shipments = list(session.scalars(select(Shipment)))
    expected = {
        s.id
        for s in shipments
        if s.milestone in ("attempted_delivery", "ready_for_pickup")
        or (s.milestone not in ("delivered",) and s.estimated_delivery_at < NOW)
        or (s.milestone in ("shipped", "in_transit") and s.milestone_at < NOW - timedelta(days=4))
    }
    assert len(board.attention) == min(len(expected), 50) > 0
    reasons = {a.reason for a in board.attention}
    assert reasons <= {"failed_attempt", "pickup", "late", "stalled"}


def test_page_and_csv_show_the_same_figures(client, installed, sign, runtime):
    with runtime.db.write_connection() as conn:
        generate(conn, installed.id, now=datetime.now(UTC), days=20, orders=40, messages=500)
    token = sign(installed.domain)
    base = f"shop={installed.domain}&host=YWRtaW4&embedded=1&id_token={token}"
    page = client.get(f"/insights?{base}&locale=en")
    assert page.status_code == 200, page.text[:300]
    html = page.text
    assert (
        "Messages per channel" in html
        and "<svg" in html
        and "cdn" not in html.replace("cdn.shopify.com/shopifycloud", "")
    )
    report = client.get(f"/insights.csv?{base}")
    assert report.status_code == 200
    rows = {(r[0], r[1]): r[2] for r in csv.reader(io.StringIO(report.text))}
    shown = dict(re.findall(r'data-figure="([^"]+)">([^<]+)<', html))
    assert shown["messages.email.sent"].replace(",", "") == rows[("messages", "email.sent")]
    assert shown["links.clicks"].replace(",", "") == rows[("links", "clicks")]
    assert shown["upsell.orders"] == rows[("upsell", "orders")]
    fr = client.get(f"/insights?{base}&locale=fr")
    assert "Messages par canal" in fr.text

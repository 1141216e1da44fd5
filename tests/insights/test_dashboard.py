"""Every dashboard figure equals the same figure computed in Python from the raw rows."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from frontend.models import ShipmentFeedback
from plugin.insights import rollup
from plugin.insights.dashboard import build_dashboard
from plugin.insights.dataset import generate
from plugin.insights.models import (
    DailyEvents,
    DailyMessageFigures,
    InsightEvent,
    OrderAttribution,
)
from plugin.insights.rollup import DELIVERED_STATUSES, OPENED_STATUSES
from plugin.insights.tracking import record_event
from plugin.notifications.models import NotificationMessage

NOW = datetime(2026, 3, 31, 12, tzinfo=UTC)
START, END = date(2026, 1, 15), date(2026, 3, 20)
# Far from UTC, and across a DST change inside the range (8 March in Los Angeles).
ZONES = ("UTC", "Pacific/Auckland", "America/Los_Angeles")


def _day(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


def _expected(session, shop_id, zone, start=START, end=END):
    def _in(at: datetime) -> bool:
        return start <= _day(at, zone) < end

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
    per_day = Counter(_day(m.created_at, zone) for m in sent)
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
    # Ratings count on the day of the first answer, at the latest score.
    fb = [f for f in session.scalars(select(ShipmentFeedback)) if _in(f.created_at)]
    exp["ratings/count"] = str(len(fb))
    exp["ratings/average"] = f"{sum(f.rating for f in fb) / len(fb):.2f}"
    for score, count in Counter(f.rating for f in fb).items():
        exp[f"rating_distribution/{score}"] = str(count)
    weeks = defaultdict(list)
    for f in fb:
        d = _day(f.created_at, zone)
        weeks[d - timedelta(days=d.weekday())].append(f.rating)
    for week, values in weeks.items():
        exp[f"rating_trend/{week.isoformat()}"] = f"{sum(values) / len(values):.2f}"
    return exp


def _figures(runtime, shop_id, zone, *, now=NOW, start=START, end=END):
    with runtime.db.transaction() as session:
        board = build_dashboard(
            session, shop_id, start, end, currency="EUR", scale="stars", zone=zone, now=now
        )
    with runtime.db.session() as session:
        expected = _expected(session, shop_id, zone, start, end)
    got = {f"{section}/{key}": value for section, key, value in board.figures()}
    got.pop("attention/shipments")
    # Zero-count keys appear only on one side (days or scores without rows).
    got = {k: v for k, v in got.items() if v not in ("0", "0.00") or k in expected}
    return got, expected


@pytest.mark.parametrize("zone_name", ZONES)
def test_every_figure_equals_the_raw_rows(runtime, shop, zone_name):
    with runtime.db.write_connection() as conn:
        generate(conn, shop.id, now=NOW, days=90, orders=150, messages=3000)
    got, expected = _figures(runtime, shop.id, ZoneInfo(zone_name))
    assert got == expected
    assert int(expected["messages/email.sent"]) > 0 and int(expected["links/clicks"]) > 0


def test_the_rollup_follows_changes_after_it_was_built(runtime, shop):
    """Status changes, clicks, views, new messages and a changed answer after a refresh reach
    the next one; days nobody touched are read, not recomputed."""
    zone = ZoneInfo("Europe/Paris")
    now = datetime.now(UTC)
    today = _day(now, zone)
    span = {"start": today - timedelta(days=60), "end": today + timedelta(days=1)}
    with runtime.db.write_connection() as conn:
        generate(conn, shop.id, now=now - timedelta(hours=1), days=60, orders=60, messages=800)
    first, expected = _figures(runtime, shop.id, zone, now=now, **span)
    assert first == expected
    with runtime.db.transaction() as session:
        sent = list(
            session.scalars(
                select(NotificationMessage)
                .where(NotificationMessage.state == "sent")
                .order_by(NotificationMessage.id)
                .limit(40)
            )
        )
        for message in sent[:20]:  # an email opened weeks after it was sent
            message.delivery_status = "opened"
        for message in sent[20:]:
            record_event(session, shop.id, "click", message_id=message.id, channel="email")
        record_event(session, shop.id, "page_view", channel="sms")
        record_event(session, shop.id, "click", channel="email", campaign="upsell")
        answer = session.scalars(select(ShipmentFeedback).order_by(ShipmentFeedback.id)).first()
        answer.rating = 1 if answer.rating != 1 else 5  # a second tap, weeks later
        session.execute(  # retried status events: the same change applied twice
            update(NotificationMessage)
            .where(NotificationMessage.id == sent[0].id)
            .values(delivery_status="opened")
        )
        old = sent[0].created_at
        session.add(
            NotificationMessage(
                shop_id=shop.id,
                dedupe_key="late-arrival",
                channel="sms",
                locale="fr",
                state="sent",
                delivery_status="delivered",
                created_at=old,
            )
        )
    later = datetime.now(UTC)
    second, expected = _figures(runtime, shop.id, zone, now=later, **span)
    assert second == expected
    assert second != first
    assert int(second["tracking_page/views"]) == int(first["tracking_page/views"]) + 1
    assert int(second["upsell/clicks"]) == int(first["upsell/clicks"]) + 1
    # Nothing new: the rows stay. The next refresh recomputes again what changed within the
    # commit margin before the previous one; the one after recomputes nothing.
    with runtime.db.session() as session:
        before = sorted(
            (r.day, r.channel, r.sent, r.delivered, r.opened, r.clicked)
            for r in session.scalars(select(DailyMessageFigures))
        )
    recomputed = []
    for hours in (1, 2):
        with runtime.db.transaction() as session:
            recomputed.append(
                rollup.refresh(session, shop.id, zone, now=later + timedelta(hours=hours), **span)
            )
    assert recomputed[0] > 0 and recomputed[1] == 0
    with runtime.db.session() as session:
        after = sorted(
            (r.day, r.channel, r.sent, r.delivered, r.opened, r.clicked)
            for r in session.scalars(select(DailyMessageFigures))
        )
    assert after == before


def test_a_new_time_zone_rebuilds_the_days(runtime, shop):
    with runtime.db.write_connection() as conn:
        generate(conn, shop.id, now=NOW, days=90, orders=60, messages=800)
    for name in ("Europe/Paris", "Pacific/Auckland", "Europe/Paris"):
        got, expected = _figures(runtime, shop.id, ZoneInfo(name))
        assert got == expected, name


@pytest.mark.parametrize("stalled_days", [4, 10])
def test_attention_lists_the_shipments_to_act_on(runtime, shop, stalled_days):
    """The stalled threshold is the merchant's, the one the proactive alert uses."""
    from dataclasses import replace

    from plugin.models import Shipment
    from plugin.notifications.settings import get_settings, save_settings

    with runtime.db.transaction() as session:
        settings = get_settings(session, shop.id)
        thresholds = replace(settings.thresholds, stalled_days=stalled_days)
        save_settings(session, shop.id, replace(settings, thresholds=thresholds))
    with runtime.db.write_connection() as conn:
        generate(conn, shop.id, now=NOW, days=30, orders=60, messages=10)
    # No estimated date: only the stalled rule can list these.
    with runtime.db.transaction() as session:
        session.execute(
            update(Shipment)
            .where(Shipment.milestone.in_(("shipped", "in_transit")))
            .values(estimated_delivery_at=None)
        )
    with runtime.db.transaction() as session:
        board = build_dashboard(
            session,
            shop.id,
            START,
            END,
            currency="EUR",
            scale="stars",
            zone=ZoneInfo("UTC"),
            now=NOW,
        )
        shipments = list(session.scalars(select(Shipment)))
    stalled_before = NOW - timedelta(days=stalled_days)
    expected = {
        s.tracking_number
        for s in shipments
        if s.milestone in ("attempted_delivery", "ready_for_pickup")
        or (
            s.milestone not in ("delivered",)
            and s.estimated_delivery_at is not None
            and s.estimated_delivery_at < NOW
        )
        or (s.milestone in ("shipped", "in_transit") and s.milestone_at < stalled_before)
    }
    assert len(expected) < 50
    assert {a.tracking_number for a in board.attention} == expected
    stalled = {a.tracking_number for a in board.attention if a.reason == "stalled"}
    assert stalled and all(
        s.milestone_at < stalled_before for s in shipments if s.tracking_number in stalled
    )
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
    assert rows[("range", "timezone")] == "Europe/Paris"
    assert 'id="insights-timezone">Days in the shop&#39;s time zone (Europe/Paris)' in html
    fr = client.get(f"/insights?{base}&locale=fr")
    assert "Messages par canal" in fr.text


def test_the_periodic_job_keeps_the_last_90_days_warm(app, runtime, shop):
    """After the hourly job, a dashboard load finds every day computed: it recomputes only
    what changed since (nothing here)."""
    zone = ZoneInfo(shop.iana_timezone)
    now = datetime.now(UTC) - timedelta(hours=2)
    with runtime.db.write_connection() as conn:
        generate(conn, shop.id, now=now, days=90, orders=40, messages=600)
    with app.app_context():
        assert rollup.refresh_all_job() == "1 shop(s) refreshed"
    today = _day(datetime.now(UTC), zone)
    span = {"start": today - timedelta(days=89), "end": today + timedelta(days=1)}
    with runtime.db.session() as session:
        days = set(session.scalars(select(DailyEvents.day).where(DailyEvents.shop_id == shop.id)))
    assert days == {span["start"] + timedelta(days=n) for n in range(90)}
    with runtime.db.transaction() as session:
        # The generated rows are two hours old, past the commit margin: nothing to redo.
        assert rollup.refresh(session, shop.id, zone, now=datetime.now(UTC), **span) == 0
    got, expected = _figures(runtime, shop.id, zone, now=datetime.now(UTC), **span)
    assert got == expected

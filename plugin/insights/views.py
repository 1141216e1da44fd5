"""The dashboard page of the embedded admin and its CSV export."""

from __future__ import annotations

from datetime import date, timedelta

from babel.numbers import format_currency, format_decimal
from flask import Response, render_template, request

from plugin.admin.auth import AdminSession, app_home_page
from plugin.admin.views import NAV, _kept_query, _load_shop, bp
from plugin.db import utcnow
from plugin.insights import svg
from plugin.insights.dashboard import Dashboard, build_dashboard, to_csv
from plugin.insights.feedback import scale_of, scores
from plugin.insights.i18n import translator
from plugin.insights.rollup import local_day, shop_zone
from plugin.runtime import current_runtime

DEFAULT_DAYS = 30
MAX_DAYS = 366


def date_range(today: date) -> tuple[date, date]:
    """``from`` and ``to`` (inclusive) from the query, as ``[start, end)``; 30 days by default."""
    try:
        end = date.fromisoformat(request.args.get("to", "")) + timedelta(days=1)
    except ValueError:
        end = today + timedelta(days=1)
    try:
        start = date.fromisoformat(request.args.get("from", ""))
    except ValueError:
        start = end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        start = end - timedelta(days=1)
    if (end - start).days > MAX_DAYS:
        start = end - timedelta(days=MAX_DAYS)
    return start, end


def load_dashboard(shop_id: int) -> Dashboard:
    """The dashboard of the range asked for, in the shop's days (its time zone)."""
    shop = _load_shop(shop_id)
    zone = shop_zone(shop.iana_timezone)
    now = utcnow()
    start, end = date_range(local_day(now, zone))
    # A write transaction: the daily rollup is refreshed before it is read.
    with current_runtime().db.transaction() as session:
        return build_dashboard(
            session,
            shop.id,
            start,
            end,
            currency=shop.currency or "EUR",
            scale=scale_of(shop),
            zone=zone,
            now=now,
        )


@bp.get("/insights")
@app_home_page
def insights_page(session: AdminSession) -> str:
    shop = _load_shop(session.shop_id)
    board = load_dashboard(session.shop_id)
    t = translator(session.language, session.t)
    lang = session.language

    def money(value: object) -> str:
        return format_currency(value, board.currency, locale=lang)  # type: ignore[arg-type]

    def number(value: object) -> str:
        return format_decimal(value, locale=lang)  # type: ignore[arg-type]

    top = max(scores(board.rating_scale))
    charts = {
        "sent": svg.bar_chart(
            [(d.strftime("%d/%m"), float(v)) for d, v in sorted(board.sent_per_day.items())],
            label=t("sent_per_day"),
        ),
        "distribution": svg.bar_chart(
            [
                (str(s), float(board.rating_distribution.get(s, 0)))
                for s in scores(board.rating_scale)
            ],
            label=t("rating_distribution"),
            color="#005bd3",
        ),
        "trend": svg.line_chart(
            [(w.strftime("%d/%m"), round(v, 2)) for w, v in sorted(board.rating_trend.items())],
            label=t("rating_trend"),
            low=min(scores(board.rating_scale)),
            high=top,
        ),
    }
    return render_template(
        "admin/insights.html",
        t=t,
        session=session,
        shop=shop,
        api_key=current_runtime().config.shopify_api_key,
        query=_kept_query(),
        nav=NAV,
        language=lang,
        board=board,
        charts=charts,
        money=money,
        number=number,
        top=top,
        last_day=board.end - timedelta(days=1),
    )


@bp.get("/insights.csv")
@app_home_page
def insights_csv(session: AdminSession) -> Response:
    board = load_dashboard(session.shop_id)
    name = f"relais-{board.start.isoformat()}-{(board.end - timedelta(days=1)).isoformat()}.csv"
    response = Response(to_csv(board), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response

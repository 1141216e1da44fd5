"""The tracking page served by Relais itself at ``APP_URL/t/<token>``, for shops without the
app proxy: the same page as a full HTML document, with a strict Content-Security-Policy."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request
from sqlalchemy import select

from frontend import ratelimit
from frontend.branding import branding_from_settings
from frontend.orders import order_for_ref, record_answer
from frontend.page import LoadedOrder, PageLinks
from frontend.rendering import HTML_CONTENT_TYPE, render, see_other, style_hashes
from frontend.storefront import (
    client_ip,
    rate_from_page,
    render_tracking_page,
    visitor_translator,
)
from plugin.insights.feedback import after_answer, is_high, scale_of, scores
from plugin.insights.tracking import record_event, record_short_link_click
from plugin.links import (
    OrderRef,
    RatingRef,
    read_order_token,
    read_rating_token,
    read_short_code,
    standalone_tracking_link,
    tracking_link,
    wallet_pass_link,
)
from plugin.models import Order, Shop
from plugin.runtime import current_runtime

bp = Blueprint("storefront_standalone", __name__)


def _html(body: str, status: int = 200) -> Response:
    response = Response(body, status=status, content_type=HTML_CONTENT_TYPE)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src https: http: data:; "
        f"style-src {' '.join(style_hashes(body))}; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    return response


def _allowed(ref: OrderRef | None) -> bool:
    runtime = current_runtime()
    pairs = [(ratelimit.PAGE_PER_IP, client_ip())]
    if ref is not None:
        pairs.append((ratelimit.PAGE_PER_SHOP, ref.shop_domain))
    return ratelimit.allow(runtime.redis, *pairs)


def _message(title: str, text: str, status: int) -> Response:
    t = visitor_translator(None)
    body = render(
        "message.html",
        liquid=False,
        t=t,
        branding=branding_from_settings("", None),
        title=title,
        text=text,
        lookup_url=None,
    )
    response = _html(body, status)
    if status == 429:
        response.headers["Retry-After"] = "60"
    return response


def _links(token: str, loaded: LoadedOrder) -> PageLinks:
    shop, order = loaded.shop, loaded.order
    config = current_runtime().config
    host = shop.primary_domain or shop.domain
    return PageLinks(
        feedback_action=f"/t/{token}/feedback",
        wallet_url=(
            wallet_pass_link(config, shop.domain, order.public_id)
            if order.cancelled_at is None
            else None
        ),
        product_base=f"https://{host}",
    )


@bp.get("/t/<token>")
def tracking_page(token: str) -> Response:
    """The standalone tracking page."""
    ref = read_order_token(current_runtime().config.secret_key, token)
    if not _allowed(ref):
        return _message("page_title", "rate_limited", 429)
    body = None
    if ref is not None:
        body = render_tracking_page(
            ref, liquid=False, links_for=lambda loaded: _links(token, loaded)
        )
    if body is None:
        return _message("not_found_title", "not_found_text", 404)
    return _html(body)


@bp.get("/s/<code>")
def short_link(code: str) -> Response:
    """The short link printed in SMS: on to the tracking page on the shop's own domain."""
    runtime = current_runtime()
    public_id = read_short_code(runtime.config.secret_key, code)
    if not _allowed(None):
        return _message("page_title", "rate_limited", 429)
    target = None
    if public_id is not None:
        with runtime.db.transaction() as session:
            row = session.execute(
                select(Shop.id, Shop.domain, Shop.primary_domain, Order.id.label("order_id"))
                .join(Order, Order.shop_id == Shop.id)
                .where(Order.public_id == public_id, Order.redacted_at.is_(None))
            ).first()
            campaign = (
                record_short_link_click(session, row.id, row.order_id) if row is not None else None
            )
        if row is not None:
            target = tracking_link(
                runtime.config,
                row.domain,
                public_id,
                channel="sms",
                milestone=campaign,
                host=row.primary_domain,
            )
    if target is None:
        return _message("not_found_title", "not_found_text", 404)
    response: Response = redirect(target, code=302)  # type: ignore[assignment]
    return response


@bp.post("/t/<token>/feedback")
def feedback(token: str) -> Response:
    """The rating form of the standalone page."""
    runtime = current_runtime()
    ref = read_order_token(runtime.config.secret_key, token)
    if not _allowed(ref):
        return _message("page_title", "rate_limited", 429)
    if ref is None:
        return _message("not_found_title", "not_found_text", 404)
    outcome = rate_from_page(ref, request.form)
    if not outcome.order_found:
        return _message("not_found_title", "not_found_text", 404)
    if outcome.shipment_id is None:
        return see_other(f"/t/{token}")
    return see_other(f"/t/{token}#rl-feedback-{outcome.shipment_id}")


@bp.route("/f/<token>", methods=["GET", "POST"])
def one_tap_rating(token: str) -> Response:
    """A one-tap rating link from an email, SMS or pass: records the score, thanks the
    shopper, offers a comment box and, after a high score, the review link or referral."""
    runtime = current_runtime()
    ref = read_rating_token(runtime.config.secret_key, token)
    order_ref = OrderRef(ref.shop_domain, ref.public_id) if ref is not None else None
    if not _allowed(order_ref):
        return _message("page_title", "rate_limited", 429)
    if ref is None or order_ref is None:
        return _message("not_found_title", "not_found_text", 404)
    comment = request.form.get("comment") if request.method == "POST" else None
    with runtime.db.transaction() as session:
        order = order_for_ref(session, order_ref)
        shop = session.get(Shop, order.shop_id) if order is not None else None
        if order is None or shop is None:
            return _message("not_found_title", "not_found_text", 404)
        scale = scale_of(shop)
        answer = record_answer(
            session,
            order,
            ref.shipment_id,
            ref.score,
            scale=scale,
            channel=ref.channel,
            comment=comment,
        )
        if answer is not None and request.method == "GET":
            record_event(
                session,
                shop.id,
                "click",
                order_id=order.id,
                channel=ref.channel,
                campaign="feedback_request",
            )
    if answer is None:
        return _message("not_found_title", "not_found_text", 404)
    after_answer(runtime, answer)
    return _html(_thanks_page(ref, order, shop, scale, answer.comment, sent=comment is not None))


def _thanks_page(
    ref: RatingRef, order: Order, shop: Shop, scale: str, comment: str | None, *, sent: bool
) -> str:
    from frontend.storefront import translator_for
    from plugin.admin.settings import get_feedback

    t = translator_for(order, shop)
    choice = get_feedback(shop)
    high = is_high(scale, ref.score)
    referral = choice.referral_text.get(t.language) or choice.referral_text.get("fr")
    return render(
        "feedback.html",
        liquid=False,
        t=t,
        branding=branding_from_settings(shop.name or shop.domain, shop.settings),
        score=ref.score,
        top=max(scores(scale)),
        comment=comment,
        sent=sent,
        review_url=choice.review_url if high else None,
        referral=referral if high else None,
        tracking_url=standalone_tracking_link(
            current_runtime().config, shop.domain, order.public_id
        ),
    )

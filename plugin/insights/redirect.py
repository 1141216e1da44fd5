"""``GET /r/<token>``: count the click of a Relais link, then send to the shop's own site.

The token is signed (:func:`plugin.links.click_link`); the target must still be on the
shop's myshopify domain, its primary domain or Relais itself when followed, so the route can
never send a shopper elsewhere (no open redirect). Anything else answers 400.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from plugin.insights.models import EventKind
from plugin.insights.tracking import record_event
from plugin.links import allowed_redirect_hosts, is_allowed_target, read_click_token
from plugin.models import Shop
from plugin.runtime import current_runtime

bp = Blueprint("insights_redirect", __name__)


def _refused() -> Response:
    response = Response("Bad link / Lien invalide", status=400, content_type="text/plain")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/r/<token>")
def follow(token: str) -> BaseResponse:
    runtime = current_runtime()
    ref = read_click_token(runtime.config.secret_key, token)
    if ref is None:
        return _refused()
    with runtime.db.transaction() as session:
        shop = session.scalar(
            select(Shop).where(Shop.domain == ref.shop_domain, Shop.uninstalled_at.is_(None))
        )
        if shop is None:
            return _refused()
        hosts = allowed_redirect_hosts(runtime.config, shop.domain, shop.primary_domain)
        if not is_allowed_target(ref.target_url, hosts):
            return _refused()
        record_event(
            session,
            shop.id,
            EventKind.CLICK,
            message_id=ref.message_id,
            channel=ref.channel,
            campaign=ref.milestone,
        )
    response = redirect(ref.target_url, code=302)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer-when-downgrade"
    return response

"""Delivery feedback: the scales, one-tap rating links, and what a score sets off.

A low score (by default 1 or 2 stars, or 0 to 6 on the 0 to 10 scale; the merchant may move
that threshold) alerts the support inbox at once with the order; a high one (4 or 5 stars,
or 9 or 10) gets the review link or referral offer on the thank-you page.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass

from sqlalchemy import select

from frontend.models import ShipmentFeedback
from plugin.admin.settings import get_feedback
from plugin.config import Config
from plugin.db import utcnow
from plugin.insights.models import FeedbackAlert
from plugin.links import rating_link, standalone_tracking_link
from plugin.models import Order, Shipment, Shop
from plugin.runtime import Runtime, current_runtime
from plugin.upsert import insert_once

log = logging.getLogger(__name__)

SCALES: dict[str, tuple[int, ...]] = {"stars": (1, 2, 3, 4, 5), "nps": tuple(range(11))}
COMMENT_MAX = 2000
ALERT_JOB = "plugin.insights.feedback.alert_low_score"


@dataclass(frozen=True)
class Thresholds:
    low_at_most: int
    high_at_least: int


THRESHOLDS = {"stars": Thresholds(2, 4), "nps": Thresholds(6, 9)}


def scale_of(shop: Shop) -> str:
    return get_feedback(shop).scale


def scores(scale: str) -> tuple[int, ...]:
    return SCALES.get(scale, SCALES["stars"])


def valid_score(scale: str, score: int) -> bool:
    return score in scores(scale)


def low_at_most(shop: Shop, scale: str) -> int:
    """The highest score that alerts the support inbox: the merchant's, else the default."""
    choice = get_feedback(shop)
    if choice.scale == scale and choice.low_at_most is not None:
        return choice.low_at_most
    return THRESHOLDS.get(scale, THRESHOLDS["stars"]).low_at_most


def is_low(shop: Shop, scale: str, score: int) -> bool:
    return score <= low_at_most(shop, scale)


def is_high(scale: str, score: int) -> bool:
    return score >= THRESHOLDS.get(scale, THRESHOLDS["stars"]).high_at_least


def rating_links(
    config: Config, shop: Shop, order: Order, shipment: Shipment, *, channel: str
) -> list[tuple[int, str]]:
    """``[(score, url), ...]`` for the shop's scale: one tap on a url records that score."""
    return [
        (
            score,
            rating_link(config, shop.domain, order.public_id, shipment.id, score, channel=channel),
        )
        for score in scores(scale_of(shop))
    ]


def after_answer(runtime: Runtime, feedback: ShipmentFeedback) -> None:
    """Call after the answer is committed: a low score queues the merchant's alert."""
    with runtime.db.session() as session:
        shop = session.get(Shop, feedback.shop_id)
    if shop is not None and is_low(shop, feedback.scale, feedback.rating):
        runtime.queues.enqueue(
            "default",
            ALERT_JOB,
            feedback.id,
            job_id=f"relais-feedback-alert-{feedback.id}-{feedback.rating}",
        )


ALERT_SUBJECT = {
    "fr": "Note basse ({score}/{top}) pour la commande {order}",
    "en": "Low score ({score}/{top}) for order {order}",
}
ALERT_TEXT = {
    "fr": (
        "Un client a noté sa livraison {score}/{top}.\n\nCommande : {order}\n"
        "Client : {customer}\nTransporteur : {carrier} {number}\nCommentaire : {comment}\n\n"
        "Page de suivi : {url}\n"
    ),
    "en": (
        "A customer rated their delivery {score}/{top}.\n\nOrder: {order}\n"
        "Customer: {customer}\nCarrier: {carrier} {number}\nComment: {comment}\n\n"
        "Tracking page: {url}\n"
    ),
}
NO_COMMENT = {"fr": "(aucun)", "en": "(none)"}


def alert_low_score(feedback_id: int) -> str:
    """Job: email the support inbox about a low score (once per answer and score)."""
    from plugin.notifications.transports import build_email_transport
    from plugin.notifications.transports.base import OutgoingEmail

    runtime = current_runtime()
    with runtime.db.transaction() as session:
        feedback = session.get(ShipmentFeedback, feedback_id)
        if feedback is None:
            return "no longer low"
        shop = session.get(Shop, feedback.shop_id)
        order = session.get(Order, feedback.order_id)
        shipment = session.get(Shipment, feedback.shipment_id)
        assert shop is not None and order is not None
        if not is_low(shop, feedback.scale, feedback.rating):
            return "no longer low"
        inbox = (shop.settings or {}).get("support_email") or shop.contact_email
        alert_id = insert_once(
            session,
            FeedbackAlert,
            {
                "shop_id": shop.id,
                "feedback_id": feedback.id,
                "rating": feedback.rating,
                "recipient": inbox,
                "created_at": utcnow(),
            },
            conflict_columns=["feedback_id", "rating"],
        )
        if not alert_id:
            existing = session.scalar(
                select(FeedbackAlert).where(
                    FeedbackAlert.feedback_id == feedback.id,
                    FeedbackAlert.rating == feedback.rating,
                )
            )
            if existing is None or existing.sent_at is not None:
                return "already alerted"
            alert_id = existing.id  # a previous attempt failed to send: try again
        if not inbox:
            return "no support inbox"
        language = "en" if (shop.primary_locale or "fr").startswith("en") else "fr"
        top = max(scores(feedback.scale))
        values = {
            "score": feedback.rating,
            "top": top,
            "order": order.name or order.public_id,
            "customer": " ".join(filter(None, [order.first_name, order.email or order.phone])),
            "carrier": (shipment.tracking_company if shipment else None) or "",
            "number": (shipment.tracking_number if shipment else None) or "",
            "comment": feedback.comment or NO_COMMENT[language],
            "url": standalone_tracking_link(runtime.config, shop.domain, order.public_id),
        }
        text = ALERT_TEXT[language].format(**values)
        email = OutgoingEmail(
            message_id=0,
            to=inbox,
            from_email=shop.contact_email or inbox,
            from_name=f"{shop.name or shop.domain} (Relais)",
            reply_to=order.email,
            subject=ALERT_SUBJECT[language].format(**values),
            html="<pre>" + html.escape(text) + "</pre>",
            text=text,
            categories=("relais", "feedback_alert"),
        )
    # Sent outside the transaction: the outbox transport writes to the database itself.
    transport = build_email_transport(runtime.config, runtime.db, timeout=10)
    transport.send(email)
    with runtime.db.transaction() as session:
        alert = session.get(FeedbackAlert, alert_id)
        if alert is not None:
            alert.sent_at = utcnow()
    return "alerted"

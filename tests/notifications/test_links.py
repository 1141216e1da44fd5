"""The links a message carries: through the click-counting redirect to the shop's own domain
with UTM, counted against the message; and the feedback request's one-tap ratings."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select

from frontend.models import ShipmentFeedback
from plugin.admin.settings import FeedbackChoice, save_feedback
from plugin.insights.models import InsightEvent
from plugin.milestones import Milestone
from plugin.models import Shipment, Shop
from plugin.notifications import jobs
from plugin.notifications.channels import Channel
from plugin.notifications.messages.gsm7 import count_segments
from plugin.notifications.settings import DEFAULT_SETTINGS, MilestoneRule, save_settings
from tests.notifications.conftest import CAMILLE, TUESDAY_10H_PARIS, messages, outbox

START = TUESDAY_10H_PARIS - timedelta(days=2)  # when the stories begin (see conftest.story)
_HREF = re.compile(r'href="([^"]+)"')


def _hrefs(html: str) -> list[str]:
    return [unescape(href) for href in _HREF.findall(html)]


def _clicks(runtime, message_id: int) -> int:  # type: ignore[no-untyped-def]
    with runtime.db.session() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(InsightEvent)
                .where(InsightEvent.kind == "click", InsightEvent.message_id == message_id)
            )
            or 0
        )


def _path(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "https://relais.test", url
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_every_email_link_counts_a_click_and_lands_on_the_shop_with_utm(
    story, run_jobs, runtime, frozen_now, client
):  # type: ignore[no-untyped-def]
    camille = story(CAMILLE, 1001)
    camille.ordered()
    camille.shipped()
    run_jobs()
    (email,) = [e for e in outbox(runtime) if e.channel == "email"]
    message_id = email.message_id
    assert message_id is not None
    links = _hrefs(email.html or "")
    assert len(set(links)) == 2  # the tracking button (also printed as text) and Wallet's
    targets = set()
    for n, link in enumerate(links, start=1):
        assert link.startswith("https://relais.test/r/"), link
        assert link in (email.text or "")  # the plain-text part carries the same links
        response = client.get(_path(link))
        assert response.status_code == 302
        target = urlsplit(response.headers["Location"])
        assert target.netloc in ("maison-lumiere.fr", "relais.test")  # the shop's, or Wallet's
        assert parse_qs(target.query) == {
            "utm_source": ["relais"],
            "utm_medium": ["email"],
            "utm_campaign": ["shipped"],
        }
        targets.add(target.netloc + target.path.rsplit("/", 1)[0])
        assert _clicks(runtime, message_id) == n
    assert targets == {"maison-lumiere.fr/apps/track/o", "relais.test/wallet/passes"}


def test_sms_keeps_its_short_link(story, run_jobs, runtime, frozen_now):  # type: ignore[no-untyped-def]
    camille = story(CAMILLE, 1001)
    camille.ordered()
    f1 = camille.shipped()
    camille.event(f1, "ready_for_pickup", 20)
    run_jobs()
    sms = [e for e in outbox(runtime) if e.channel == "sms"]
    assert sms and all("https://relais.test/s/" in (e.text or "") for e in sms)
    assert all("/r/" not in (e.text or "") for e in sms)


def test_opening_the_sms_short_link_counts_a_click_of_the_last_text(  # type: ignore[no-untyped-def]
    client, story, run_jobs, runtime, frozen_now
):
    camille = story(CAMILLE, 1001)
    camille.ordered()
    f1 = camille.shipped()
    camille.event(f1, "ready_for_pickup", 20)
    run_jobs()
    texts = [m for m in messages(runtime) if m.channel == "sms" and m.state == "sent"]
    assert texts
    last = max(texts, key=lambda m: m.sent_at)
    entry = next(e for e in outbox(runtime) if e.message_id == last.id)
    (link,) = re.findall(r"https://relais\.test(/s/\S+)", entry.text or "")
    assert _clicks(runtime, last.id) == 0
    response = client.get(link)
    assert response.status_code == 302
    assert _clicks(runtime, last.id) == 1
    utm = parse_qs(urlsplit(response.headers["Location"]).query)
    assert (utm["utm_medium"], utm["utm_campaign"]) == (["sms"], [last.milestone])


def _delivered_then_feedback(story, run_jobs, runtime, frozen_now):  # type: ignore[no-untyped-def]
    camille = story(CAMILLE, 1001)
    camille.ordered()
    f1 = camille.shipped()
    camille.event(f1, "delivered", 50)
    run_jobs()
    frozen_now(START + timedelta(days=5, hours=3))
    assert jobs.raise_alerts() == {"feedback_request": 1}
    run_jobs()
    feedback = [m for m in messages(runtime) if m.milestone == "feedback_request"]
    assert feedback and all(m.state == "sent" for m in feedback)
    sent = {e.message_id: e for e in outbox(runtime)}
    return {m.channel: sent[m.id] for m in feedback}


def _rating_links(html: str) -> list[str]:
    return [link for link in _hrefs(html) if "/f/" in link]


def test_feedback_email_has_one_working_button_per_score(
    story, run_jobs, runtime, frozen_now, client
):  # type: ignore[no-untyped-def]
    by_channel = _delivered_then_feedback(story, run_jobs, runtime, frozen_now)
    email = by_channel["email"]
    ratings = _rating_links(email.html or "")
    assert len(ratings) == 5  # the default scale: 1 to 5 stars
    assert all(link in (email.text or "") for link in ratings)
    response = client.get(_path(ratings[3]))  # four stars
    assert response.status_code == 200
    with runtime.db.session() as session:
        (answer,) = session.scalars(select(ShipmentFeedback)).all()
        shipment = session.scalar(select(Shipment))
        assert shipment is not None
    assert (answer.rating, answer.scale, answer.shipment_id) == (4, "stars", shipment.id)
    # The other links of the email still count through the redirect.
    assert all(
        link.startswith("https://relais.test/r/")
        for link in _hrefs(email.html or "")
        if link not in ratings
    )


def test_feedback_email_follows_the_shops_nps_scale(
    story, run_jobs, runtime, frozen_now, client, shop
):  # type: ignore[no-untyped-def]
    with runtime.db.transaction() as session:
        loaded = session.get(Shop, shop.id)
        assert loaded is not None
        save_feedback(loaded, FeedbackChoice(scale="nps"))
    email = _delivered_then_feedback(story, run_jobs, runtime, frozen_now)["email"]
    ratings = _rating_links(email.html or "")
    assert len(ratings) == 11  # 0 to 10
    assert client.get(_path(ratings[0])).status_code == 200
    with runtime.db.session() as session:
        (answer,) = session.scalars(select(ShipmentFeedback)).all()
    assert (answer.rating, answer.scale) == (0, "nps")


def test_feedback_sms_links_to_the_rating_form_in_one_segment(
    story, run_jobs, runtime, frozen_now, shop
):  # type: ignore[no-untyped-def]
    with runtime.db.transaction() as session:
        rules = {
            **DEFAULT_SETTINGS.rules,
            Milestone.FEEDBACK_REQUEST: MilestoneRule(True, (Channel.SMS, Channel.EMAIL), True),
        }
        save_settings(session, shop.id, replace(DEFAULT_SETTINGS, rules=rules))
    by_channel = _delivered_then_feedback(story, run_jobs, runtime, frozen_now)
    sms = by_channel["sms"].text or ""
    with runtime.db.session() as session:
        shipment_id = session.scalar(select(Shipment.id))
    (link,) = re.findall(r"https://\S+", sms)
    assert link.startswith("https://relais.test/s/")
    assert link.endswith(f"#rl-feedback-{shipment_id}")
    count = count_segments(sms)
    assert (count.encoding, count.segments) == ("GSM-7", 1)

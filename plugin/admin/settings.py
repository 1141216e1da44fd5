"""The merchant's choices kept in ``Shop.settings`` (JSON), read and written through types.

Keys (shared with the storefront and notifications, which read them):

* ``branding``: ``logo_url``, ``primary_color``, ``accent_color``, ``sender_name``
* ``support_email``: where shoppers' replies go (a person reads it)
* ``upsell``: ``enabled``, ``fallback_collection``, ``discount_code``, ``discount_text`` (per
  language), ``limit``
* ``feedback``: ``scale`` (``stars`` 1 to 5 or ``nps`` 0 to 10), ``low_at_most`` (a score
  at or below it alerts the support inbox; None: the scale's default), ``review_url`` (shown
  after a high score), ``referral_text`` (per language, else). When the request is sent
  (days after delivery, 0 for never) is the notifications' ``feedback_days`` alert threshold.
* ``setup``: what the merchant confirmed by hand in the checklist

No web code here: notifications and the storefront may import this module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from plugin.models import Shop

DEFAULT_UPSELL_LIMIT = 4


@dataclass(frozen=True)
class Branding:
    """How the shop appears in messages and on the tracking page."""

    sender_name: str | None = None
    support_email: str | None = None
    logo_url: str | None = None
    primary_color: str | None = None
    accent_color: str | None = None

    def display_name(self, shop: Shop) -> str:
        """The name shoppers see as the sender: the merchant's choice, else the shop's."""
        return self.sender_name or shop.name or shop.domain.removesuffix(".myshopify.com")

    def reply_to(self, shop: Shop) -> str | None:
        """Where replies go: the support address, else the shop's contact email."""
        return self.support_email or shop.contact_email


@dataclass(frozen=True)
class UpsellChoice:
    enabled: bool = True
    fallback_collection: str | None = None
    discount_code: str | None = None
    discount_text: dict[str, str] = field(default_factory=dict)
    limit: int = DEFAULT_UPSELL_LIMIT


FEEDBACK_SCALES = ("stars", "nps")
# The scores a "low score" threshold may take on each scale: below the high scores (4 stars,
# 9 on the 0 to 10 scale), which get the review link or the referral offer.
LOW_SCORE_CHOICES = {"stars": range(1, 4), "nps": range(0, 9)}


@dataclass(frozen=True)
class FeedbackChoice:
    scale: str = "stars"
    low_at_most: int | None = None  # None: the scale's default
    review_url: str | None = None
    referral_text: dict[str, str] = field(default_factory=dict)


def _settings(shop: Shop) -> dict[str, Any]:
    return dict(shop.settings or {})


def _section(shop: Shop, key: str) -> dict[str, Any]:
    value = _settings(shop).get(key)
    return dict(value) if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def get_branding(shop: Shop) -> Branding:
    raw = _section(shop, "branding")
    return Branding(
        sender_name=_text(raw.get("sender_name")),
        support_email=_text(_settings(shop).get("support_email")),
        logo_url=_text(raw.get("logo_url")),
        primary_color=_text(raw.get("primary_color")),
        accent_color=_text(raw.get("accent_color")),
    )


def save_branding(shop: Shop, branding: Branding) -> None:
    """Store ``branding`` (already validated) on the shop; the caller commits."""
    settings = _settings(shop)
    settings["branding"] = {
        **_section(shop, "branding"),
        "sender_name": branding.sender_name,
        "logo_url": branding.logo_url,
        "primary_color": branding.primary_color,
        "accent_color": branding.accent_color,
    }
    settings["support_email"] = branding.support_email
    shop.settings = settings  # a new dict: SQLAlchemy sees the JSON change


def get_upsell(shop: Shop) -> UpsellChoice:
    raw = _section(shop, "upsell")
    text = raw.get("discount_text")
    limit = raw.get("limit")
    return UpsellChoice(
        enabled=bool(raw.get("enabled", True)),
        fallback_collection=_text(raw.get("fallback_collection")),
        discount_code=_text(raw.get("discount_code")),
        discount_text={k: str(v) for k, v in text.items()} if isinstance(text, dict) else {},
        limit=limit if isinstance(limit, int) else DEFAULT_UPSELL_LIMIT,
    )


def save_upsell(shop: Shop, choice: UpsellChoice) -> None:
    settings = _settings(shop)
    settings["upsell"] = asdict(choice)
    shop.settings = settings


def get_feedback(shop: Shop) -> FeedbackChoice:
    raw = _section(shop, "feedback")
    scale = str(raw.get("scale")) if raw.get("scale") in FEEDBACK_SCALES else "stars"
    low = raw.get("low_at_most")
    referral = raw.get("referral_text")
    return FeedbackChoice(
        scale=scale,
        low_at_most=low if isinstance(low, int) and low in LOW_SCORE_CHOICES[scale] else None,
        review_url=_text(raw.get("review_url")),
        referral_text=(
            {k: str(v) for k, v in referral.items() if v} if isinstance(referral, dict) else {}
        ),
    )


def save_feedback(shop: Shop, choice: FeedbackChoice) -> None:
    settings = _settings(shop)
    settings["feedback"] = asdict(choice)
    shop.settings = settings


def confirmed_at(shop: Shop, step: str) -> str | None:
    """When the merchant confirmed a manual set-up step (ISO timestamp), if they did."""
    value = _section(shop, "setup").get(step)
    return value if isinstance(value, str) else None


def confirm_step(shop: Shop, step: str, at: datetime) -> None:
    settings = _settings(shop)
    settings["setup"] = {**_section(shop, "setup"), step: at.isoformat()}
    shop.settings = settings

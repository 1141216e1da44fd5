"""Per-milestone choices of the merchant: on/off, channel order, French and English copy.

The admin talks to :class:`MilestoneSettings`. Notifications own the rules and the copy
(``plugin.notifications.settings`` and ``plugin.notifications.editor``):
:class:`NotificationsMilestones` calls them. When that package cannot be imported (an
install without notifications), :class:`ShopSettingsMilestones` keeps the choices in
``Shop.settings["milestones"]`` and previews with Jinja's sandbox.

Copy uses the notifications' template language: ``{{ first_name }}``, ``{% if %}``.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.admin.i18n import Translator
from plugin.admin.settings import get_branding
from plugin.config import Config
from plugin.milestones import Milestone
from plugin.models import Shop

log = logging.getLogger(__name__)

CHANNELS = ("wallet", "sms", "whatsapp", "email")
# Copy the merchant writes; WhatsApp uses templates Meta approved (see Channels).
EDITABLE_CHANNELS = ("email", "sms")
URGENT = frozenset(
    {Milestone.OUT_FOR_DELIVERY, Milestone.ATTEMPTED_DELIVERY, Milestone.READY_FOR_PICKUP}
)
ON_BY_DEFAULT = frozenset(
    {
        Milestone.SHIPPED,
        Milestone.OUT_FOR_DELIVERY,
        Milestone.ATTEMPTED_DELIVERY,
        Milestone.READY_FOR_PICKUP,
        Milestone.DELAYED,
        Milestone.DELIVERED,
        Milestone.FAILURE,
        Milestone.PICKUP_REMINDER,
        Milestone.LATE,
    }
)
# The steps in the order a merchant thinks of them: the journey, then the scheduler's.
ORDER = (
    Milestone.SHIPPED,
    Milestone.IN_TRANSIT,
    Milestone.OUT_FOR_DELIVERY,
    Milestone.ATTEMPTED_DELIVERY,
    Milestone.READY_FOR_PICKUP,
    Milestone.PICKUP_REMINDER,
    Milestone.DELAYED,
    Milestone.LATE,
    Milestone.STALLED,
    Milestone.NOT_SHIPPED,
    Milestone.DELIVERED,
    Milestone.FAILURE,
    Milestone.RETURNING_TO_SENDER,
    Milestone.FEEDBACK_REQUEST,
    Milestone.LABEL_CREATED,
    Milestone.ORDERED,
    Milestone.CANCELLED,
)
# What a template may use when notifications are not installed (theirs otherwise).
FALLBACK_VARIABLES = frozenset(
    {
        "shop_name",
        "first_name",
        "order_name",
        "carrier",
        "tracking_number",
        "tracking_url",
        "estimated_delivery",
        "pickup_point",
    }
)


@dataclass(frozen=True)
class Copy:
    subject: str | None
    body: str


@dataclass(frozen=True)
class MilestonePlan:
    """What happens for one milestone: whether it notifies, where, with which words."""

    milestone: str
    enabled: bool
    channels: tuple[str, ...]
    # (channel, language) -> the copy in use (the merchant's, else the default).
    copies: Mapping[tuple[str, str], Copy] = field(default_factory=dict)


@dataclass(frozen=True)
class Preview:
    subject: str | None
    html: str | None
    text: str | None
    # Reasons the draft cannot be saved (from notifications' checks, in English).
    problems: tuple[str, ...] = ()


class MilestoneSettings(Protocol):
    """Where the admin reads and writes milestone choices, and renders previews."""

    variables: frozenset[str]

    def plans(self, session: Session, shop: Shop) -> dict[str, MilestonePlan]: ...

    def save_plan(
        self, session: Session, shop: Shop, milestone: str, enabled: bool, channels: tuple[str, ...]
    ) -> list[str]:
        """Store the rule; the problems that refused it (empty when saved)."""
        ...

    def save_copy(
        self, session: Session, shop: Shop, milestone: str, channel: str, language: str, copy: Copy
    ) -> list[str]:
        """Store the copy; the problems that refused it (empty when saved)."""
        ...

    def preview(
        self, session: Session, shop: Shop, milestone: str, channel: str, language: str, copy: Copy
    ) -> Preview: ...


class NotificationsMilestones:
    """The notifications package's rules, templates and previews."""

    def __init__(self, config: Config) -> None:
        # Importing here tells whether notifications are installed (and importable).
        import plugin.notifications.editor
        import plugin.notifications.settings  # noqa: F401
        from plugin.notifications.messages.sandbox import VARIABLES

        self.config = config
        self.variables = frozenset(VARIABLES)

    def plans(self, session: Session, shop: Shop) -> dict[str, MilestonePlan]:
        from plugin.notifications.messages.copy import default_copy
        from plugin.notifications.models import NotificationTemplate
        from plugin.notifications.settings import get_settings

        settings = get_settings(session, shop.id)
        # Every saved template of the shop in one query (the page shows them all); what
        # is not saved is the default, as notifications' effective_copy decides.
        saved = {
            (row.milestone, row.channel, row.locale): row
            for row in session.scalars(
                select(NotificationTemplate).where(NotificationTemplate.shop_id == shop.id)
            )
        }
        plans = {}
        for milestone in ORDER:
            rule = settings.rule(milestone)
            copies = {}
            for language in ("fr", "en"):
                default = default_copy(milestone, language)
                email = saved.get((milestone.value, "email", language))
                copies[("email", language)] = (
                    Copy(email.subject or default.subject, email.body)
                    if email
                    else Copy(default.subject, default.body)
                )
                sms = saved.get((milestone.value, "sms", language))
                copies[("sms", language)] = Copy(None, sms.body if sms else default.sms)
            plans[milestone.value] = MilestonePlan(
                milestone=milestone.value,
                enabled=rule.enabled,
                channels=tuple(c.value for c in rule.channels),
                copies=copies,
            )
        return plans

    def save_plan(
        self, session: Session, shop: Shop, milestone: str, enabled: bool, channels: tuple[str, ...]
    ) -> list[str]:
        from plugin.notifications.channels import Channel
        from plugin.notifications.settings import SettingsRefused, get_settings, save_settings

        settings = get_settings(session, shop.id)
        key = Milestone(milestone)
        rules = dict(settings.rules)
        current = settings.rule(key)
        rules[key] = replace(
            current,
            enabled=enabled,
            channels=tuple(Channel(c) for c in channels) or current.channels,
        )
        try:
            save_settings(session, shop.id, replace(settings, rules=rules))
        except SettingsRefused as exc:
            return list(exc.errors)
        return []

    def save_copy(
        self, session: Session, shop: Shop, milestone: str, channel: str, language: str, copy: Copy
    ) -> list[str]:
        from plugin.notifications.editor import save_template
        from plugin.notifications.messages.sandbox import TemplateRefused

        try:
            save_template(
                session,
                self.config,
                shop.id,
                milestone=Milestone(milestone),
                channel=channel,
                locale=language,
                body=copy.body,
                subject=copy.subject,
            )
        except TemplateRefused as exc:
            return list(exc.errors)
        return []

    def preview(
        self, session: Session, shop: Shop, milestone: str, channel: str, language: str, copy: Copy
    ) -> Preview:
        from plugin.notifications.editor import preview

        result = preview(
            session,
            self.config,
            shop.id,
            milestone=Milestone(milestone),
            channel=channel,
            locale=language,
            body=copy.body,
            subject=copy.subject,
        )
        return Preview(result.subject, result.html, result.text, tuple(result.errors))


def default_channels(milestone: str) -> tuple[str, ...]:
    return ("wallet", "sms", "whatsapp", "email") if milestone in URGENT else ("wallet", "email")


def fallback_copy(milestone: str, channel: str, language: str) -> Copy:
    """Plain default words when notifications are not installed."""
    step = Translator(language).milestone(milestone).lower()
    if language == "fr":
        body = "Bonjour {{ first_name }}, votre commande {{ order_name }} : " + step + "."
        body += " Suivez-la ici : {{ tracking_url }}"
    else:
        body = "Hello {{ first_name }}, your order {{ order_name }}: " + step + "."
        body += " Follow it here: {{ tracking_url }}"
    subject = "{{ shop_name }} - " + step if channel == "email" else None
    return Copy(subject=subject, body=body)


def sample_values(shop: Shop, language: str) -> dict[str, Any]:
    """What the fallback preview puts in each field."""
    domain = shop.primary_domain or shop.domain
    return {
        "first_name": "Camille",
        "order_name": "#1042",
        "shop_name": get_branding(shop).display_name(shop),
        "tracking_url": f"https://{domain}/apps/track/o/exemple",
        "carrier": "Colissimo",
        "tracking_number": "6A12345678901",
        "estimated_delivery": "jeudi 14 mars" if language == "fr" else "Thursday 14 March",
        "pickup_point": {"name": "Tabac du Centre", "city": "Lyon"},
    }


class ShopSettingsMilestones:
    """Choices kept in ``Shop.settings["milestones"]`` (used without notifications)."""

    KEY = "milestones"
    variables = FALLBACK_VARIABLES
    _env = SandboxedEnvironment(autoescape=False)

    def _all(self, shop: Shop) -> dict[str, Any]:
        raw = (shop.settings or {}).get(self.KEY)
        return dict(raw) if isinstance(raw, dict) else {}

    def _store(self, session: Session, shop: Shop, milestone: str, changes: dict[str, Any]) -> None:
        row = session.get(Shop, shop.id)
        assert row is not None
        stored = self._all(row)
        stored[milestone] = {**(stored.get(milestone) or {}), **changes}
        row.settings = {**(row.settings or {}), self.KEY: stored}

    def plans(self, session: Session, shop: Shop) -> dict[str, MilestonePlan]:
        stored = self._all(shop)
        plans = {}
        for milestone in ORDER:
            raw = stored.get(milestone.value) or {}
            channels = tuple(c for c in raw.get("channels", ()) if c in CHANNELS)
            copies = {}
            for channel in EDITABLE_CHANNELS:
                for language in ("fr", "en"):
                    saved = (raw.get("copy") or {}).get(f"{channel}:{language}")
                    copies[(channel, language)] = (
                        Copy(saved.get("subject"), saved["body"])
                        if isinstance(saved, dict) and saved.get("body")
                        else fallback_copy(milestone.value, channel, language)
                    )
            plans[milestone.value] = MilestonePlan(
                milestone=milestone.value,
                enabled=bool(raw.get("enabled", milestone in ON_BY_DEFAULT)),
                channels=channels or default_channels(milestone.value),
                copies=copies,
            )
        return plans

    def save_plan(
        self, session: Session, shop: Shop, milestone: str, enabled: bool, channels: tuple[str, ...]
    ) -> list[str]:
        self._store(session, shop, milestone, {"enabled": enabled, "channels": list(channels)})
        return []

    def save_copy(
        self, session: Session, shop: Shop, milestone: str, channel: str, language: str, copy: Copy
    ) -> list[str]:
        row = session.get(Shop, shop.id)
        assert row is not None
        copies = dict((self._all(row).get(milestone) or {}).get("copy") or {})
        copies[f"{channel}:{language}"] = {"subject": copy.subject, "body": copy.body}
        self._store(session, shop, milestone, {"copy": copies})
        return []

    def preview(
        self, session: Session, shop: Shop, milestone: str, channel: str, language: str, copy: Copy
    ) -> Preview:
        values = sample_values(shop, language)
        try:
            subject = self._env.from_string(copy.subject).render(values) if copy.subject else None
            text = self._env.from_string(copy.body).render(values)
        except TemplateError as exc:
            return Preview(None, None, None, (str(exc),))
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n") if p.strip())
        return Preview(subject=subject, html=paragraphs, text=text)


def milestone_settings(config: Config) -> MilestoneSettings:
    """Notifications' settings when that package is installed, else the fallback."""
    try:
        return NotificationsMilestones(config)
    except ImportError as exc:
        log.warning("notifications settings unavailable (%s): milestone choices kept locally", exc)
        return ShopSettingsMilestones()

"""A merchant's notification settings: which milestones notify, on which channels in which
order, quiet hours, alert thresholds, sender, WhatsApp templates, promotional line.

Stored as JSON in ``notification_settings`` (one row per shop); absent or partial settings
fall back to the defaults below, so a shop that never opened the settings page gets
sensible behaviour. The admin UI calls :func:`get_settings` and :func:`save_settings`.
"""

from __future__ import annotations

import logging
import re
import time as monotonic_time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from typing import Any, Generic, TypeVar

import holidays
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.errors import RelaisError
from plugin.milestones import Milestone
from plugin.notifications.channels import Channel
from plugin.notifications.messages.copy import LOCALES, WHATSAPP_VARIABLES
from plugin.notifications.messages.sandbox import VARIABLES
from plugin.notifications.models import NotificationSettingsRow
from plugin.upsert import insert_once

log = logging.getLogger(__name__)
T = TypeVar("T")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


class SettingsRefused(RelaisError):
    """Settings that cannot be saved, with every reason."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class MilestoneRule:
    """Whether a milestone notifies, and on which channels, best first.

    One message goes out, on the first channel that can reach the shopper, unless
    ``all_channels`` asks for every reachable one. ``promotional`` messages need the
    shopper's marketing consent on that channel.
    """

    enabled: bool
    channels: tuple[Channel, ...]
    all_channels: bool = False
    promotional: bool = False


@dataclass(frozen=True)
class QuietHours:
    """When SMS and WhatsApp may reach a phone, in the shopper's time zone."""

    enabled: bool = True
    start: time = time(8, 0)
    end: time = time(20, 0)
    days: frozenset[int] = frozenset(range(6))  # Monday (0) to Saturday (5)
    holidays_country: str | None = "FR"  # no messages on its public holidays; None: ignore


@dataclass(frozen=True)
class AlertThresholds:
    """Days before a proactive alert is raised; 0 turns that alert off."""

    not_shipped_days: int = 3  # ordered, nothing shipped
    stalled_days: int = 4  # in transit, no carrier update
    pickup_reminder_days: int = 3  # waiting at a pickup point
    late_days: int = 1  # past the estimated delivery date
    feedback_days: int = 3  # after delivery


@dataclass(frozen=True)
class Sender:
    """Who messages come from; empty values fall back to the shop's details."""

    from_email: str | None = None  # default: the operator's sender (NOTIFICATIONS_FROM_EMAIL)
    from_name: str | None = None  # default: the shop's name
    reply_to: str | None = None  # default: the shop's support or contact email
    sms_sender: str | None = None  # number, alphanumeric id (11 chars) or MG… service
    whatsapp_sender: str | None = None


@dataclass(frozen=True)
class WhatsAppTemplate:
    """A template the merchant had approved by Meta (Twilio Content SID), and which Relais
    values fill its {{1}}, {{2}}... placeholders, in order."""

    content_sid: str
    variables: tuple[str, ...] = WHATSAPP_VARIABLES


_URGENT = (Channel.WALLET, Channel.SMS, Channel.WHATSAPP, Channel.EMAIL)
_RECORD = (Channel.WALLET, Channel.EMAIL)

DEFAULT_RULES: dict[Milestone, MilestoneRule] = {
    # Shopify itself confirms and cancels orders: saying it again is the duplicate merchants
    # complain about. They can turn these on.
    Milestone.ORDERED: MilestoneRule(False, (Channel.EMAIL,)),
    Milestone.CANCELLED: MilestoneRule(False, (Channel.EMAIL,)),
    Milestone.LABEL_CREATED: MilestoneRule(False, _RECORD),
    Milestone.SHIPPED: MilestoneRule(True, _RECORD),
    Milestone.IN_TRANSIT: MilestoneRule(False, _RECORD),
    Milestone.OUT_FOR_DELIVERY: MilestoneRule(True, _URGENT),
    Milestone.ATTEMPTED_DELIVERY: MilestoneRule(True, _URGENT),
    Milestone.READY_FOR_PICKUP: MilestoneRule(True, _URGENT),
    Milestone.DELAYED: MilestoneRule(True, _RECORD),
    Milestone.DELIVERED: MilestoneRule(True, _RECORD),
    Milestone.FAILURE: MilestoneRule(True, _RECORD),
    Milestone.RETURNING_TO_SENDER: MilestoneRule(True, (Channel.EMAIL,)),
    Milestone.NOT_SHIPPED: MilestoneRule(True, (Channel.EMAIL,)),
    Milestone.STALLED: MilestoneRule(True, (Channel.EMAIL,)),
    Milestone.PICKUP_REMINDER: MilestoneRule(True, _URGENT),
    Milestone.LATE: MilestoneRule(True, _RECORD),
    Milestone.FEEDBACK_REQUEST: MilestoneRule(True, (Channel.EMAIL,)),
}


@dataclass(frozen=True)
class NotificationSettings:
    rules: Mapping[Milestone, MilestoneRule] = field(default_factory=lambda: dict(DEFAULT_RULES))
    quiet_hours: QuietHours = QuietHours()
    thresholds: AlertThresholds = AlertThresholds()
    sender: Sender = Sender()
    # (milestone, locale) -> approved template; WhatsApp is used only where one exists.
    whatsapp_templates: Mapping[tuple[Milestone, str], WhatsAppTemplate] = field(
        default_factory=dict
    )
    # Transactional SMS/WhatsApp need the SMS consent Shopify collects at checkout unless
    # the merchant collects phone numbers for delivery updates on their own terms.
    phone_needs_consent: bool = True
    # A promotional line (a discount...) added to emails of shoppers with marketing consent.
    offer: Mapping[str, str] = field(default_factory=dict)
    brand_color: str | None = None

    def rule(self, milestone: Milestone) -> MilestoneRule:
        return self.rules.get(milestone) or DEFAULT_RULES[milestone]

    def whatsapp_template(self, milestone: Milestone, locale: str) -> WhatsAppTemplate | None:
        return self.whatsapp_templates.get((milestone, locale))


DEFAULT_SETTINGS = NotificationSettings()


class ShopCache(Generic[T]):
    """Per-process memory of something read per shop, kept ``seconds`` (jobs read a shop's
    settings and copy for every message; a merchant's change reaches other processes within
    that delay, and this process at once)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._values: dict[tuple[URL, int], tuple[float, T]] = {}

    def get(self, session: Session, shop_id: int, load: Callable[[], T]) -> T:
        key = (_database_of(session), shop_id)
        now = monotonic_time.monotonic()
        cached = self._values.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        value = load()
        self._values[key] = (now + self.seconds, value)
        return value

    def forget(self, session: Session, shop_id: int) -> None:
        self._values.pop((_database_of(session), shop_id), None)


def _database_of(session: Session) -> URL:
    # The URL object itself is the key (immutable, hashable): rendering it as text for every
    # message costs more.
    return session.get_bind().engine.url


CACHE_SECONDS = 5.0
_settings_cache: ShopCache[NotificationSettings] = ShopCache(CACHE_SECONDS)


def get_settings(session: Session, shop_id: int) -> NotificationSettings:
    """The shop's settings, defaults filling whatever was never set (or no longer makes sense)."""

    def load() -> NotificationSettings:
        row = session.get(NotificationSettingsRow, shop_id)
        if row is None or not row.data:
            return DEFAULT_SETTINGS
        return settings_from_json(row.data)

    return _settings_cache.get(session, shop_id, load)


def save_settings(session: Session, shop_id: int, settings: NotificationSettings) -> None:
    """Check and store a shop's settings; raises :class:`SettingsRefused` with every reason."""
    errors = validate_settings(settings)
    if errors:
        raise SettingsRefused(errors)
    data = settings_to_json(settings)
    insert_once(
        session,
        NotificationSettingsRow,
        {"shop_id": shop_id, "data": {}, "updated_at": utcnow()},
        conflict_columns=["shop_id"],
    )
    row = session.get(NotificationSettingsRow, shop_id, with_for_update=True)
    assert row is not None
    row.data = data
    row.updated_at = utcnow()
    _settings_cache.forget(session, shop_id)


def validate_settings(settings: NotificationSettings) -> list[str]:
    errors: list[str] = []
    for milestone, rule in settings.rules.items():
        if rule.enabled and not rule.channels:
            errors.append(f"{milestone.value}: choose at least one channel")
        if len(set(rule.channels)) != len(rule.channels):
            errors.append(f"{milestone.value}: a channel is listed twice")
    quiet = settings.quiet_hours
    if quiet.enabled:
        if quiet.start >= quiet.end:
            errors.append("quiet hours: sending must start before it ends")
        if not quiet.days:
            errors.append("quiet hours: allow at least one day")
        if any(d not in range(7) for d in quiet.days):
            errors.append("quiet hours: days are 0 (Monday) to 6 (Sunday)")
        if (
            quiet.holidays_country
            and quiet.holidays_country not in holidays.list_supported_countries()
        ):
            errors.append(f"quiet hours: no public holidays known for {quiet.holidays_country}")
    for name, value in vars(settings.thresholds).items():
        if not isinstance(value, int) or not 0 <= value <= 90:
            errors.append(f"{name}: between 0 and 90 days")
    sender = settings.sender
    for name in ("from_email", "reply_to"):
        value = getattr(sender, name)
        if value and not _EMAIL.match(value):
            errors.append(f"{name}: not an email address")
    if sender.sms_sender and not _valid_sms_sender(sender.sms_sender):
        errors.append("sms_sender: a phone number, an 11-character name or a messaging service")
    for (milestone, locale), template in settings.whatsapp_templates.items():
        if locale not in LOCALES:
            errors.append(f"WhatsApp {milestone.value}: language {locale} is not offered")
        if not _CONTENT_SID.match(template.content_sid):
            errors.append(
                f"WhatsApp {milestone.value}/{locale}: content SID looks like HX + 32 hex"
            )
        unknown = sorted(set(template.variables) - VARIABLES)
        if unknown:
            errors.append(f"WhatsApp {milestone.value}/{locale}: unknown values {unknown}")
    if settings.brand_color and not _COLOR.match(settings.brand_color):
        errors.append("brand_color: a colour like #1f2937")
    for locale, text in settings.offer.items():
        if locale not in LOCALES:
            errors.append(f"offer: language {locale} is not offered")
        if len(text) > 300:
            errors.append(f"offer ({locale}): at most 300 characters")
    return errors


def _valid_sms_sender(value: str) -> bool:
    if value.startswith("MG") and len(value) == 34:
        return True
    if re.fullmatch(r"\+[1-9]\d{6,14}", value):
        return True
    # Alphanumeric sender ids: 1-11 characters, at least one letter.
    return bool(re.fullmatch(r"[A-Za-z0-9 ]{1,11}", value)) and any(c.isalpha() for c in value)


# --- JSON --------------------------------------------------------------------------------


def settings_to_json(settings: NotificationSettings) -> dict[str, Any]:
    quiet = settings.quiet_hours
    return {
        "rules": {
            m.value: {
                "enabled": r.enabled,
                "channels": [c.value for c in r.channels],
                "all_channels": r.all_channels,
                "promotional": r.promotional,
            }
            for m, r in settings.rules.items()
        },
        "quiet_hours": {
            "enabled": quiet.enabled,
            "start": quiet.start.strftime("%H:%M"),
            "end": quiet.end.strftime("%H:%M"),
            "days": sorted(quiet.days),
            "holidays_country": quiet.holidays_country,
        },
        "thresholds": dict(vars(settings.thresholds)),
        "sender": dict(vars(settings.sender)),
        "whatsapp_templates": [
            {
                "milestone": m.value,
                "locale": locale,
                "content_sid": t.content_sid,
                "variables": list(t.variables),
            }
            for (m, locale), t in settings.whatsapp_templates.items()
        ],
        "phone_needs_consent": settings.phone_needs_consent,
        "offer": dict(settings.offer),
        "brand_color": settings.brand_color,
    }


def settings_from_json(data: Mapping[str, Any]) -> NotificationSettings:
    """Read stored settings leniently: a value that no longer makes sense becomes the default."""
    settings = DEFAULT_SETTINGS
    rules = dict(DEFAULT_RULES)
    for key, raw in (data.get("rules") or {}).items():
        try:
            milestone = Milestone(key)
            channels = tuple(Channel(c) for c in raw.get("channels", []))
            rules[milestone] = MilestoneRule(
                enabled=bool(raw.get("enabled", rules[milestone].enabled)),
                channels=channels or rules[milestone].channels,
                all_channels=bool(raw.get("all_channels", False)),
                promotional=bool(raw.get("promotional", False)),
            )
        except (ValueError, TypeError, AttributeError):
            log.warning("notification settings: rule %r ignored", key)
    quiet = settings.quiet_hours
    raw_quiet = data.get("quiet_hours") or {}
    try:
        quiet = QuietHours(
            enabled=bool(raw_quiet.get("enabled", quiet.enabled)),
            start=time.fromisoformat(raw_quiet["start"]) if raw_quiet.get("start") else quiet.start,
            end=time.fromisoformat(raw_quiet["end"]) if raw_quiet.get("end") else quiet.end,
            days=frozenset(int(d) for d in raw_quiet["days"])
            if "days" in raw_quiet
            else quiet.days,
            holidays_country=raw_quiet.get("holidays_country", quiet.holidays_country),
        )
    except (ValueError, TypeError):
        log.warning("notification settings: quiet hours ignored")
        quiet = settings.quiet_hours
    thresholds = settings.thresholds
    try:
        thresholds = replace(
            thresholds,
            **{
                k: int(v)
                for k, v in (data.get("thresholds") or {}).items()
                if hasattr(thresholds, k)
            },
        )
    except (ValueError, TypeError):
        log.warning("notification settings: thresholds ignored")
    raw_sender = data.get("sender") or {}
    sender = Sender(**{k: (raw_sender.get(k) or None) for k in vars(Sender())})
    templates: dict[tuple[Milestone, str], WhatsAppTemplate] = {}
    for raw in data.get("whatsapp_templates") or []:
        try:
            templates[(Milestone(raw["milestone"]), str(raw["locale"]))] = WhatsAppTemplate(
                content_sid=str(raw["content_sid"]),
                variables=tuple(raw.get("variables") or WHATSAPP_VARIABLES),
            )
        except (KeyError, ValueError, TypeError):
            log.warning("notification settings: WhatsApp template ignored")
    return NotificationSettings(
        rules=rules,
        quiet_hours=quiet,
        thresholds=thresholds,
        sender=sender,
        whatsapp_templates=templates,
        phone_needs_consent=bool(data.get("phone_needs_consent", True)),
        offer={str(k): str(v) for k, v in (data.get("offer") or {}).items()},
        brand_color=data.get("brand_color") or None,
    )

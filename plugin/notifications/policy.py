"""The channel policy: which channel(s) a milestone goes out on, and when.

Pure decisions on plain facts (no database): the best channel the merchant allows that can
reach the shopper, Wallet when a pass is installed, SMS/WhatsApp only with a phone and
consent and outside quiet hours (the message waits), email for the record, promotional
messages only with marketing consent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from plugin.milestones import PROGRESS, Milestone
from plugin.notifications.channels import PHONE_CHANNELS, Channel
from plugin.notifications.quiet_hours import next_allowed
from plugin.notifications.settings import MilestoneRule, NotificationSettings


@dataclass(frozen=True)
class Reachability:
    """How a shopper can be reached, as far as the merchant and the shopper allow."""

    locale: str
    timezone: ZoneInfo
    email: str | None  # valid address, or None
    phone: str | None  # E.164 mobile number, or None
    email_suppressed: str | None = None  # why no more email goes there (bounce, spam report)
    sms_opted_out: bool = False
    whatsapp_opted_out: bool = False
    email_marketing_consent: bool = False
    sms_marketing_consent: bool = False
    wallet_installed: bool = False


@dataclass(frozen=True)
class Decision:
    """One message to create: on ``channel``, not before ``not_before``, or skipped."""

    channel: Channel
    recipient: str | None
    not_before: datetime
    skip_reason: str | None = None


def unavailable_reason(
    channel: Channel,
    milestone: Milestone,
    rule: MilestoneRule,
    who: Reachability,
    settings: NotificationSettings,
) -> str | None:
    """Why ``channel`` cannot carry this milestone to this shopper (None: it can)."""
    if channel == Channel.WALLET:
        return None if who.wallet_installed else "no Wallet pass installed"
    if channel == Channel.EMAIL:
        if not who.email:
            return "no email address"
        if who.email_suppressed:
            return f"email stopped: {who.email_suppressed}"
        if rule.promotional and not who.email_marketing_consent:
            return "promotional, and no email marketing consent"
        return None
    if not who.phone:
        return "no mobile number"
    if channel == Channel.SMS and who.sms_opted_out:
        return "shopper replied STOP"
    if channel == Channel.WHATSAPP:
        if who.whatsapp_opted_out:
            return "shopper replied STOP on WhatsApp"
        if settings.whatsapp_template(milestone, who.locale) is None:
            return "no approved WhatsApp template"
    needs_consent = rule.promotional or settings.phone_needs_consent
    if needs_consent and not who.sms_marketing_consent:
        return "no SMS consent"
    return None


def decide(
    milestone: Milestone,
    who: Reachability,
    settings: NotificationSettings,
    now: datetime,
) -> list[Decision]:
    """The messages a milestone calls for; empty when the merchant turned it off.

    When no allowed channel can reach the shopper, one skipped decision says why.
    """
    rule = settings.rule(milestone)
    if not rule.enabled:
        return []
    decisions: list[Decision] = []
    reasons: list[str] = []
    for channel in rule.channels:
        reason = unavailable_reason(channel, milestone, rule, who, settings)
        if reason is not None:
            reasons.append(f"{channel.value}: {reason}")
            continue
        decisions.append(
            Decision(
                channel=channel,
                recipient=_recipient(channel, who),
                not_before=due_time(channel, who.timezone, settings, now),
            )
        )
        if not rule.all_channels:
            break
    if not decisions:
        # Recorded on the last resort (email, for the record), with every channel's reason.
        last = rule.channels[-1] if rule.channels else Channel.EMAIL
        return [
            Decision(
                channel=last,
                recipient=_recipient(last, who),
                not_before=now,
                skip_reason="no channel can reach the shopper (" + "; ".join(reasons) + ")",
            )
        ]
    return decisions


def due_time(
    channel: Channel, zone: ZoneInfo, settings: NotificationSettings, now: datetime
) -> datetime:
    """Now, or the end of quiet hours for a phone channel."""
    if channel in PHONE_CHANNELS:
        return next_allowed(now, zone, settings.quiet_hours)
    return now


def overtaken_by(
    milestone: Milestone,
    milestone_at: datetime | None,
    current: Milestone | None,
    current_at: datetime | None,
) -> Milestone | None:
    """The milestone that made a waiting message pointless, or None if it still holds.

    A message is overtaken when its shipment has since moved to another milestone that
    happened later (or at the same second but further along the journey).
    """
    if current is None or current == milestone or milestone_at is None or current_at is None:
        return None
    if current_at > milestone_at:
        return current
    if current_at == milestone_at and PROGRESS.get(current, 0) > PROGRESS.get(milestone, 0):
        return current
    return None


def _recipient(channel: Channel, who: Reachability) -> str | None:
    if channel == Channel.EMAIL:
        return who.email
    if channel in PHONE_CHANNELS:
        return who.phone
    return None

"""The merchant's copy: save a template (checked, refused if broken), preview it live, and
find the copy a message uses (the merchant's if saved, else the default).

A template is refused when it is saved, never at send time: it must parse in the sandbox,
use only known variables, render with a full and a sparse sample order, and for SMS stay
in GSM-7 and within :data:`MAX_SMS_SEGMENTS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.config import Config
from plugin.db import utcnow
from plugin.milestones import Milestone
from plugin.models import Order, Shipment, Shop
from plugin.notifications.channels import Channel
from plugin.notifications.messages.copy import LOCALES, default_copy
from plugin.notifications.messages.gsm7 import BASIC, EXTENDED, to_gsm7
from plugin.notifications.messages.render import (
    EmailCopy,
    ItemLine,
    MessageContext,
    fill_whatsapp,
    render_email,
    render_sms,
    whatsapp_variables,
)
from plugin.notifications.messages.sandbox import TemplateRefused, check_template
from plugin.notifications.models import NotificationTemplate
from plugin.notifications.settings import CACHE_SECONDS, ShopCache, get_settings
from plugin.notifications.shopper import message_context, shopper_locale
from plugin.upsert import insert_once

MAX_SMS_SEGMENTS = 3


@dataclass(frozen=True)
class EffectiveCopy:
    """The template sources one message uses."""

    email: EmailCopy
    sms: str
    whatsapp: str
    customised: bool


_templates_cache: ShopCache[dict[tuple[str, str, str], NotificationTemplate]] = ShopCache(
    CACHE_SECONDS
)


def effective_copy(
    session: Session, shop_id: int, milestone: Milestone, channel: str, locale: str
) -> EffectiveCopy:
    """The merchant's template for this milestone, channel and language, else the default."""
    default = default_copy(milestone, locale)
    saved = _saved_templates(session, shop_id).get((milestone.value, channel, locale))
    email = EmailCopy(default.subject, default.body, default.cta)
    sms = default.sms
    if saved is not None and channel == Channel.EMAIL:
        email = EmailCopy(saved.subject or default.subject, saved.body, default.cta)
    elif saved is not None and channel == Channel.SMS:
        sms = saved.body
    return EffectiveCopy(
        email=email, sms=sms, whatsapp=default.whatsapp, customised=saved is not None
    )


def _saved_templates(
    session: Session, shop_id: int
) -> dict[tuple[str, str, str], NotificationTemplate]:
    def load() -> dict[tuple[str, str, str], NotificationTemplate]:
        rows = session.scalars(
            select(NotificationTemplate).where(NotificationTemplate.shop_id == shop_id)
        )
        templates = {(t.milestone, t.channel, t.locale): t for t in rows}
        for template in templates.values():
            session.expunge(template)  # kept beyond this session: plain values only
        return templates

    return _templates_cache.get(session, shop_id, load)


def sample_contexts(shop_name: str, locale: str, app_url: str) -> list[MessageContext]:
    """A full and a sparse order, to try every branch of a template before saving it."""
    full = MessageContext(
        locale=locale,
        shop_name=shop_name,
        order_name="#1001",
        tracking_url=f"{app_url}/t/Xq3vB7nR2kLm9pZt4wYc8a",
        first_name="Camille",
        wallet_url=f"{app_url}/wallet/o/Xq3vB7nR2kLm9pZt4wYc8a.pkpass",
        carrier="Colissimo",
        tracking_number="6A12345678901",
        estimated_delivery="mardi 12 mai" if locale == "fr" else "Tuesday 12 May",
        pickup_point={
            "name": "Relais Tabac Presse du Parc",
            "address1": "8 avenue Foch",
            "zip": "69006",
            "city": "Lyon",
            "country_code": "FR",
            "hours": "9h-19h",
        },
        items=(ItemLine("Bougie parfumée Figuier", 2), ItemLine("Lampe Opaline", 1, "Blanc")),
        offer="-10 % avec le code MERCI" if locale == "fr" else "10% off with code THANKS",
    )
    sparse = MessageContext(
        locale=locale,
        shop_name=shop_name,
        order_name="#1002",
        tracking_url=f"{app_url}/t/Bq7dK2mN8pRs3tVw5xYz1c",
    )
    return [full, sparse]


def template_errors(
    shop_name: str,
    app_url: str,
    *,
    channel: str,
    locale: str,
    body: str,
    subject: str | None = None,
) -> list[str]:
    """Every reason to refuse this template (empty: it can be saved)."""
    if locale not in LOCALES:
        return [f"language {locale} is not offered (only {', '.join(LOCALES)})"]
    samples = [s.variables() for s in sample_contexts(shop_name, locale, app_url)]
    if channel == Channel.EMAIL:
        errors = [f"subject: {e}" for e in check_template(subject or "", samples, html=False)]
        errors += [f"body: {e}" for e in check_template(body, samples, html=True)]
        return errors
    if channel == Channel.SMS:
        errors = check_template(body, samples, html=False)
        if errors:
            return errors
        foreign = sorted({c for c in to_gsm7(body) if c not in BASIC and c not in EXTENDED})
        if foreign:
            errors.append(
                "characters outside the SMS alphabet (GSM-7) would make every SMS UCS-2 and "
                "cut its length by half: " + " ".join(foreign)
            )
        for sample in sample_contexts(shop_name, locale, app_url):
            count = render_sms(body, sample).count
            if count.segments > MAX_SMS_SEGMENTS:
                errors.append(
                    f"too long: {count.segments} SMS segments (at most {MAX_SMS_SEGMENTS})"
                )
                break
        return errors
    return [f"{channel} copy is not edited here (WhatsApp uses templates approved by Meta)"]


def save_template(
    session: Session,
    config: Config,
    shop_id: int,
    *,
    milestone: Milestone,
    channel: str,
    locale: str,
    body: str,
    subject: str | None = None,
) -> None:
    """Check and store the merchant's copy; raises ``TemplateRefused`` listing every problem."""
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise TemplateRefused(["unknown shop"])
    errors = template_errors(
        shop.name or shop.domain,
        config.app_url,
        channel=channel,
        locale=locale,
        body=body,
        subject=subject,
    )
    if errors:
        raise TemplateRefused(errors)
    values = {
        "shop_id": shop_id,
        "milestone": milestone.value,
        "channel": channel,
        "locale": locale,
        "subject": subject if channel == Channel.EMAIL else None,
        "body": body,
        "updated_at": utcnow(),
    }
    insert_once(
        session,
        NotificationTemplate,
        values,
        conflict_columns=["shop_id", "milestone", "channel", "locale"],
    )
    row = session.scalar(
        select(NotificationTemplate).where(
            NotificationTemplate.shop_id == shop_id,
            NotificationTemplate.milestone == milestone.value,
            NotificationTemplate.channel == channel,
            NotificationTemplate.locale == locale,
        )
    )
    assert row is not None
    row.subject = subject if channel == Channel.EMAIL else None
    row.body = body
    row.updated_at = utcnow()
    _templates_cache.forget(session, shop_id)


def reset_template(
    session: Session, shop_id: int, *, milestone: Milestone, channel: str, locale: str
) -> None:
    """Go back to the default copy."""
    row = session.scalar(
        select(NotificationTemplate).where(
            NotificationTemplate.shop_id == shop_id,
            NotificationTemplate.milestone == milestone.value,
            NotificationTemplate.channel == channel,
            NotificationTemplate.locale == locale,
        )
    )
    if row is not None:
        session.delete(row)
    _templates_cache.forget(session, shop_id)


@dataclass(frozen=True)
class Preview:
    """What the merchant sees next to the editor, or why the draft cannot be saved."""

    channel: str
    errors: list[str] = field(default_factory=list)
    subject: str | None = None
    html: str | None = None
    text: str | None = None
    segments: int | None = None
    encoding: str | None = None
    characters: int | None = None


def preview(
    session: Session,
    config: Config,
    shop_id: int,
    *,
    milestone: Milestone,
    channel: str,
    locale: str,
    body: str | None = None,
    subject: str | None = None,
    order_id: int | None = None,
) -> Preview:
    """Render a draft (or the saved copy when ``body`` is None) for a sample or a real order.

    Never raises for a broken draft: the errors come back for the editor to show.
    """
    shop = session.get(Shop, shop_id)
    if shop is None:
        return Preview(channel=channel, errors=["unknown shop"])
    copy = effective_copy(session, shop_id, milestone, channel, locale)
    settings = get_settings(session, shop_id)
    if body is not None:
        errors = template_errors(
            shop.name or shop.domain,
            config.app_url,
            channel=channel,
            locale=locale,
            body=body,
            subject=subject if channel == Channel.EMAIL else None,
        )
        if errors:
            return Preview(channel=channel, errors=errors)
    context = _preview_context(session, config, shop, order_id, locale)
    try:
        if channel == Channel.EMAIL:
            email_copy = EmailCopy(
                subject if body is not None and subject is not None else copy.email.subject,
                body if body is not None else copy.email.body,
                copy.email.cta,
            )
            email = render_email(email_copy, context, brand_color=settings.brand_color)
            return Preview(channel=channel, subject=email.subject, html=email.html, text=email.text)
        if channel == Channel.SMS:
            sms = render_sms(body if body is not None else copy.sms, context)
            return Preview(
                channel=channel,
                text=sms.text,
                segments=sms.count.segments,
                encoding=sms.count.encoding,
                characters=len(sms.text),
            )
        template = settings.whatsapp_template(milestone, locale)
        names = template.variables if template else None
        variables = whatsapp_variables(names, context) if names else None
        text = fill_whatsapp(
            copy.whatsapp,
            variables
            or whatsapp_variables(
                ("first_name", "shop_name", "order_name", "tracking_url"), context
            ),
        )
        return Preview(channel=channel, text=text)
    except TemplateRefused as exc:
        return Preview(channel=channel, errors=exc.errors)


def _preview_context(
    session: Session, config: Config, shop: Shop, order_id: int | None, locale: str
) -> MessageContext:
    if order_id is not None:
        order = session.get(Order, order_id)
        if order is not None and order.shop_id == shop.id:
            shipment = session.scalar(
                select(Shipment).where(Shipment.order_id == order.id).order_by(Shipment.id.desc())
            )
            return message_context(
                config, shop, order, shipment, locale=locale or shopper_locale(order, shop)
            )
    return sample_contexts(shop.name or shop.domain, locale, config.app_url)[0]

"""What notifications need to know about a shopper: language, time zone, reachable address
and number (E.164), and the details a message may mention, formatted for them."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from babel.core import get_global
from babel.dates import format_date
from phonenumbers import timezone as phone_timezones

from plugin.config import Config
from plugin.milestones import Milestone
from plugin.models import Order, Shipment, Shop
from plugin.notifications import links
from plugin.notifications.messages.copy import DEFAULT_LOCALE, LOCALES
from plugin.notifications.messages.render import ItemLine, MessageContext

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DAY_FORMAT = {"fr": "EEEE d MMMM", "en": "EEEE d MMMM"}
FEEDBACK_REQUEST = Milestone.FEEDBACK_REQUEST.value
SMS = "sms"


def shopper_locale(order: Order, shop: Shop) -> str:
    """French or English: the order's language if it is one of them, English for another
    language, else the shop's language (French when unknown)."""
    if order.locale:
        language = order.locale.split("-")[0].split("_")[0].lower()
        return language if language in LOCALES else "en"
    language = (shop.primary_locale or DEFAULT_LOCALE).split("-")[0].lower()
    return language if language in LOCALES else DEFAULT_LOCALE


def normalize_email(raw: str | None) -> str | None:
    """A lower-cased address, or None if it does not look like one."""
    if not raw:
        return None
    value = raw.strip().lower()
    return value if _EMAIL.match(value) and len(value) <= 320 else None


def normalize_phone(raw: str | None, region: str | None) -> str | None:
    """The number in E.164 (``+33612345678``), or None if it is not a valid number.

    ``region`` (the shipping or shop country) reads national numbers such as 06 12 34 56 78.
    """
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, (region or "FR").upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_NOT_MOBILE = frozenset(
    {
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
    }
)


@lru_cache(maxsize=4096)
def mobile_number(raw: str | None, region: str | None) -> str | None:
    """The number in E.164 if it can receive texts: valid, and not known to be a landline
    (mobile, or "fixed line or mobile" where a country cannot tell, pass)."""
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, (region or "FR").upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) in _NOT_MOBILE:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def shopper_timezone(order: Order, shop: Shop) -> ZoneInfo:
    """Where the shopper is: the shipping country's zone when it has one, else the phone's
    when it names one, else the shop's."""
    country = (order.ship_country_code or "").upper()
    zones = _territory_zones().get(country) if country else None
    if zones and len(zones) == 1:
        return _zone(zones[0], shop)
    phone = normalize_phone(order.phone, country or shop.country_code)
    if phone:
        phone_zones = phone_timezones.time_zones_for_number(phonenumbers.parse(phone))
        if (
            len(phone_zones) == 1
            and phone_zones[0] != "Etc/Unknown"
            and (not zones or phone_zones[0] in zones)
        ):
            return _zone(phone_zones[0], shop)
    return _zone(shop.iana_timezone or "Europe/Paris", shop)


@lru_cache(maxsize=1)
def _territory_zones() -> dict[str, list[str]]:
    return dict(get_global("territory_zones"))


def _zone(name: str, shop: Shop) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/Paris")


def format_day(when: datetime, zone: ZoneInfo, locale: str) -> str:
    """ "mardi 12 mai" / "Tuesday 12 May", in the shopper's time zone."""
    return format_date(
        when.astimezone(zone).date(), _DAY_FORMAT.get(locale, "EEEE d MMMM"), locale=locale
    )


def message_context(
    config: Config,
    shop: Shop,
    order: Order,
    shipment: Shipment | None,
    *,
    locale: str,
    offer: str | None = None,
    wallet_button: bool = True,
    origin: links.ClickOrigin | None = None,
    ratings: tuple[tuple[int, str], ...] = (),
) -> MessageContext:
    """What a message about ``order`` (and ``shipment``) may say, formatted for the shopper.

    With ``origin`` (the message being built), the tracking and Wallet links go through the
    click-counting redirect; previews leave them plain. A feedback request's SMS link opens
    the tracking page at the shipment's rating form.
    """
    zone = shopper_timezone(order, shop)
    estimated = shipment.estimated_delivery_at if shipment is not None else None
    line_items = (
        shipment.line_items if shipment is not None and shipment.line_items else None
    ) or (order.line_items or [])
    titles = {str(i.get("id")): i for i in order.line_items or []}
    items = tuple(
        ItemLine(
            title=str(titles.get(str(i.get("id")), i).get("title") or i.get("title") or ""),
            quantity=int(i.get("quantity") or 1),
            variant=(titles.get(str(i.get("id")), i).get("variant_title") or None),
        )
        for i in line_items
        if i.get("title") or titles.get(str(i.get("id")))
    )
    tracking_url = links.tracking_url(config, shop, order)
    wallet_url = links.wallet_pass_url(config, shop, order) if wallet_button else None
    anchor = None
    if origin is not None:
        if origin.channel != SMS:  # an SMS prints the short link instead (one segment)
            tracking_url = links.counted_url(config, shop, tracking_url, origin)
        if wallet_url is not None:
            wallet_url = links.counted_url(config, shop, wallet_url, origin)
        if origin.milestone == FEEDBACK_REQUEST and shipment is not None:
            anchor = links.feedback_anchor(shipment.id)
    return MessageContext(
        locale=locale,
        shop_name=shop.name or shop.domain.split(".")[0],
        order_name=order.name or f"#{order.order_number or order.shopify_id}",
        tracking_url=tracking_url,
        short_tracking_url=links.short_tracking_url(config, order, anchor=anchor),
        first_name=order.first_name,
        wallet_url=wallet_url,
        carrier=shipment.tracking_company if shipment is not None else None,
        tracking_number=shipment.tracking_number if shipment is not None else None,
        estimated_delivery=format_day(estimated, zone, locale) if estimated else None,
        pickup_point=order.pickup_point,
        items=items,
        offer=offer,
        ratings=ratings,
    )

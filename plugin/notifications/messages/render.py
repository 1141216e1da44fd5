"""Turn copy (default or the merchant's) and an order's details into messages ready to leave.

Pure functions on plain data: no database, no Flask. The email layout (HTML with inline
CSS, and its plain-text twin) is Relais' own; the merchant's words go inside it, escaped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from plugin.notifications.messages.copy import LAYOUT
from plugin.notifications.messages.gsm7 import SegmentCount, count_segments, to_gsm7
from plugin.notifications.messages.sandbox import render_template

DEFAULT_BRAND_COLOR = "#1f2937"
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_STOP = re.compile(r"\bSTOP\b")
_PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")

_layouts = Environment(
    loader=PackageLoader("plugin.notifications.messages", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    auto_reload=False,  # the layouts ship with the code: no stat() of the file per email
)


@dataclass(frozen=True)
class ItemLine:
    title: str
    quantity: int
    variant: str | None = None


@dataclass(frozen=True)
class MessageContext:
    """What a message may say about an order, already formatted for ``locale``."""

    locale: str
    shop_name: str
    order_name: str
    tracking_url: str
    first_name: str | None = None
    # The same page behind a short link, for SMS (one GSM-7 segment where possible).
    short_tracking_url: str | None = None
    wallet_url: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    estimated_delivery: str | None = None  # "mardi 14 mai", in the shopper's time zone
    pickup_point: Mapping[str, Any] | None = None
    items: tuple[ItemLine, ...] = ()
    offer: str | None = None  # promotional line, only set when the shopper consented
    # One-tap rating links of a feedback request, [(score, url)], one button each in email.
    ratings: tuple[tuple[int, str], ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)  # sender, channel_label

    def variables(self) -> dict[str, Any]:
        """The variables templates see (:data:`sandbox.VARIABLES`)."""
        return {
            "shop_name": self.shop_name,
            "first_name": self.first_name or "",
            "order_name": self.order_name,
            "carrier": self.carrier or "",
            "tracking_number": self.tracking_number or "",
            "tracking_url": self.tracking_url,
            "wallet_url": self.wallet_url or "",
            "estimated_delivery": self.estimated_delivery or "",
            "pickup_point": dict(self.pickup_point) if self.pickup_point else None,
            "items": [
                {"title": i.title, "quantity": i.quantity, "variant": i.variant or ""}
                for i in self.items
            ],
            "item_count": sum(i.quantity for i in self.items),
            "offer": self.offer or "",
            "sender": self.extra.get("sender", ""),
            "channel_label": self.extra.get("channel_label", ""),
            "shopper_message": self.extra.get("shopper_message", ""),
        }


@dataclass(frozen=True)
class EmailCopy:
    """Template sources of one email: subject, body paragraphs, button label."""

    subject: str
    body: str
    cta: str


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class RenderedText:
    """An SMS (or a WhatsApp free-text message) and how it will travel."""

    text: str
    count: SegmentCount


def render_email(
    copy: EmailCopy,
    ctx: MessageContext,
    *,
    brand_color: str | None = None,
    audience: str = "shopper",
) -> RenderedEmail:
    """Both parts of an email; raises ``TemplateRefused`` only for a broken template (which
    saving refuses, so only a default can reach here, and defaults are tested).

    ``audience="merchant"`` (forwarded replies) drops the shop's signature and says why
    Relais writes instead."""
    variables = ctx.variables()
    labels = LAYOUT.get(ctx.locale) or LAYOUT["fr"]
    subject = " ".join(render_template(copy.subject, variables, html=False).split())
    cta = " ".join(render_template(copy.cta, variables, html=False).split())
    html_body = render_template(copy.body, variables, html=True)
    text_body = render_template(copy.body, variables, html=False)
    # The body was rendered with autoescape: marking it safe does not let markup through.
    html_paragraphs = [
        Markup("<br>\n").join(Markup(p).strip().split("\n"))  # noqa: S704
        for p in _paragraphs(html_body)
    ]
    text_paragraphs = _paragraphs(text_body)
    color = brand_color if brand_color and _COLOR.match(brand_color) else DEFAULT_BRAND_COLOR
    greeting = (
        labels["hello"].format(name=ctx.first_name) if ctx.first_name else labels["hello_anonymous"]
    )
    pickup = dict(ctx.pickup_point) if ctx.pickup_point and ctx.pickup_point.get("name") else None
    layout = {
        "locale": ctx.locale,
        "subject": subject,
        "preheader": text_paragraphs[0][:140] if text_paragraphs else subject,
        "shop_name": ctx.shop_name,
        "brand_color": color,
        "greeting": greeting,
        "offer": ctx.offer,
        "pickup_point": pickup,
        "pickup_lines": _pickup_lines(pickup),
        "cta": cta,
        "tracking_url": ctx.tracking_url,
        "wallet_url": ctx.wallet_url,
        "ratings": [{"score": score, "url": url} for score, url in ctx.ratings],
        "items": [
            {"title": i.title, "quantity": i.quantity, "variant": i.variant} for i in ctx.items
        ],
        "carrier": ctx.carrier,
        "tracking_number": ctx.tracking_number,
        "labels": labels,
        "reply_line": labels["reply"] if audience == "shopper" else "",
        "team": labels["team"].format(shop=ctx.shop_name) if audience == "shopper" else "Relais",
        "why": labels["why"].format(order=ctx.order_name, shop=ctx.shop_name)
        if audience == "shopper"
        else labels["merchant_why"],
    }
    html = _layouts.get_template("email.html").render(paragraphs=html_paragraphs, **layout)
    text = _layouts.get_template("email.txt").render(paragraphs=text_paragraphs, **layout)
    return RenderedEmail(subject=subject, html=html, text=_tidy_text(text))


def render_sms(source: str, ctx: MessageContext) -> RenderedText:
    """An SMS that names the shop, says how to STOP, and stays in GSM-7 unless it cannot."""
    variables = ctx.variables()
    if ctx.short_tracking_url:
        variables["tracking_url"] = ctx.short_tracking_url
    text = " ".join(render_template(source, variables, html=False).split())
    finished = finish_sms(text, ctx.shop_name, ctx.locale)
    return RenderedText(text=finished, count=count_segments(finished))


def finish_sms(text: str, shop_name: str, locale: str) -> str:
    """Name the shop and add the STOP mention if the copy lacks them; then GSM-7 spelling."""
    labels = LAYOUT.get(locale) or LAYOUT["fr"]
    if shop_name and shop_name.casefold() not in text.casefold():
        text = f"{shop_name}: {text}"
    if not _STOP.search(text):
        text = f"{text} {labels['stop']}"
    return to_gsm7(text)


def whatsapp_variables(names: Sequence[str], ctx: MessageContext) -> dict[str, str]:
    """The ``ContentVariables`` of an approved template: {"1": value of names[0], ...}."""
    values = ctx.variables()
    return {str(n): str(values.get(name) or "") or "-" for n, name in enumerate(names, start=1)}


def fill_whatsapp(text: str, variables: Mapping[str, str]) -> str:
    """A template's text with its {{1}} placeholders filled (for previews and the outbox)."""
    return _PLACEHOLDER.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]


def _pickup_lines(point: Mapping[str, Any] | None) -> list[str]:
    if not point:
        return []
    city = " ".join(str(p) for p in (point.get("zip"), point.get("city")) if p)
    return [str(line) for line in (point.get("address1"), city) if line]


def _tidy_text(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"

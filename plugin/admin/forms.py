"""Server-side validation of the admin's forms.

Each ``validate_*`` function reads raw form values (strings) and returns the typed value
and the errors, per field, as message keys of :mod:`plugin.admin.i18n` with their
arguments, so that the page says what is wrong in the merchant's language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from plugin.admin.settings import (
    FEEDBACK_SCALES,
    LOW_SCORE_CHOICES,
    Branding,
    FeedbackChoice,
    UpsellChoice,
)

EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
HEX_COLOR = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")
# Mailboxes nobody reads: replies must reach a person.
NO_REPLY = re.compile(
    r"^(no|ne)[-_.]?(reply|repl|pas[-_.]?repondre)|^do[-_.]?not[-_.]?reply|^noreply", re.I
)
IMAGE_PATH = re.compile(r"\.(png|jpe?g|svg|webp|gif)$", re.I)
COLLECTION_HANDLE = re.compile(r"^[a-z0-9][a-z0-9-]{0,254}$")
DISCOUNT_CODE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


@dataclass(frozen=True)
class FieldError:
    key: str
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Errors:
    """Errors by field name; empty when the form is valid."""

    fields: dict[str, FieldError] = field(default_factory=dict)

    def add(self, field_name: str, key: str, /, **args: Any) -> None:
        self.fields.setdefault(field_name, FieldError(key, args))

    def __bool__(self) -> bool:
        return bool(self.fields)


def text_value(
    form: Mapping[str, Any],
    name: str,
    errors: Errors,
    *,
    max_length: int,
    required: bool = False,
    single_line: bool = True,
) -> str | None:
    """A trimmed string (None when empty); records required, length and line-break errors."""
    raw = form.get(name)
    value = raw.strip() if isinstance(raw, str) else ""
    if not value:
        if required:
            errors.add(name, "error_required")
        return None
    if len(value) > max_length:
        errors.add(name, "error_too_long", max=max_length)
    if single_line and ("\n" in value or "\r" in value):
        errors.add(name, "error_line_break")
    return value


def email_value(
    form: Mapping[str, Any], name: str, errors: Errors, *, required: bool = False
) -> str | None:
    value = text_value(form, name, errors, max_length=320, required=required)
    if value is None:
        return None
    if not EMAIL.match(value):
        errors.add(name, "error_email")
    return value.lower()


def flag(form: Mapping[str, Any], name: str) -> bool:
    """A checkbox: present and not "off"/"false"/"0"."""
    value = form.get(name)
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() not in ("", "0", "false", "off", "no")


def int_value(
    form: Mapping[str, Any], name: str, errors: Errors, *, low: int, high: int, default: int
) -> int:
    raw = form.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        errors.add(name, "error_number_range", min=low, max=high)
        return default
    if not low <= value <= high:
        errors.add(name, "error_number_range", min=low, max=high)
    return value


def color_value(form: Mapping[str, Any], name: str, errors: Errors) -> str | None:
    value = text_value(form, name, errors, max_length=7)
    if value is None:
        return None
    match = HEX_COLOR.match(value)
    if not match:
        errors.add(name, "error_color")
        return value
    digits = match.group(1).lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return f"#{digits}"


def validate_branding(form: Mapping[str, Any]) -> tuple[Branding, Errors]:
    errors = Errors()
    sender_name = text_value(form, "sender_name", errors, max_length=60)
    if sender_name and any(c in sender_name for c in '<>"'):
        errors.add("sender_name", "error_choice")
    support_email = email_value(form, "support_email", errors, required=True)
    if (
        support_email
        and "support_email" not in errors.fields
        and NO_REPLY.match(support_email.split("@", 1)[0])
    ):
        errors.add("support_email", "error_noreply")
    logo_url = text_value(form, "logo_url", errors, max_length=2000)
    if logo_url and "logo_url" not in errors.fields:
        parts = urlsplit(logo_url)
        if parts.scheme != "https" or not parts.hostname:
            errors.add("logo_url", "error_url_https")
        elif not IMAGE_PATH.search(parts.path):
            errors.add("logo_url", "error_image_url")
    branding = Branding(
        sender_name=sender_name,
        support_email=support_email,
        logo_url=logo_url,
        primary_color=color_value(form, "primary_color", errors),
        accent_color=color_value(form, "accent_color", errors),
    )
    return branding, errors


def validate_upsell(form: Mapping[str, Any]) -> tuple[UpsellChoice, Errors]:
    """The upsell form's own checks; the collection and the code are then checked in Shopify."""
    errors = Errors()
    collection = text_value(form, "fallback_collection", errors, max_length=255)
    if collection and not COLLECTION_HANDLE.match(collection):
        errors.add("fallback_collection", "error_collection_unknown", handle=collection)
    code = text_value(form, "discount_code", errors, max_length=255)
    if code and not DISCOUNT_CODE.match(code):
        errors.add("discount_code", "error_discount_unknown", code=code)
    texts = {}
    for language in ("fr", "en"):
        value = text_value(form, f"discount_text_{language}", errors, max_length=200)
        if value:
            texts[language] = value
    choice = UpsellChoice(
        enabled=flag(form, "enabled"),
        fallback_collection=collection,
        discount_code=code.upper() if code else None,
        discount_text=texts,
        limit=int_value(form, "limit", errors, low=1, high=8, default=4),
    )
    return choice, errors


def relais_code_percentage(form: Mapping[str, Any], errors: Errors) -> int | None:
    """The percentage off of the code the merchant asks Relais to create (None: no request)."""
    if form.get("relais_code_percentage") in (None, ""):
        return None
    return int_value(form, "relais_code_percentage", errors, low=1, high=90, default=10)


def validate_feedback(form: Mapping[str, Any]) -> tuple[FeedbackChoice, int, Errors]:
    """The feedback choices, and the days after delivery the request waits (0: never sent)."""
    errors = Errors()
    delay = int_value(form, "delay_days", errors, low=1, high=30, default=3)
    scale = form.get("scale") or "stars"
    if scale not in FEEDBACK_SCALES:
        errors.add("scale", "error_choice")
        scale = "stars"
    low = None
    if form.get("low_at_most") not in (None, ""):
        allowed = LOW_SCORE_CHOICES[scale]
        low = int_value(
            form, "low_at_most", errors, low=allowed[0], high=allowed[-1], default=allowed[-1]
        )
    review_url = text_value(form, "review_url", errors, max_length=2000)
    if review_url and "review_url" not in errors.fields:
        parts = urlsplit(review_url)
        if parts.scheme != "https" or not parts.hostname:
            errors.add("review_url", "error_url_https")
    referral = {}
    for language in ("fr", "en"):
        value = text_value(form, f"referral_text_{language}", errors, max_length=300)
        if value:
            referral[language] = value
    choice = FeedbackChoice(
        scale=scale, low_at_most=low, review_url=review_url, referral_text=referral
    )
    return choice, delay if flag(form, "feedback_enabled") else 0, errors


# --- message copy --------------------------------------------------------------------------

SMS_MAX = 459  # three segments of GSM-7 text
_TEMPLATES = SandboxedEnvironment()


def template_problems(text: str, name: str, errors: Errors, variables: frozenset[str]) -> None:
    """Syntax errors and unknown ``{{ fields }}`` of a message template."""
    try:
        tree = _TEMPLATES.parse(text)
    except TemplateSyntaxError as exc:
        errors.add(name, "error_template_syntax", line=exc.lineno or 1)
        return
    unknown = sorted(meta.find_undeclared_variables(tree) - variables)
    if unknown:
        fields = fields_list(variables)
        errors.add(name, "error_placeholder_unknown", name=unknown[0], fields=fields)


def fields_list(variables: frozenset[str]) -> str:
    return ", ".join("{{ " + v + " }}" for v in sorted(variables))


def validate_copy(
    form: Mapping[str, Any],
    *,
    channel: str,
    variables: frozenset[str],
    languages: Sequence[str] = ("fr", "en"),
) -> tuple[dict[str, tuple[str | None, str | None]], Errors]:
    """Subject and body per language for one channel (``subject_fr``, ``body_en``...)."""
    errors = Errors()
    copies: dict[str, tuple[str | None, str | None]] = {}
    for language in languages:
        subject = None
        if channel == "email":
            subject = text_value(form, f"subject_{language}", errors, max_length=150)
            if subject:
                template_problems(subject, f"subject_{language}", errors, variables)
        body_name = f"body_{language}"
        body = text_value(form, body_name, errors, max_length=5000, single_line=False)
        if body:
            template_problems(body, body_name, errors, variables)
            if channel == "sms" and len(body) > SMS_MAX:
                errors.add(body_name, "error_sms_length", max=SMS_MAX)
            if channel == "email" and not subject:
                errors.add(f"subject_{language}", "error_subject_needed")
        copies[language] = (subject, body)
    return copies, errors

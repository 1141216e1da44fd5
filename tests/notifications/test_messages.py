"""Emails for every milestone in French and English, and the merchant's sandboxed copy."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from plugin.milestones import Milestone
from plugin.notifications.editor import preview, reset_template, save_template, template_errors
from plugin.notifications.messages.copy import DEFAULT_COPY
from plugin.notifications.messages.render import EmailCopy, ItemLine, MessageContext, render_email
from plugin.notifications.messages.sandbox import TemplateRefused
from plugin.notifications.models import NotificationTemplate

URL = "https://relais.test/t/Xq3vB7nR2kLm9pZt4wYc8a"
WALLET = "https://relais.test/wallet/o/Xq3vB7nR2kLm9pZt4wYc8a.pkpass"
VOID = {"meta", "br", "img", "hr", "input", "link"}


class Checker(HTMLParser):
    """Well-formedness (every tag closed in order) and where styles live."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.unstyled: list[str] = []
        self.links: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        attributes = dict(attrs)
        self.tags.add(tag)
        if tag in ("p", "td", "a", "table") and "style" not in attributes:
            self.unstyled.append(tag)
        if tag == "a":
            self.links.append(attributes.get("href") or "")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> (open: {self.stack[-3:]})")
            return
        self.stack.pop()


def context(locale: str, **overrides) -> MessageContext:  # type: ignore[no-untyped-def]
    values = dict(
        locale=locale,
        shop_name="Maison Lumière",
        order_name="#1001",
        tracking_url=URL,
        first_name="Camille",
        wallet_url=WALLET,
        carrier="Colissimo",
        tracking_number="6A12345678901",
        estimated_delivery="mardi 12 mai",
        pickup_point={
            "name": "Relais Tabac",
            "address1": "8 avenue Foch",
            "zip": "69006",
            "city": "Lyon",
            "hours": "9h-19h",
        },
        items=(ItemLine("Bougie <Figuier>", 2, "Grand"),),
    )
    values.update(overrides)
    return MessageContext(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("locale", ["fr", "en"])
@pytest.mark.parametrize("milestone", list(Milestone))
def test_every_milestone_email_renders_in_both_languages(milestone, locale):
    copy = DEFAULT_COPY[milestone][locale]
    email = render_email(EmailCopy(copy.subject, copy.body, copy.cta), context(locale))
    checker = Checker()
    checker.feed(email.html)
    assert checker.errors == []
    assert checker.stack == []
    assert checker.unstyled == []  # inline CSS on every block a client may strip <style> from
    assert {"script", "link", "img", "form"}.isdisjoint(checker.tags)
    assert URL in checker.links and WALLET in checker.links
    assert f'<html lang="{locale}"' in email.html
    assert 'name="viewport"' in email.html and "max-width:600px" in email.html
    assert "#1001" in email.subject and "{{" not in email.subject
    for part in (email.html, email.text):
        assert "{{" not in part and "{%" not in part
        assert "Maison Lumière" in part
    # The plain-text part carries the same links and no markup.
    assert URL in email.text and WALLET in email.text
    assert "<" not in email.text.replace("<Figuier>", "")
    # Shopper data is escaped in HTML.
    assert "Bougie &lt;Figuier&gt;" in email.html
    greeting = "Bonjour Camille," if locale == "fr" else "Hello Camille,"
    assert greeting in email.text


def test_email_without_optional_details_still_reads_well():
    copy = DEFAULT_COPY[Milestone.SHIPPED]["en"]
    sparse = MessageContext(locale="en", shop_name="Atelier", order_name="#7", tracking_url=URL)
    email = render_email(EmailCopy(copy.subject, copy.body, copy.cta), sparse)
    assert "Hello," in email.text
    assert "our carrier" in email.text
    assert "Apple Wallet" not in email.html
    assert "should arrive" not in email.text


def test_the_voice_is_the_shops_own():
    for milestone in Milestone:
        fr = DEFAULT_COPY[milestone]["fr"]
        en = DEFAULT_COPY[milestone]["en"]
        text_fr = fr.body + fr.subject
        text_en = en.body + en.subject
        assert re.search(r"\b(nous|notre|nos)\b", text_fr, re.IGNORECASE), milestone
        assert re.search(r"\b(we|our|us)\b", text_en, re.IGNORECASE), milestone


# --- the merchant's copy -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("Bonjour {{ first_name ", "line 1"),
        ("Bonjour {{ firstname }}", "unknown variable: firstname"),
        ("{{ shop_name.__class__.__mro__ }}", "not allowed"),
        ("{% for i in range(10) %}x{% endfor %}", "unknown variable: range"),
        ("{{ items[5].title }}", "list object has no element 5"),
        ("", "empty"),
        ("x" * 6000, "longer than"),
    ],
)
def test_broken_email_templates_are_refused_when_saved(body, error, runtime, config, shop):
    with runtime.db.transaction() as session, pytest.raises(TemplateRefused) as caught:
        save_template(
            session,
            config,
            shop.id,
            milestone=Milestone.SHIPPED,
            channel="email",
            locale="fr",
            subject="Expédiée",
            body=body,
        )
    assert any(error in e for e in caught.value.errors), caught.value.errors
    with runtime.db.session() as session:
        assert session.query(NotificationTemplate).count() == 0


def test_sms_templates_must_stay_gsm7_and_short(runtime, config, shop):
    errors = template_errors(
        "Maison Lumière",
        config.app_url,
        channel="sms",
        locale="fr",
        body="{{ shop_name }} : colis {{ order_name }} 🚚 arrive ✓ Ω ж",
    )
    assert any("GSM-7" in e and "ж" in e for e in errors)
    long = template_errors(
        "Maison Lumière",
        config.app_url,
        channel="sms",
        locale="fr",
        body="{{ shop_name }} " + "très long message " * 30,
    )
    assert any("segments" in e for e in long)
    assert template_errors(
        "Maison Lumière", config.app_url, channel="whatsapp", locale="fr", body="x"
    )


def test_a_valid_template_is_saved_and_used(runtime, config, shop):
    body = (
        "{{ first_name|default('Cher client', true) }}, votre colis {{ order_name }} part !"
        "{% if carrier %} Il voyage avec {{ carrier }}.{% endif %}"
    )
    with runtime.db.transaction() as session:
        save_template(
            session,
            config,
            shop.id,
            milestone=Milestone.SHIPPED,
            channel="email",
            locale="fr",
            subject="C'est parti, {{ order_name }} !",
            body=body,
        )
    with runtime.db.session() as session:
        shown = preview(
            session, config, shop.id, milestone=Milestone.SHIPPED, channel="email", locale="fr"
        )
    assert shown.errors == []
    assert shown.subject == "C'est parti, #1001 !"
    assert "Camille, votre colis #1001 part ! Il voyage avec Colissimo." in (shown.text or "")


def test_live_preview_reports_errors_instead_of_raising(runtime, config, shop):
    with runtime.db.session() as session:
        broken = preview(
            session,
            config,
            shop.id,
            milestone=Milestone.DELIVERED,
            channel="sms",
            locale="en",
            body="{{ shop_name }}: {% if %}",
        )
        fine = preview(
            session,
            config,
            shop.id,
            milestone=Milestone.DELIVERED,
            channel="sms",
            locale="en",
            body="{{ shop_name }}: {{ order_name }} is home!",
        )
    assert broken.errors and broken.text is None
    assert fine.errors == []
    assert fine.text == "Maison Lumière: #1001 is home! Reply STOP to opt out"
    assert (fine.segments, fine.encoding) == (1, "GSM-7")


def test_reset_goes_back_to_the_default_copy(runtime, config, shop):
    with runtime.db.transaction() as session:
        save_template(
            session,
            config,
            shop.id,
            milestone=Milestone.DELIVERED,
            channel="sms",
            locale="fr",
            body="{{ shop_name }} : livré !",
        )
    with runtime.db.session() as session:
        saved = preview(
            session, config, shop.id, milestone=Milestone.DELIVERED, channel="sms", locale="fr"
        )
    assert saved.text == "Maison Lumière : livré ! Désinscription : STOP"
    with runtime.db.transaction() as session:
        reset_template(session, shop.id, milestone=Milestone.DELIVERED, channel="sms", locale="fr")
    with runtime.db.session() as session:
        default = preview(
            session, config, shop.id, milestone=Milestone.DELIVERED, channel="sms", locale="fr"
        )
    assert default.text is not None and default.text.startswith(
        "Maison Lumière : votre colis #1001 est livré."
    )

"""GSM-7: segments are counted right and French copy never turns into UCS-2 by accident."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from plugin.milestones import Milestone
from plugin.notifications.messages.copy import DEFAULT_COPY
from plugin.notifications.messages.gsm7 import BASIC, EXTENDED, count_segments, is_gsm7, to_gsm7
from plugin.notifications.messages.render import MessageContext, render_sms

# A production-length tracking link: https://<host>/t/<22 characters>.
URL = "https://app.relais-suivi.fr/t/Xq3vB7nR2kLm9pZt4wYc8a"


def test_single_segment_limits():
    assert count_segments("a" * 160).segments == 1
    assert count_segments("a" * 161).segments == 2
    assert count_segments("a" * 306).segments == 2  # 2 x 153
    assert count_segments("a" * 307).segments == 3
    assert count_segments("é" * 160).encoding == "GSM-7"


def test_extension_characters_count_twice_and_never_straddle():
    assert count_segments("€" * 80).units == 160
    assert count_segments("€" * 80).segments == 1
    assert count_segments("€" * 81).segments == 2
    # 152 plain characters then one escape pair: the pair moves to the second segment.
    assert count_segments("a" * 152 + "€" + "a" * 10).segments == 2


def test_ucs2_limits_and_surrogates():
    assert count_segments("ê" * 70) == count_segments("ê" * 70)
    assert count_segments("ê" * 70).encoding == "UCS-2"
    assert count_segments("ê" * 70).segments == 1
    assert count_segments("ê" * 71).segments == 2
    emoji = count_segments("\U0001f4e6" * 35)  # 📦: two UTF-16 units each
    assert (emoji.units, emoji.segments) == (70, 1)
    assert count_segments("\U0001f4e6" * 35 + "a").segments == 2


def test_french_typography_becomes_gsm7():
    text = "Votre colis arrive aujourd\u2019hui\u00a0! « Suivi » : prêt \u2013 voilà… ça, œuvre 📦"
    converted = to_gsm7(text)
    assert is_gsm7(converted)
    assert converted == 'Votre colis arrive aujourd\'hui ! " Suivi " : pret - voilà... ca, oeuvre '


def test_other_scripts_stay_ucs2_on_purpose():
    assert not is_gsm7(to_gsm7("Магазин"))
    assert count_segments(to_gsm7("Магазин")).encoding == "UCS-2"


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x24F), max_size=300))
def test_latin_text_always_ends_up_gsm7(text):
    assert all(c in BASIC or c in EXTENDED for c in to_gsm7(text))


@given(st.text(max_size=400))
def test_segment_count_is_consistent(text):
    count = count_segments(text)
    limit = 160 if count.encoding == "GSM-7" else 70
    assert (count.segments == 1) == (count.units <= limit)
    assert count.segments >= 1


def _context(locale: str, shop_name: str = "Maison Lumière") -> MessageContext:
    return MessageContext(
        locale=locale,
        shop_name=shop_name,
        order_name="#10042",
        tracking_url=URL,
        first_name="Camille",
        carrier="Colissimo",
    )


def test_every_default_sms_fits_one_gsm7_segment_names_the_shop_and_honours_stop():
    for milestone in Milestone:
        for locale in ("fr", "en"):
            sms = render_sms(DEFAULT_COPY[milestone][locale].sms, _context(locale))
            assert sms.count.encoding == "GSM-7", (milestone, locale, sms.text)
            assert sms.count.segments == 1, (milestone, locale, len(sms.text), sms.text)
            assert "Maison Lumière" in sms.text
            assert "STOP" in sms.text
            assert URL in sms.text


def test_default_sms_copy_needs_no_transliteration():
    for milestone in Milestone:
        for locale in ("fr", "en"):
            source = DEFAULT_COPY[milestone][locale].sms
            assert to_gsm7(source) == source, (milestone, locale)


def test_a_shop_name_with_accents_outside_gsm7_does_not_switch_to_ucs2():
    sms = render_sms(DEFAULT_COPY[Milestone.SHIPPED]["fr"].sms, _context("fr", "Forêt & Crème"))
    assert sms.count.encoding == "GSM-7"
    assert sms.text.startswith("Foret & Crème")


def test_merchant_copy_without_shop_name_or_stop_gets_both():
    sms = render_sms("Colis {{ order_name }} en route", _context("en"))
    assert sms.text == "Maison Lumière: Colis #10042 en route Reply STOP to opt out"

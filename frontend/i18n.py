# French typography uses the typographic apostrophe (U+2019) in shopper texts.
# ruff: noqa: RUF001
"""Every text a shopper reads on the storefront, in French and English, and the formats
(dates in the shopper's locale and the shop's time zone, prices in the shop's currency)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.numbers import format_currency

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "en"

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "page_title": "Track your order",
        "order": "Order {name}",
        "hello": "Hello {first_name},",
        "hello_anonymous": "Hello,",
        "delivery_to": "Delivery to {city}",
        "eta": "Estimated delivery",
        "delivered_on": "Delivered on",
        "progress_label": "Delivery progress",
        "step_ordered": "Ordered",
        "step_prepared": "Prepared",
        "step_shipped": "Shipped",
        "step_out_for_delivery": "Out for delivery",
        "step_delivered": "Delivered",
        "step_ready_for_pickup": "Ready for pickup",
        "step_picked_up": "Picked up",
        "shipment": "Parcel {number} of {total}",
        "shipment_single": "Your parcel",
        "carrier": "Carrier",
        "tracking_number": "Tracking number",
        "carrier_link": "Follow on the carrier's site",
        "new_tab": "(opens in a new tab)",
        "timeline": "History",
        "no_events": "No carrier update yet.",
        "pickup_point": "Pickup point",
        "opening_hours": "Opening hours",
        "items": "Your items",
        "items_in_parcel": "In this parcel",
        "items_not_shipped": "Still being prepared",
        "quantity": "Quantity: {quantity}",
        "wallet_add": "Add to Apple Wallet",
        "help_title": "A question?",
        "help_text": "Write to us, a person from {shop} will answer you.",
        "help_link": "Contact {email}",
        "help_subject": "Order {name}",
        "feedback_title": "How was your delivery?",
        "feedback_legend": "Rate your delivery from 1 (poor) to 5 (excellent)",
        "feedback_star": "{rating} out of 5",
        "feedback_thanks": "Thank you! You rated this delivery {rating} out of 5.",
        "feedback_change": "You can change your rating at any time.",
        "feedback_thanks_scale": "Thank you! You rated this delivery {rating} out of {top}.",
        "feedback_star_of": "{rating} out of {top}",
        "feedback_legend_nps": (
            "How likely are you to recommend us, from 0 (not at all) to 10 (extremely)?"
        ),
        "feedback_review_invite": "Glad it went well! Would you share it in a review?",
        "feedback_review_button": "Leave a review",
        "feedback_comment_label": "Anything to add? (optional)",
        "feedback_comment_send": "Send",
        "feedback_comment_thanks": "Thank you, your comment was sent.",
        "feedback_back_to_tracking": "Back to your order",
        "upsell_title": "You might also like",
        "upsell_view": "View {title}",
        "discount_title": "A thank-you gift",
        "discount_text": "Use code {code} on your next order.",
        "discount_cta": "Shop with my code",
        "lookup_title": "Track your order",
        "lookup_intro": "Enter your order number and the email or phone number used at checkout.",
        "lookup_order": "Order number",
        "lookup_order_hint": "For example 1001",
        "lookup_contact": "Email or phone number",
        "lookup_submit": "Track my order",
        "lookup_failed": (
            "We could not find an order with these details. Check the order number and the "
            "email or phone number, then try again."
        ),
        "lookup_missing": "Please fill in both fields.",
        "rate_limited": "Too many attempts. Please wait a minute and try again.",
        "not_found_title": "This link is no longer valid",
        "not_found_text": "Look up your order with its number and your email or phone number.",
        "powered_by": "Tracking by Relais",
        # Status headlines: what is happening, in plain words.
        "headline_ordered": "We have received your order",
        "headline_label_created": "Your order is being prepared",
        "headline_shipped": "Your order is on its way",
        "headline_in_transit": "Your order is on its way",
        "headline_out_for_delivery": "Your order arrives today",
        "headline_one_parcel_out_for_delivery": "One of your parcels arrives today",
        "headline_attempted_delivery": "The carrier could not deliver your parcel",
        "headline_ready_for_pickup": "Your parcel is waiting for you at the pickup point",
        "headline_delayed": "Your parcel is delayed",
        "headline_delivered": "Your order has been delivered",
        "headline_picked_up": "You picked up your order",
        "headline_failure": "There is a problem with the delivery",
        "headline_returning_to_sender": "Your parcel is going back to the shop",
        "headline_cancelled": "Your order has been cancelled",
        "headline_partly_delivered": "Part of your order has been delivered",
        # Milestone names in timelines.
        "milestone_ordered": "Order placed",
        "milestone_cancelled": "Cancelled",
        "milestone_label_created": "Label created",
        "milestone_shipped": "Handed to the carrier",
        "milestone_in_transit": "In transit",
        "milestone_out_for_delivery": "Out for delivery",
        "milestone_attempted_delivery": "Delivery attempted",
        "milestone_ready_for_pickup": "Ready for pickup",
        "milestone_delayed": "Delayed",
        "milestone_delivered": "Delivered",
        "milestone_failure": "Delivery problem",
        "milestone_returning_to_sender": "Returning to the shop",
        "milestone_not_shipped": "Not shipped yet",
        "milestone_stalled": "Waiting for a carrier update",
        "milestone_pickup_reminder": "Waiting at the pickup point",
        "milestone_late": "Later than expected",
        "milestone_feedback_request": "Delivered",
        "milestone_unknown": "Carrier update",
    },
    "fr": {
        "page_title": "Suivre ma commande",
        "order": "Commande {name}",
        "hello": "Bonjour {first_name},",
        "hello_anonymous": "Bonjour,",
        "delivery_to": "Livraison à {city}",
        "eta": "Livraison estimée",
        "delivered_on": "Livrée le",
        "progress_label": "Avancement de la livraison",
        "step_ordered": "Commandée",
        "step_prepared": "Préparée",
        "step_shipped": "Expédiée",
        "step_out_for_delivery": "En livraison",
        "step_delivered": "Livrée",
        "step_ready_for_pickup": "Disponible en point relais",
        "step_picked_up": "Retirée",
        "shipment": "Colis {number} sur {total}",
        "shipment_single": "Votre colis",
        "carrier": "Transporteur",
        "tracking_number": "Numéro de suivi",
        "carrier_link": "Suivre sur le site du transporteur",
        "new_tab": "(s’ouvre dans un nouvel onglet)",
        "timeline": "Historique",
        "no_events": "Pas encore de nouvelles du transporteur.",
        "pickup_point": "Point relais",
        "opening_hours": "Horaires d’ouverture",
        "items": "Vos articles",
        "items_in_parcel": "Dans ce colis",
        "items_not_shipped": "En cours de préparation",
        "quantity": "Quantité : {quantity}",
        "wallet_add": "Ajouter à Apple Wallet",
        "help_title": "Une question ?",
        "help_text": "Écrivez-nous, une personne de {shop} vous répondra.",
        "help_link": "Écrire à {email}",
        "help_subject": "Commande {name}",
        "feedback_title": "Comment s’est passée votre livraison ?",
        "feedback_legend": "Notez votre livraison de 1 (mauvaise) à 5 (excellente)",
        "feedback_star": "{rating} sur 5",
        "feedback_thanks": "Merci ! Vous avez noté cette livraison {rating} sur 5.",
        "feedback_change": "Vous pouvez modifier votre note à tout moment.",
        "feedback_thanks_scale": "Merci ! Vous avez noté cette livraison {rating} sur {top}.",
        "feedback_star_of": "{rating} sur {top}",
        "feedback_legend_nps": (
            "Recommanderiez-vous notre boutique, de 0 (pas du tout) à 10 (certainement) ?"
        ),
        "feedback_review_invite": "Ravis que tout se soit bien passé ! Un avis nous aiderait.",
        "feedback_review_button": "Laisser un avis",
        "feedback_comment_label": "Un commentaire ? (facultatif)",
        "feedback_comment_send": "Envoyer",
        "feedback_comment_thanks": "Merci, votre commentaire a été envoyé.",
        "feedback_back_to_tracking": "Retour à votre commande",
        "upsell_title": "Vous aimerez aussi",
        "upsell_view": "Voir {title}",
        "discount_title": "Un cadeau pour vous remercier",
        "discount_text": "Utilisez le code {code} lors de votre prochaine commande.",
        "discount_cta": "En profiter",
        "lookup_title": "Suivre ma commande",
        "lookup_intro": (
            "Saisissez votre numéro de commande et l’e-mail ou le téléphone utilisé lors de "
            "l’achat."
        ),
        "lookup_order": "Numéro de commande",
        "lookup_order_hint": "Par exemple 1001",
        "lookup_contact": "E-mail ou numéro de téléphone",
        "lookup_submit": "Suivre ma commande",
        "lookup_failed": (
            "Nous n’avons pas trouvé de commande avec ces informations. Vérifiez le numéro de "
            "commande et l’e-mail ou le téléphone, puis réessayez."
        ),
        "lookup_missing": "Merci de remplir les deux champs.",
        "rate_limited": "Trop de tentatives. Patientez une minute puis réessayez.",
        "not_found_title": "Ce lien n’est plus valide",
        "not_found_text": (
            "Retrouvez votre commande avec son numéro et votre e-mail ou votre téléphone."
        ),
        "powered_by": "Suivi par Relais",
        "headline_ordered": "Nous avons bien reçu votre commande",
        "headline_label_created": "Votre commande est en préparation",
        "headline_shipped": "Votre commande est en route",
        "headline_in_transit": "Votre commande est en route",
        "headline_out_for_delivery": "Votre commande arrive aujourd’hui",
        "headline_one_parcel_out_for_delivery": "Un de vos colis arrive aujourd’hui",
        "headline_attempted_delivery": "Le transporteur n’a pas pu livrer votre colis",
        "headline_ready_for_pickup": "Votre colis vous attend au point relais",
        "headline_delayed": "Votre colis a du retard",
        "headline_delivered": "Votre commande a été livrée",
        "headline_picked_up": "Vous avez retiré votre commande",
        "headline_failure": "Un problème est survenu pendant la livraison",
        "headline_returning_to_sender": "Votre colis repart vers la boutique",
        "headline_cancelled": "Votre commande a été annulée",
        "headline_partly_delivered": "Une partie de votre commande a été livrée",
        "milestone_ordered": "Commande passée",
        "milestone_cancelled": "Annulée",
        "milestone_label_created": "Étiquette créée",
        "milestone_shipped": "Remis au transporteur",
        "milestone_in_transit": "En transit",
        "milestone_out_for_delivery": "En cours de livraison",
        "milestone_attempted_delivery": "Tentative de livraison",
        "milestone_ready_for_pickup": "Disponible au point relais",
        "milestone_delayed": "Retardé",
        "milestone_delivered": "Livré",
        "milestone_failure": "Problème de livraison",
        "milestone_returning_to_sender": "Retour vers la boutique",
        "milestone_not_shipped": "Pas encore expédié",
        "milestone_stalled": "En attente de nouvelles du transporteur",
        "milestone_pickup_reminder": "En attente au point relais",
        "milestone_late": "Plus tard que prévu",
        "milestone_feedback_request": "Livré",
        "milestone_unknown": "Mise à jour du transporteur",
    },
}


@dataclass(frozen=True)
class Translator:
    """Messages and formats for one shopper: a language (fr/en) and a Babel locale."""

    language: str
    locale: Locale
    timezone: ZoneInfo

    def __call__(self, key: str, **values: object) -> str:
        text = MESSAGES[self.language].get(key) or MESSAGES[DEFAULT_LANGUAGE][key]
        return text.format(**values) if values else text

    @property
    def html_lang(self) -> str:
        return self.language

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.timezone)

    def long_date(self, moment: datetime) -> str:
        """``mardi 13 mai`` / ``Tuesday, May 13``: the estimated delivery date."""
        pattern = "EEEE, MMMM d" if self.locale.territory == "US" else "EEEE d MMMM"
        return format_date(self.local(moment), pattern, locale=self.locale)

    def short_datetime(self, moment: datetime) -> str:
        """``mar. 13 mai, 14:05``: one line of a timeline."""
        local = self.local(moment)
        day = format_date(local, "EEE d MMM", locale=self.locale)
        return f"{day}, {format_time(local, format='short', locale=self.locale)}"

    def price(self, amount: Decimal | float | str, currency: str) -> str:
        return format_currency(Decimal(str(amount)), currency, locale=self.locale)


def choose_language(*candidates: str | None) -> str:
    """The first of ``candidates`` (order locale, shop locale) Relais speaks; else English."""
    for candidate in candidates:
        if candidate:
            language = candidate.replace("_", "-").split("-")[0].lower()
            if language in LANGUAGES:
                return language
    return DEFAULT_LANGUAGE


def make_translator(
    order_locale: str | None, shop_locale: str | None, timezone: str | None
) -> Translator:
    """The translator for an order: its own locale first, then the shop's."""
    language = choose_language(order_locale, shop_locale)
    locale = _babel_locale(order_locale, language)
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return Translator(language=language, locale=locale, timezone=zone)


def _babel_locale(order_locale: str | None, language: str) -> Locale:
    # Keep the shopper's region (fr-CA, en-US) for formats when it matches the language.
    if order_locale:
        try:
            locale = Locale.parse(order_locale.replace("-", "_"))
            if locale.language == language:
                return locale
        except (UnknownLocaleError, ValueError):
            pass
    return Locale.parse(language)

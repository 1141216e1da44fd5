"""Shopper-facing texts of passes and orders, in French and English.

pass.json and order.json carry the English text; Wallet looks it up as a key in the
``xx.lproj/*.strings`` file of the device's language. English doubles as the key so that a
device in any other language still reads a sentence, never an identifier.
"""

from __future__ import annotations

import functools

from wallet.formats import LocalizedText

T = LocalizedText
NBSP = "\u00a0"  # French puts a no-break space before ":" and "?"

# The milestone vocabulary of PRODUCT.md (plugin.milestones.Milestone, a StrEnum, passes
# for these strings). Kept as plain codes so this library imports nothing from the app;
# tests check both lists agree.
CARRIER_MILESTONES = (
    "ordered",
    "cancelled",
    "label_created",
    "shipped",
    "in_transit",
    "out_for_delivery",
    "attempted_delivery",
    "ready_for_pickup",
    "delayed",
    "delivered",
    "failure",
    "returning_to_sender",
)
DERIVED_MILESTONES = ("not_shipped", "stalled", "pickup_reminder", "late", "feedback_request")
MILESTONES = frozenset(CARRIER_MILESTONES + DERIVED_MILESTONES)

MILESTONE_NAMES: dict[str, LocalizedText] = {
    "ordered": T("Commande confirmée", "Order confirmed"),
    "cancelled": T("Commande annulée", "Order cancelled"),
    "label_created": T("En préparation", "Being prepared"),
    "shipped": T("Expédiée", "Shipped"),
    "in_transit": T("En transit", "In transit"),
    "out_for_delivery": T("En cours de livraison", "Out for delivery"),
    "attempted_delivery": T("Livraison tentée", "Delivery attempted"),
    "ready_for_pickup": T("Prête à être retirée", "Ready for pickup"),
    "delayed": T("Retardée", "Delayed"),
    "delivered": T("Livrée", "Delivered"),
    "failure": T("Problème de livraison", "Delivery problem"),
    "returning_to_sender": T("Retour à l'expéditeur", "Returning to sender"),
    # Derived by the scheduler: shown as the nearest carrier state, worded for the shopper.
    "not_shipped": T("En préparation", "Being prepared"),
    "stalled": T("En transit", "In transit"),
    "pickup_reminder": T("En attente de retrait", "Waiting for pickup"),
    "late": T("En retard", "Running late"),
    "feedback_request": T("Livrée", "Delivered"),
}

# What the shopper can do now, for the milestones that ask something of them.
NEXT_STEPS: dict[str, LocalizedText] = {
    "attempted_delivery": T(
        "Le transporteur est passé en votre absence. Ouvrez le suivi pour choisir une "
        "nouvelle livraison ou un point de retrait.",
        "The carrier came by while you were out. Open the tracking page to book a new "
        "delivery or pick a collection point.",
    ),
    "ready_for_pickup": T(
        "Votre colis vous attend. Munissez-vous d'une pièce d'identité et de ce pass.",
        "Your parcel is waiting for you. Bring an ID and this pass.",
    ),
    "pickup_reminder": T(
        "Votre colis vous attend toujours. Passé le délai de garde, il sera renvoyé.",
        "Your parcel is still waiting. After the holding period it will be sent back.",
    ),
    "delayed": T(
        "Le transporteur a signalé un retard. La date prévue est mise à jour ici.",
        "The carrier reported a delay. The expected date is kept up to date here.",
    ),
    "late": T(
        "La date prévue est dépassée. Nous suivons votre colis de près.",
        "The expected date has passed. We are keeping a close eye on your parcel.",
    ),
    "failure": T(
        "La livraison a échoué. Contactez le service client, nous trouverons une solution.",
        "Delivery failed. Contact customer service and we will sort it out.",
    ),
    "returning_to_sender": T(
        "Votre colis repart chez le marchand. Contactez le service client pour la suite.",
        "Your parcel is going back to the shop. Contact customer service about what next.",
    ),
}

PASS_LABELS: dict[str, LocalizedText] = {
    "pass.description": T("Suivi de commande", "Order tracking"),
    "label.order": T("Commande", "Order"),
    "label.status": T("Statut", "Status"),
    "label.carrier": T("Transporteur", "Carrier"),
    "label.eta": T("Livraison prévue", "Expected delivery"),
    "label.delivered_at": T("Livrée le", "Delivered on"),
    "label.parcels": T("Colis", "Parcels"),
    "label.pickup_point": T("Point de retrait", "Pickup point"),
    "label.next_step": T(f"Et maintenant{NBSP}?", "What next?"),
    "label.tracking_page": T("Suivre ma commande", "Track my order"),
    "label.tracking_number": T("Numéro de suivi", "Tracking number"),
    "label.carrier_tracking": T("Suivi du transporteur", "Carrier tracking"),
    "label.opening_hours": T("Horaires", "Opening hours"),
    "label.support": T("Service client", "Customer service"),
    "label.offer": T("Pour vous", "For you"),
    "label.rating": T(f"Votre avis sur la livraison{NBSP}?", "How was your delivery?"),
    # Change messages: Wallet replaces %@ with the field's new value in the notification.
    "change.status": T(f"Votre commande{NBSP}: %@", "Your order: %@"),
    "change.eta": T(f"Nouvelle date de livraison{NBSP}: %@", "New delivery date: %@"),
}


def label(name: str) -> str:
    """The key (English text) of a fixed label such as ``"label.status"``."""
    return PASS_LABELS[name].en


def add_text(table: dict[str, str], text: LocalizedText, language: str) -> None:
    """Add ``text`` to a strings table; refuse one English key with two translations."""
    known = table.get(text.en)
    value = text.in_language(language)
    if known is not None and known != value:
        raise ValueError(f"{text.en!r} is translated both {known!r} and {value!r}")
    table[text.en] = value


def base_table(language: str) -> dict[str, str]:
    """Every fixed text (labels, milestone names, next steps) keyed by its English."""
    return dict(_base_table(language))


@functools.cache
def _base_table(language: str) -> dict[str, str]:
    table: dict[str, str] = {}
    for text in (*PASS_LABELS.values(), *MILESTONE_NAMES.values(), *NEXT_STEPS.values()):
        add_text(table, text, language)
    return table

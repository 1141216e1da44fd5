"""The dashboard's texts in French and English."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MESSAGES: dict[str, dict[str, str]] = {
    "fr": {
        "insights_title": "Résultats",
        "insights_intro": "Ce que Relais a fait pour votre boutique sur la période choisie.",
        "range_from": "Du",
        "range_to": "Au",
        "range_apply": "Afficher",
        "range_timezone": "Jours selon le fuseau de la boutique ({zone})",
        "export_csv": "Exporter en CSV",
        "revenue_title": "Chiffre d'affaires généré",
        "attributed_orders": "Commandes attribuées",
        "attributed_revenue": "Chiffre d'affaires attribué",
        "messages_title": "Messages par canal",
        "channel": "Canal",
        "sent": "Envoyés",
        "delivered": "Délivrés",
        "opened": "Ouverts",
        "clicked": "Cliqués",
        "sent_per_day": "Messages envoyés par jour",
        "engagement_title": "Suivi et Wallet",
        "page_views": "Vues de la page de suivi",
        "link_clicks": "Clics sur les liens",
        "wallet_passes": "Cartes Wallet ajoutées",
        "wallet_orders": "Commandes ajoutées à Wallet",
        "wallet_pushes": "Mises à jour Wallet envoyées",
        "not_recorded": "non mesuré",
        "upsell_title": "Ventes additionnelles",
        "upsell_views": "Vues",
        "upsell_clicks": "Clics",
        "upsell_orders": "Commandes",
        "upsell_revenue": "Chiffre d'affaires",
        "ratings_title": "Avis de livraison",
        "rating_count": "Réponses",
        "rating_average": "Note moyenne",
        "rating_distribution": "Répartition des notes",
        "rating_trend": "Note moyenne par semaine",
        "no_data": "Pas encore de données sur cette période.",
        "attention_title": "Expéditions à surveiller",
        "attention_empty": "Aucune expédition ne demande votre attention.",
        "reason_stalled": "Sans nouvelles",
        "reason_late": "En retard",
        "reason_pickup": "Au point de retrait",
        "reason_failed_attempt": "Tentative échouée",
        "order": "Commande",
        "carrier": "Transporteur",
        "since": "Depuis",
        "open_order": "Ouvrir la commande",
    },
    "en": {
        "insights_title": "Results",
        "insights_intro": "What Relais did for your shop over the chosen period.",
        "range_from": "From",
        "range_to": "To",
        "range_apply": "Show",
        "range_timezone": "Days in the shop's time zone ({zone})",
        "export_csv": "Export CSV",
        "revenue_title": "Revenue generated",
        "attributed_orders": "Attributed orders",
        "attributed_revenue": "Attributed revenue",
        "messages_title": "Messages per channel",
        "channel": "Channel",
        "sent": "Sent",
        "delivered": "Delivered",
        "opened": "Opened",
        "clicked": "Clicked",
        "sent_per_day": "Messages sent per day",
        "engagement_title": "Tracking and Wallet",
        "page_views": "Tracking page views",
        "link_clicks": "Link clicks",
        "wallet_passes": "Wallet passes added",
        "wallet_orders": "Orders added to Wallet",
        "wallet_pushes": "Wallet updates sent",
        "not_recorded": "not recorded",
        "upsell_title": "Upsell",
        "upsell_views": "Views",
        "upsell_clicks": "Clicks",
        "upsell_orders": "Orders",
        "upsell_revenue": "Revenue",
        "ratings_title": "Delivery feedback",
        "rating_count": "Answers",
        "rating_average": "Average score",
        "rating_distribution": "Score distribution",
        "rating_trend": "Average score per week",
        "no_data": "No data for this period yet.",
        "attention_title": "Shipments that need attention",
        "attention_empty": "No shipment needs your attention.",
        "reason_stalled": "No news",
        "reason_late": "Late",
        "reason_pickup": "At pickup point",
        "reason_failed_attempt": "Failed attempt",
        "order": "Order",
        "carrier": "Carrier",
        "since": "Since",
        "open_order": "Open order",
    },
}


def translator(language: str, fallback: Callable[..., str]) -> Callable[..., str]:
    """Dashboard texts first, then the admin's (navigation, common words)."""
    table = MESSAGES.get(language) or MESSAGES["fr"]

    def t(key: str, **values: Any) -> str:
        text = table.get(key)
        return text.format(**values) if text is not None else fallback(key, **values)

    return t

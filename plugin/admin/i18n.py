"""Every text of the merchant's admin, in French and English.

The language comes from the ``locale`` query parameter Shopify adds to the app's URL
(``fr``, ``fr-FR``, ``en-US``...); French when it is missing or another language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"


def language_from_locale(locale: str | None) -> str:
    """``fr`` or ``en`` for a Shopify locale; French by default."""
    if not locale:
        return DEFAULT_LANGUAGE
    language = locale.replace("_", "-").split("-", 1)[0].lower()
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


MESSAGES: dict[str, dict[str, str]] = {
    "fr": {
        # navigation and pages
        "app_name": "Relais",
        "nav_home": "Mise en route",
        "nav_branding": "Marque",
        "nav_channels": "Canaux",
        "nav_milestones": "Messages",
        "nav_upsell": "Ventes additionnelles et avis",
        "nav_insights": "Résultats",
        "home_title": "Mise en route",
        "home_intro": (
            "Relais tient vos clients informés après l'achat. Voici ce qu'il reste à faire."
        ),
        "checklist_title": "Liste de vérification",
        "checklist_progress": "{done} sur {total} terminées",
        "check_again": "Vérifier à nouveau",
        "checks_queued": "Vérification lancée : actualisez dans quelques secondes.",
        "status_done": "Terminé",
        "status_todo": "À faire",
        "status_warning": "Attention",
        "status_optional": "Facultatif",
        "import_running": (
            "Import de vos commandes ouvertes des 60 derniers jours : {orders} commandes importées."
        ),
        "import_done": "Commandes ouvertes des 60 derniers jours importées ({orders}).",
        "import_error": "L'import des commandes s'est arrêté : {error}",
        # checklist items
        "check_webhooks": "Événements Shopify reçus",
        "check_webhooks_ok": "Dernier événement reçu le {when}.",
        "check_webhooks_todo": (
            "Aucun événement reçu pour l'instant. Créez une commande de test pour vérifier."
        ),
        "check_app_proxy": "Page de suivi sur votre domaine",
        "check_app_proxy_ok": "{url} répond (vérifié le {when}).",
        "check_app_proxy_todo": "{url} ne répond pas encore (code {status}, vérifié le {when}).",
        "check_app_proxy_password": (
            "Votre boutique est protégée par un mot de passe : la page de suivi sera visible "
            "à son ouverture."
        ),
        "check_app_proxy_unknown": "Pas encore vérifiée.",
        "check_theme_block": "Bloc de suivi ajouté au thème",
        "check_theme_block_ok": "Le bloc de suivi a été affiché sur votre boutique le {when}.",
        "check_theme_block_todo": (
            "Dans l'éditeur de thème, ajoutez le bloc « Suivi de commande Relais » à une "
            "page, puis affichez-la."
        ),
        "open_theme_editor": "Ouvrir l'éditeur de thème",
        "check_sender": "Expéditeur des e-mails vérifié",
        "check_sender_relais": (
            "Relais envoie vos e-mails au nom de « {name} » ; les réponses arrivent à {email}."
        ),
        "check_sender_ok": "SendGrid confirme l'adresse {email} (vérifié le {when}).",
        "check_sender_todo": (
            "SendGrid ne confirme pas encore l'adresse {email} : validez-la depuis l'e-mail "
            "de SendGrid."
        ),
        "check_sender_no_support": (
            "Indiquez une adresse de service client dans « Marque » : les réponses de vos "
            "clients y arriveront."
        ),
        "check_wallet": "Certificats Apple Wallet valides",
        "check_wallet_ok": "Certificat {pass_type} valable jusqu'au {until}.",
        "check_wallet_soon": "Le certificat {pass_type} expire le {until} : renouvelez-le.",
        "check_wallet_expired": "Le certificat {pass_type} a expiré le {until}.",
        "check_wallet_none": (
            "Pas de certificat : Relais utilise le sien. Ajoutez le vôtre dans « Canaux » "
            "pour des cartes à votre nom."
        ),
        "check_shopify_emails": "E-mails d'expédition de Shopify désactivés",
        "check_shopify_emails_todo": (
            "Shopify envoie aussi des e-mails d'expédition : vos clients recevraient tout en "
            "double. Désactivez « Confirmation d'expédition », « Mise à jour de l'expédition "
            "», « En cours de livraison » et « Livrée » dans les notifications Shopify."
        ),
        "check_shopify_emails_ok": "Confirmé le {when}.",
        "open_shopify_notifications": "Ouvrir les notifications Shopify",
        "confirm_done": "C'est fait",
        # forms, common
        "save": "Enregistrer",
        "saved": "Modifications enregistrées.",
        "form_has_errors": "Corrigez les champs signalés.",
        "error_required": "Ce champ est obligatoire.",
        "error_too_long": "{max} caractères au maximum.",
        "error_email": "Adresse e-mail invalide.",
        "error_noreply": (
            "Une adresse « no-reply » ne reçoit pas les réponses : indiquez une adresse lue "
            "par une personne."
        ),
        "error_url_https": "Indiquez une adresse commençant par https://.",
        "error_image_url": "L'adresse doit mener à une image (PNG, JPG, SVG ou WebP).",
        "error_color": "Couleur invalide : utilisez le format #RRGGBB.",
        "error_line_break": "Pas de retour à la ligne ici.",
        "error_number_range": "Indiquez un nombre entre {min} et {max}.",
        "error_choice": "Choix invalide.",
        "error_shopify_unavailable": (
            "Shopify ne répond pas pour le moment ; réessayez dans un instant."
        ),
        "error_session": "Votre session a expiré : rechargez la page.",
        # branding
        "branding_title": "Marque",
        "branding_intro": "Ce que vos clients voient dans les messages et sur la page de suivi.",
        "sender_name": "Nom de l'expéditeur",
        "sender_name_help": (
            "Affiché comme expéditeur des e-mails. Par défaut : le nom de votre boutique."
        ),
        "support_email": "E-mail du service client",
        "support_email_help": (
            "Les réponses de vos clients arrivent ici : une personne doit la lire."
        ),
        "logo_url": "Adresse du logo",
        "logo_url_help": "Une image en https, par exemple depuis Contenu > Fichiers de Shopify.",
        "primary_color": "Couleur principale",
        "accent_color": "Couleur d'accent",
        # channels
        "channels_title": "Canaux et identifiants",
        "channels_intro": (
            "Par défaut Relais envoie avec ses propres comptes. Vos comptes sont vérifiés à "
            "l'enregistrement et stockés chiffrés."
        ),
        "channel_email": "E-mail (SendGrid)",
        "channel_sms": "SMS (Twilio)",
        "channel_whatsapp": "WhatsApp (Twilio)",
        "channel_wallet": "Apple Wallet",
        "sendgrid_api_key": "Clé d'API SendGrid",
        "sendgrid_sender": "Adresse d'expédition",
        "twilio_account_sid": "Account SID Twilio",
        "twilio_auth_token": "Auth token Twilio",
        "sms_sender": "Expéditeur des SMS",
        "sms_sender_help": (
            "Un numéro (+33…), un nom de 11 caractères au plus, ou un service de messagerie (MG…)."
        ),
        "whatsapp_sender": "Numéro WhatsApp",
        "whatsapp_template": "Modèle approuvé pour « {milestone} »",
        "whatsapp_template_help": "L'identifiant du modèle dans Twilio Content (HX…).",
        "wallet_certificate": "Certificat Pass Type ID (PEM)",
        "wallet_key": "Clé privée (PEM)",
        "wallet_key_password": "Mot de passe de la clé",
        "secret_kept": "Enregistré. Laissez vide pour conserver la valeur actuelle.",
        "remove_credentials": "Supprimer ces identifiants",
        "credentials_removed": "Identifiants supprimés : Relais utilise de nouveau ses comptes.",
        "error_sendgrid_key_format": "Une clé SendGrid commence par « SG. ».",
        "error_sendgrid_key_refused": "SendGrid refuse cette clé.",
        "error_sendgrid_key_scope": (
            "Cette clé ne permet pas d'envoyer des e-mails (droit « Mail Send »)."
        ),
        "error_twilio_sid_format": (
            "Un Account SID commence par « AC » suivi de 32 caractères hexadécimaux."
        ),
        "error_twilio_token_format": "Un auth token compte 32 caractères hexadécimaux.",
        "error_twilio_refused": "Twilio refuse ce SID et ce token.",
        "error_twilio_needed": "Enregistrez d'abord votre compte Twilio dans la section SMS.",
        "error_sms_sender": (
            "Indiquez un numéro au format international (+33…), un nom de 11 caractères au "
            "plus ou un identifiant MG…."
        ),
        "error_phone": "Indiquez un numéro au format international, par exemple +33612345678.",
        "error_template_sid": (
            "Un identifiant de modèle commence par « HX » suivi de 32 caractères hexadécimaux."
        ),
        "error_provider_unavailable": "{provider} ne répond pas ; réessayez dans un instant.",
        "error_pem_certificate": (
            "Collez un certificat au format PEM (-----BEGIN CERTIFICATE-----)."
        ),
        "error_pem_key": "Collez une clé privée au format PEM (-----BEGIN PRIVATE KEY-----).",
        "error_key_password": "Mot de passe de la clé incorrect.",
        "error_key_mismatch": "Cette clé ne correspond pas au certificat.",
        "error_certificate_expired": "Ce certificat a expiré le {until}.",
        "error_not_pass_certificate": (
            "Ce n'est pas un certificat Pass Type ID d'Apple (l'identifiant doit commencer "
            "par « pass. »)."
        ),
        # milestones
        "milestones_title": "Messages par étape",
        "milestones_intro": (
            "Choisissez les étapes qui préviennent vos clients, sur quels canaux et avec "
            "quels mots."
        ),
        "milestone_enabled": "Prévenir le client",
        "channel_order": "Canaux, par ordre de préférence",
        "channel_order_help": (
            "Relais envoie un seul message, sur le premier canal possible pour ce client."
        ),
        "position": "Rang",
        "not_used": "Non utilisé",
        "copy": "Texte",
        "language_fr": "Français",
        "language_en": "Anglais",
        "subject": "Objet",
        "body": "Message",
        "copy_help": "Champs disponibles : {fields}.",
        "preview": "Aperçu",
        "preview_channel": "Aperçu pour",
        "error_channels_empty": (
            "Choisissez au moins un canal, ou ne prévenez pas pour cette étape."
        ),
        "error_channels_duplicate": "Chaque rang ne peut servir qu'une fois.",
        "error_placeholder_unknown": "Champ inconnu : {name}. Champs disponibles : {fields}.",
        "error_template_syntax": (
            "Texte illisible ligne {line} : écrivez les champs comme {{{{ first_name }}}}."
        ),
        "error_template_refused": "Texte refusé : {detail}",
        "error_sms_length": (
            "Un SMS de plus de {max} caractères coûte plusieurs envois : raccourcissez."
        ),
        "error_subject_needed": "Un e-mail a besoin d'un objet.",
        # upsell and feedback
        "upsell_title": "Ventes additionnelles",
        "upsell_enabled": "Montrer des produits sur la page de suivi",
        "fallback_collection": "Collection de secours (identifiant)",
        "fallback_collection_help": (
            "Montrée quand Shopify n'a pas de recommandation, par exemple « best-sellers »."
        ),
        "discount_code": "Code de réduction",
        "discount_code_help": "Proposé seulement aux clients qui acceptent le marketing.",
        "discount_text_fr": "Texte de l'offre (français)",
        "discount_text_en": "Texte de l'offre (anglais)",
        "upsell_limit": "Nombre de produits",
        "error_collection_unknown": "Aucune collection « {handle} » dans votre boutique.",
        "error_collection_empty": "La collection « {handle} » ne contient aucun produit.",
        "error_discount_unknown": "Aucun code de réduction « {code} » dans votre boutique.",
        "error_discount_inactive": "Le code « {code} » n'est pas actif.",
        "feedback_title": "Avis de livraison",
        "feedback_enabled": "Demander « Comment s'est passée votre livraison ? »",
        "feedback_delay": "Jours après la livraison",
        "relais_code_title": "Code de réduction créé par Relais",
        "relais_code_percentage": "Créer un code de (en %)",
        "relais_code_help": (
            "Relais crée le code dans votre boutique (une fois par client, sur tous les"
            " produits) et l'offre sur la page de suivi si vous n'avez pas indiqué de code."
        ),
        "relais_code_pending": "Code {code} (-{percentage} %) : en cours de création dans Shopify.",
        "relais_code_created": "Code {code} (-{percentage} %) : créé dans Shopify.",
        "relais_code_refused": (
            "Code {code} (-{percentage} %) : refusé par Shopify. Enregistrez pour réessayer."
        ),
        "relais_code_problem": "Dernière réponse de Shopify : {detail}",
        "feedback_scale": "Échelle de note",
        "feedback_scale_stars": "1 à 5 étoiles",
        "feedback_scale_nps": "0 à 10 (NPS)",
        "feedback_low_at_most": "Note basse : jusqu'à",
        "feedback_low_at_most_help": (
            "Une note égale ou inférieure alerte votre service client aussitôt. Vide : 2 sur 5"
            " étoiles, 6 sur 10."
        ),
        "feedback_review_url": "Lien vers vos avis",
        "feedback_review_url_help": "Proposé après une bonne note (4 ou 5 étoiles, 9 ou 10).",
        "feedback_referral_fr": "Offre de parrainage (français)",
        "feedback_referral_en": "Offre de parrainage (anglais)",
    },
    "en": {
        "app_name": "Relais",
        "nav_home": "Get started",
        "nav_branding": "Brand",
        "nav_channels": "Channels",
        "nav_milestones": "Messages",
        "nav_upsell": "Upsell and feedback",
        "nav_insights": "Results",
        "home_title": "Get started",
        "home_intro": (
            "Relais keeps your customers informed after they buy. Here is what is left to do."
        ),
        "checklist_title": "Checklist",
        "checklist_progress": "{done} of {total} done",
        "check_again": "Check again",
        "checks_queued": "Check started: refresh in a few seconds.",
        "status_done": "Done",
        "status_todo": "To do",
        "status_warning": "Attention",
        "status_optional": "Optional",
        "import_running": (
            "Importing your open orders of the last 60 days: {orders} orders imported."
        ),
        "import_done": "Open orders of the last 60 days imported ({orders}).",
        "import_error": "The order import stopped: {error}",
        "check_webhooks": "Shopify events arriving",
        "check_webhooks_ok": "Last event received on {when}.",
        "check_webhooks_todo": "No event received yet. Create a test order to check.",
        "check_app_proxy": "Tracking page on your domain",
        "check_app_proxy_ok": "{url} answers (checked on {when}).",
        "check_app_proxy_todo": "{url} does not answer yet (status {status}, checked on {when}).",
        "check_app_proxy_password": (
            "Your store is password protected: the tracking page will show once it opens."
        ),
        "check_app_proxy_unknown": "Not checked yet.",
        "check_theme_block": "Tracking block added to your theme",
        "check_theme_block_ok": "The tracking block was shown on your store on {when}.",
        "check_theme_block_todo": (
            'In the theme editor, add the "Relais order tracking" block to a page, then view it.'
        ),
        "open_theme_editor": "Open the theme editor",
        "check_sender": "Email sender verified",
        "check_sender_relais": 'Relais sends your emails as "{name}"; replies go to {email}.',
        "check_sender_ok": "SendGrid confirms {email} (checked on {when}).",
        "check_sender_todo": (
            "SendGrid does not confirm {email} yet: verify it from SendGrid's email."
        ),
        "check_sender_no_support": (
            'Enter a customer service address in "Brand": your customers\' replies will go there.'
        ),
        "check_wallet": "Apple Wallet certificates valid",
        "check_wallet_ok": "Certificate {pass_type} valid until {until}.",
        "check_wallet_soon": "Certificate {pass_type} expires on {until}: renew it.",
        "check_wallet_expired": "Certificate {pass_type} expired on {until}.",
        "check_wallet_none": (
            'No certificate: Relais uses its own. Add yours in "Channels" for passes in your name.'
        ),
        "check_shopify_emails": "Shopify's shipping emails switched off",
        "check_shopify_emails_todo": (
            "Shopify sends shipping emails too: your customers would get everything twice. "
            'Switch off "Shipping confirmation", "Shipping update", "Out for delivery" and '
            '"Delivered" in Shopify\'s notifications.'
        ),
        "check_shopify_emails_ok": "Confirmed on {when}.",
        "open_shopify_notifications": "Open Shopify notifications",
        "confirm_done": "Done it",
        "save": "Save",
        "saved": "Changes saved.",
        "form_has_errors": "Fix the highlighted fields.",
        "error_required": "This field is required.",
        "error_too_long": "{max} characters at most.",
        "error_email": "Invalid email address.",
        "error_noreply": "A no-reply address gets no replies: enter an address a person reads.",
        "error_url_https": "Enter an address starting with https://.",
        "error_image_url": "The address must lead to an image (PNG, JPG, SVG or WebP).",
        "error_color": "Invalid colour: use the #RRGGBB format.",
        "error_line_break": "No line breaks here.",
        "error_number_range": "Enter a number between {min} and {max}.",
        "error_choice": "Invalid choice.",
        "error_shopify_unavailable": "Shopify is not answering right now; try again in a moment.",
        "error_session": "Your session expired: reload the page.",
        "branding_title": "Brand",
        "branding_intro": "What your customers see in messages and on the tracking page.",
        "sender_name": "Sender name",
        "sender_name_help": "Shown as the sender of emails. Default: your store's name.",
        "support_email": "Customer service email",
        "support_email_help": "Your customers' replies arrive here: a person must read it.",
        "logo_url": "Logo address",
        "logo_url_help": "An https image, for example from Shopify's Content > Files.",
        "primary_color": "Main colour",
        "accent_color": "Accent colour",
        "channels_title": "Channels and credentials",
        "channels_intro": (
            "By default Relais sends with its own accounts. Your accounts are checked when "
            "saved and stored encrypted."
        ),
        "channel_email": "Email (SendGrid)",
        "channel_sms": "SMS (Twilio)",
        "channel_whatsapp": "WhatsApp (Twilio)",
        "channel_wallet": "Apple Wallet",
        "sendgrid_api_key": "SendGrid API key",
        "sendgrid_sender": "From address",
        "twilio_account_sid": "Twilio Account SID",
        "twilio_auth_token": "Twilio auth token",
        "sms_sender": "SMS sender",
        "sms_sender_help": (
            "A number (+44…), a name of at most 11 characters, or a messaging service (MG…)."
        ),
        "whatsapp_sender": "WhatsApp number",
        "whatsapp_template": 'Approved template for "{milestone}"',
        "whatsapp_template_help": "The template's id in Twilio Content (HX…).",
        "wallet_certificate": "Pass Type ID certificate (PEM)",
        "wallet_key": "Private key (PEM)",
        "wallet_key_password": "Key password",
        "secret_kept": "Saved. Leave empty to keep the current value.",
        "remove_credentials": "Remove these credentials",
        "credentials_removed": "Credentials removed: Relais uses its own accounts again.",
        "error_sendgrid_key_format": 'A SendGrid key starts with "SG.".',
        "error_sendgrid_key_refused": "SendGrid refuses this key.",
        "error_sendgrid_key_scope": 'This key cannot send email ("Mail Send" permission).',
        "error_twilio_sid_format": 'An Account SID is "AC" followed by 32 hexadecimal characters.',
        "error_twilio_token_format": "An auth token is 32 hexadecimal characters.",
        "error_twilio_refused": "Twilio refuses this SID and token.",
        "error_twilio_needed": "Save your Twilio account in the SMS section first.",
        "error_sms_sender": (
            "Enter an international number (+44…), a name of at most 11 characters or an MG… id."
        ),
        "error_phone": "Enter an international number, for example +447700900123.",
        "error_template_sid": 'A template id is "HX" followed by 32 hexadecimal characters.',
        "error_provider_unavailable": "{provider} is not answering; try again in a moment.",
        "error_pem_certificate": "Paste a PEM certificate (-----BEGIN CERTIFICATE-----).",
        "error_pem_key": "Paste a PEM private key (-----BEGIN PRIVATE KEY-----).",
        "error_key_password": "Wrong key password.",
        "error_key_mismatch": "This key does not match the certificate.",
        "error_certificate_expired": "This certificate expired on {until}.",
        "error_not_pass_certificate": (
            "This is not an Apple Pass Type ID certificate (its identifier must start with "
            '"pass.").'
        ),
        "milestones_title": "Messages by step",
        "milestones_intro": (
            "Choose which steps notify your customers, on which channels and in which words."
        ),
        "milestone_enabled": "Notify the customer",
        "channel_order": "Channels, in order of preference",
        "channel_order_help": (
            "Relais sends one message, on the first channel possible for this customer."
        ),
        "position": "Rank",
        "not_used": "Not used",
        "copy": "Copy",
        "language_fr": "French",
        "language_en": "English",
        "subject": "Subject",
        "body": "Message",
        "copy_help": "Available fields: {fields}.",
        "preview": "Preview",
        "preview_channel": "Preview for",
        "error_channels_empty": "Choose at least one channel, or do not notify for this step.",
        "error_channels_duplicate": "Each rank can be used once.",
        "error_placeholder_unknown": "Unknown field: {name}. Available fields: {fields}.",
        "error_template_syntax": (
            "Unreadable text on line {line}: write fields as {{{{ first_name }}}}."
        ),
        "error_template_refused": "Text refused: {detail}",
        "error_sms_length": "An SMS longer than {max} characters costs several sends: shorten it.",
        "error_subject_needed": "An email needs a subject.",
        "upsell_title": "Upsell",
        "upsell_enabled": "Show products on the tracking page",
        "fallback_collection": "Fallback collection (handle)",
        "fallback_collection_help": (
            'Shown when Shopify has no recommendation, for example "best-sellers".'
        ),
        "discount_code": "Discount code",
        "discount_code_help": "Offered only to customers who accept marketing.",
        "discount_text_fr": "Offer text (French)",
        "discount_text_en": "Offer text (English)",
        "upsell_limit": "Number of products",
        "error_collection_unknown": 'No collection "{handle}" in your store.',
        "error_collection_empty": 'Collection "{handle}" has no products.',
        "error_discount_unknown": 'No discount code "{code}" in your store.',
        "error_discount_inactive": 'Code "{code}" is not active.',
        "feedback_title": "Delivery feedback",
        "feedback_enabled": 'Ask "How was your delivery?"',
        "feedback_delay": "Days after delivery",
        "relais_code_title": "Discount code created by Relais",
        "relais_code_percentage": "Create a code for (% off)",
        "relais_code_help": (
            "Relais creates the code in your store (once per customer, on every product) and"
            " offers it on the tracking page unless you named a code above."
        ),
        "relais_code_pending": "Code {code} ({percentage}% off): being created in Shopify.",
        "relais_code_created": "Code {code} ({percentage}% off): created in Shopify.",
        "relais_code_refused": (
            "Code {code} ({percentage}% off): refused by Shopify. Save to retry."
        ),
        "relais_code_problem": "Shopify's last answer: {detail}",
        "feedback_scale": "Rating scale",
        "feedback_scale_stars": "1 to 5 stars",
        "feedback_scale_nps": "0 to 10 (NPS)",
        "feedback_low_at_most": "Low score: up to",
        "feedback_low_at_most_help": (
            "A score at or below this alerts your support inbox at once. Empty: 2 of 5 stars,"
            " 6 of 10."
        ),
        "feedback_review_url": "Link to your reviews",
        "feedback_review_url_help": "Offered after a high score (4 or 5 stars, 9 or 10).",
        "feedback_referral_fr": "Referral offer (French)",
        "feedback_referral_en": "Referral offer (English)",
    },
}

# Names of the milestones as a merchant reads them.
MILESTONE_NAMES: dict[str, dict[str, str]] = {
    "fr": {
        "ordered": "Commande passée",
        "cancelled": "Commande annulée",
        "label_created": "Étiquette créée",
        "shipped": "Expédiée",
        "in_transit": "En transit",
        "out_for_delivery": "En cours de livraison",
        "attempted_delivery": "Tentative de livraison",
        "ready_for_pickup": "Prête au point de retrait",
        "delayed": "Retardée",
        "delivered": "Livrée",
        "failure": "Échec de livraison",
        "returning_to_sender": "Retour à l'expéditeur",
        "not_shipped": "Toujours pas expédiée",
        "stalled": "Sans nouvelles du transporteur",
        "pickup_reminder": "Rappel : colis à retirer",
        "late": "En retard sur la date prévue",
        "feedback_request": "Demande d'avis",
    },
    "en": {
        "ordered": "Order placed",
        "cancelled": "Order cancelled",
        "label_created": "Label created",
        "shipped": "Shipped",
        "in_transit": "In transit",
        "out_for_delivery": "Out for delivery",
        "attempted_delivery": "Delivery attempted",
        "ready_for_pickup": "Ready for pickup",
        "delayed": "Delayed",
        "delivered": "Delivered",
        "failure": "Delivery failed",
        "returning_to_sender": "Returning to sender",
        "not_shipped": "Still not shipped",
        "stalled": "No carrier news",
        "pickup_reminder": "Reminder: parcel to collect",
        "late": "Past the expected date",
        "feedback_request": "Feedback request",
    },
}

CHANNEL_NAMES: dict[str, dict[str, str]] = {
    "fr": {"wallet": "Apple Wallet", "sms": "SMS", "whatsapp": "WhatsApp", "email": "E-mail"},
    "en": {"wallet": "Apple Wallet", "sms": "SMS", "whatsapp": "WhatsApp", "email": "Email"},
}


class _KeepMissing(dict[str, Any]):
    """Leaves a placeholder without a value as it is instead of failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class Translator:
    """``t("key", name=value)`` in one language; falls back to French, then the key."""

    language: str

    def __call__(self, key: str, **values: Any) -> str:
        text = MESSAGES[self.language].get(key) or MESSAGES[DEFAULT_LANGUAGE].get(key) or key
        return text.format_map(_KeepMissing(values))

    def milestone(self, name: str) -> str:
        return MILESTONE_NAMES[self.language].get(name, name)

    def channel(self, name: str) -> str:
        return CHANNEL_NAMES[self.language].get(name, name)

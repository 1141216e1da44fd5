"""The default copy of every message, in French and English, in the shop's own voice.

Each text is a template in the merchant's template language (sandboxed Jinja, see
:mod:`plugin.notifications.messages.sandbox`): a merchant who edits a message starts from
these. Email bodies are paragraphs separated by blank lines; the layout around them
(greeting, buttons, items, signature, footer) is Relais' own. SMS texts name the shop and
are written to fit one GSM-7 segment with the tracking link; "reply STOP" is appended.
WhatsApp texts are not templates of ours but Meta's format: what a merchant submits for
approval, with {{1}}-style placeholders filled from :data:`WHATSAPP_VARIABLES` in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from plugin.milestones import Milestone

LOCALES = ("fr", "en")
DEFAULT_LOCALE = "fr"


@dataclass(frozen=True)
class Copy:
    subject: str
    body: str
    cta: str  # the label of the main button
    sms: str
    whatsapp: str


# The order of the WhatsApp template placeholders {{1}}, {{2}}... in the suggested copy.
WHATSAPP_VARIABLES = ("first_name", "shop_name", "order_name", "tracking_url")

# Closing words and fixed labels of the layout.
LAYOUT = {
    "fr": {
        "hello": "Bonjour {name},",
        "hello_anonymous": "Bonjour,",
        "sign_off": "À très vite,",
        "team": "L'équipe {shop}",
        "wallet": "Ajouter à Apple Wallet",
        "your_items": "Dans ce colis",
        "pickup_at": "Votre point de retrait",
        "hours": "Horaires",
        "tracking_number": "Numéro de suivi",
        "reply": "Une question ? Répondez simplement à cet e-mail : c'est nous qui vous lirons.",
        "why": "Vous recevez cet e-mail à propos de votre commande {order} chez {shop}.",
        "link_fallback": "Si le bouton ne fonctionne pas, copiez ce lien dans votre navigateur :",
        "stop": "Désinscription : STOP",
        "track": "Suivi",
        "open_tracking": "Voir le suivi de la commande",
        "merchant_why": "Relais vous transmet les réponses de vos clients à vos SMS et "
        "messages WhatsApp.",
        "colon": "\u00a0: ",
        "whatsapp": "WhatsApp",
        "sms": "SMS",
        "rate": "Votre note, en un geste (de la plus basse à la plus haute)",
    },
    "en": {
        "hello": "Hello {name},",
        "hello_anonymous": "Hello,",
        "sign_off": "Speak soon,",
        "team": "The {shop} team",
        "wallet": "Add to Apple Wallet",
        "your_items": "In this parcel",
        "pickup_at": "Your pickup point",
        "hours": "Opening hours",
        "tracking_number": "Tracking number",
        "reply": "Any question? Just reply to this email: it comes straight to us.",
        "why": "You are receiving this email about your order {order} at {shop}.",
        "link_fallback": "If the button does not work, copy this link into your browser:",
        "stop": "Reply STOP to opt out",
        "track": "Track",
        "open_tracking": "See the order's tracking",
        "merchant_why": "Relais forwards your customers' replies to your text and WhatsApp "
        "messages.",
        "colon": ": ",
        "whatsapp": "WhatsApp",
        "sms": "text message",
        "rate": "Your rating, in one tap (from lowest to highest)",
    },
}

_TRACK_FR = "Suivre mon colis"
_TRACK_EN = "Track my parcel"

DEFAULT_COPY: dict[Milestone, dict[str, Copy]] = {
    Milestone.ORDERED: {
        "fr": Copy(
            subject="Merci pour votre commande {{ order_name }} !",
            body=(
                "Merci de nous avoir fait confiance : nous avons bien reçu votre commande "
                "{{ order_name }} et nous la préparons avec soin.\n\n"
                "Nous vous écrirons dès qu'elle partira de chez nous."
            ),
            cta="Voir ma commande",
            sms="{{ shop_name }} : merci pour votre commande {{ order_name }} ! "
            "Suivi : {{ tracking_url }}",
            whatsapp="Bonjour {{1}}, merci pour votre commande {{3}} chez {{2}} ! "
            "Nous vous écrirons dès son départ. Suivi : {{4}}",
        ),
        "en": Copy(
            subject="Thank you for your order {{ order_name }}!",
            body=(
                "Thank you for shopping with us: we have received your order {{ order_name }} "
                "and we are preparing it with care.\n\n"
                "We will write again as soon as it leaves our hands."
            ),
            cta="View my order",
            sms="{{ shop_name }}: thank you for your order {{ order_name }}! "
            "Track it: {{ tracking_url }}",
            whatsapp="Hello {{1}}, thank you for your order {{3}} at {{2}}! We will write "
            "again when it ships. Track it: {{4}}",
        ),
    },
    Milestone.CANCELLED: {
        "fr": Copy(
            subject="Votre commande {{ order_name }} a été annulée",
            body=(
                "Nous vous confirmons l'annulation de votre commande {{ order_name }}. "
                "Si un paiement a été effectué, le remboursement suit son cours.\n\n"
                "Si vous ne vous attendiez pas à ce message, répondez-nous : nous regarderons "
                "cela ensemble."
            ),
            cta="Voir ma commande",
            sms="{{ shop_name }} : votre commande {{ order_name }} a été annulée. "
            "Détails : {{ tracking_url }}",
            whatsapp="Bonjour {{1}}, votre commande {{3}} chez {{2}} a été annulée. "
            "Détails : {{4}}",
        ),
        "en": Copy(
            subject="Your order {{ order_name }} has been cancelled",
            body=(
                "This is to confirm that your order {{ order_name }} has been cancelled. "
                "If you paid for it, your refund is on its way.\n\n"
                "If you did not expect this, just reply and we will sort it out together."
            ),
            cta="View my order",
            sms="{{ shop_name }}: your order {{ order_name }} has been cancelled. "
            "Details: {{ tracking_url }}",
            whatsapp="Hello {{1}}, your order {{3}} at {{2}} has been cancelled. Details: {{4}}",
        ),
    },
    Milestone.LABEL_CREATED: {
        "fr": Copy(
            subject="Votre commande {{ order_name }} est prête à partir",
            body=(
                "Votre commande {{ order_name }} est emballée et prête à partir : "
                "{{ carrier or 'le transporteur' }} doit venir la chercher très bientôt.\n\n"
                "Nous vous préviendrons dès qu'elle sera en route."
            ),
            cta=_TRACK_FR,
            sms="{{ shop_name }} : votre commande {{ order_name }} est emballée, départ "
            "imminent. Suivi : {{ tracking_url }}",
            whatsapp="Bonjour {{1}}, votre commande {{3}} chez {{2}} est prête à partir. "
            "Suivi : {{4}}",
        ),
        "en": Copy(
            subject="Your order {{ order_name }} is packed and ready",
            body=(
                "Your order {{ order_name }} is packed and ready to go: "
                "{{ carrier or 'the carrier' }} will pick it up very soon.\n\n"
                "We will let you know as soon as it is on its way."
            ),
            cta=_TRACK_EN,
            sms="{{ shop_name }}: your order {{ order_name }} is packed and ready. "
            "Track it: {{ tracking_url }}",
            whatsapp="Hello {{1}}, your order {{3}} at {{2}} is packed and ready. Track it: {{4}}",
        ),
    },
    Milestone.SHIPPED: {
        "fr": Copy(
            subject="Votre commande {{ order_name }} est en route",
            body=(
                "Bonne nouvelle : nous venons de confier votre commande {{ order_name }} à "
                "{{ carrier or 'notre transporteur' }}. Nous l'avons préparée avec soin et "
                "nous avons hâte qu'elle arrive chez vous."
                "{% if estimated_delivery %}\n\nElle devrait arriver le {{ estimated_delivery }}."
                "{% endif %}\n\n"
                "Vous pouvez suivre son trajet à tout moment depuis votre page de suivi."
            ),
            cta=_TRACK_FR,
            sms="{{ shop_name }} : votre commande {{ order_name }} est en route ! "
            "Suivi : {{ tracking_url }}",
            whatsapp="Bonjour {{1}}, votre commande {{3}} chez {{2}} est en route ! Suivi : {{4}}",
        ),
        "en": Copy(
            subject="Your order {{ order_name }} is on its way",
            body=(
                "Good news: we have just handed your order {{ order_name }} to "
                "{{ carrier or 'our carrier' }}. We packed it with care and we cannot wait "
                "for it to reach you."
                "{% if estimated_delivery %}\n\nIt should arrive on {{ estimated_delivery }}."
                "{% endif %}\n\n"
                "You can follow its journey at any time on your tracking page."
            ),
            cta=_TRACK_EN,
            sms="{{ shop_name }}: your order {{ order_name }} is on its way! "
            "Track it: {{ tracking_url }}",
            whatsapp="Hello {{1}}, your order {{3}} at {{2}} is on its way! Track it: {{4}}",
        ),
    },
    Milestone.IN_TRANSIT: {
        "fr": Copy(
            subject="Votre colis {{ order_name }} poursuit son chemin",
            body=(
                "Petit point d'étape : votre colis {{ order_name }} voyage avec "
                "{{ carrier or 'notre transporteur' }} et tout se passe bien. Nous gardons un œil "
                "dessus pour vous."
                "{% if estimated_delivery %}\n\nArrivée prévue le {{ estimated_delivery }}."
                "{% endif %}"
            ),
            cta=_TRACK_FR,
            sms="{{ shop_name }} : votre colis {{ order_name }} est en chemin. "
            "Suivi : {{ tracking_url }}",
            whatsapp="Bonjour {{1}}, votre colis {{3}} de {{2}} est en chemin. Suivi : {{4}}",
        ),
        "en": Copy(
            subject="Your parcel {{ order_name }} is making progress",
            body=(
                "A quick update: your parcel {{ order_name }} is travelling with "
                "{{ carrier or 'our carrier' }} and all is going well. We are keeping an eye on "
                "it for you."
                "{% if estimated_delivery %}\n\nExpected on {{ estimated_delivery }}.{% endif %}"
            ),
            cta=_TRACK_EN,
            sms="{{ shop_name }}: your parcel {{ order_name }} is in transit. "
            "Track it: {{ tracking_url }}",
            whatsapp="Hello {{1}}, your parcel {{3}} from {{2}} is in transit. Track it: {{4}}",
        ),
    },
    Milestone.OUT_FOR_DELIVERY: {
        "fr": Copy(
            subject="C'est aujourd'hui ! Votre colis {{ order_name }} arrive",
            body=(
                "Nous avons une bonne nouvelle : votre colis {{ order_name }} est parti pour sa "
                "dernière étape, le livreur vous l'apporte aujourd'hui.\n\n"
                "Si vous vous absentez, gardez un œil sur votre page de suivi."
            ),
            cta=_TRACK_FR,
            sms="{{ shop_name }} : votre colis {{ order_name }} arrive aujourd'hui ! "
            "Suivi : {{ tracking_url }}",
            whatsapp="Bonjour {{1}}, votre colis {{3}} de {{2}} arrive aujourd'hui ! Suivi : {{4}}",
        ),
        "en": Copy(
            subject="It's today! Your parcel {{ order_name }} is arriving",
            body=(
                "We have good news: your parcel {{ order_name }} is on its very last stretch and "
                "the driver is bringing it to you today.\n\n"
                "If you have to step out, keep an eye on your tracking page."
            ),
            cta=_TRACK_EN,
            sms="{{ shop_name }}: your parcel {{ order_name }} arrives today! "
            "Track it: {{ tracking_url }}",
            whatsapp="Hello {{1}}, your parcel {{3}} from {{2}} arrives today! Track it: {{4}}",
        ),
    },
    Milestone.ATTEMPTED_DELIVERY: {
        "fr": Copy(
            subject="Le livreur est passé : votre colis {{ order_name }} vous attend",
            body=(
                "Le livreur est passé aujourd'hui mais n'a pas pu vous remettre votre colis "
                "{{ order_name }}. Pas d'inquiétude, il n'est pas perdu et nous restons là si "
                "besoin !\n\n"
                "Votre page de suivi vous indique comment le récupérer ou reprogrammer "
                "la livraison."
            ),
            cta="Que faire maintenant ?",
            sms="{{ shop_name }} : livraison de {{ order_name }} manquée. "
            "Que faire : {{ tracking_url }}",
            whatsapp="Bonjour {{1}}, le livreur n'a pas pu vous remettre votre colis {{3}} de "
            "{{2}}. Que faire : {{4}}",
        ),
        "en": Copy(
            subject="We missed you: your parcel {{ order_name }} is waiting",
            body=(
                "The driver came by today but could not hand you your parcel "
                "{{ order_name }}. Don't worry, it is not lost!\n\n"
                "Your tracking page tells you how to collect it or book a new delivery."
            ),
            cta="What to do now",
            sms="{{ shop_name }}: we missed you with {{ order_name }}. "
            "What to do: {{ tracking_url }}",
            whatsapp="Hello {{1}}, the driver could not hand you your parcel {{3}} from {{2}}. "
            "What to do: {{4}}",
        ),
    },
    Milestone.READY_FOR_PICKUP: {
        "fr": Copy(
            subject="Votre colis {{ order_name }} vous attend en point de retrait",
            body=(
                "Votre colis {{ order_name }} est arrivé"
                "{% if pickup_point %} chez {{ pickup_point.name }}{% endif %} "
                "et n'attend plus que vous. Nous espérons qu'il vous plaira !\n\n"
                "Pensez à vous munir d'une pièce d'identité. Les colis ne restent pas "
                "éternellement en point de retrait : passez dès que possible."
            ),
            cta="Voir le point de retrait",
            sms="{{ shop_name }} : votre colis {{ order_name }} est en point retrait. "
            "Infos : {{ tracking_url }}",
            whatsapp="Bonjour {{1}}, votre colis {{3}} de {{2}} vous attend en point de "
            "retrait. Infos : {{4}}",
        ),
        "en": Copy(
            subject="Your parcel {{ order_name }} is ready for pickup",
            body=(
                "Your parcel {{ order_name }} has arrived"
                "{% if pickup_point %} at {{ pickup_point.name }}{% endif %} "
                "and is waiting for you. We hope you will love it!\n\n"
                "Remember to bring some ID. Parcels do not wait forever at pickup points, "
                "so please collect it soon."
            ),
            cta="See the pickup point",
            sms="{{ shop_name }}: your parcel {{ order_name }} is ready for pickup. "
            "Info: {{ tracking_url }}",
            whatsapp="Hello {{1}}, your parcel {{3}} from {{2}} is ready for pickup. Info: {{4}}",
        ),
    },
    Milestone.DELAYED: {
        "fr": Copy(
            subject="Votre colis {{ order_name }} a un peu de retard",
            body=(
                "Nous préférons vous prévenir : {{ carrier or 'le transporteur' }} nous signale "
                "un retard sur votre colis {{ order_name }}. Nous sommes désolés pour "
                "l'attente."
                "{% if estimated_delivery %}\n\nNouvelle date prévue : {{ estimated_delivery }}."
                "{% endif %}\n\n"
                "Nous gardons un œil dessus et votre page de suivi reste à jour."
            ),
            cta=_TRACK_FR,
            sms="{{ shop_name }} : votre colis {{ order_name }} a du retard, désolés ! "
            "Suivi : {{ tracking_url }}",
            whatsapp="Bonjour {{1}}, votre colis {{3}} de {{2}} a du retard, désolés ! "
            "Suivi : {{4}}",
        ),
        "en": Copy(
            subject="Your parcel {{ order_name }} is running late",
            body=(
                "We would rather tell you straight away: {{ carrier or 'the carrier' }} reports "
                "a delay on your parcel {{ order_name }}. We are sorry for the wait."
                "{% if estimated_delivery %}\n\nNew expected date: {{ estimated_delivery }}."
                "{% endif %}\n\n"
                "We are keeping an eye on it and your tracking page stays up to date."
            ),
            cta=_TRACK_EN,
            sms="{{ shop_name }}: sorry, your parcel {{ order_name }} is delayed. "
            "Track it: {{ tracking_url }}",
            whatsapp="Hello {{1}}, sorry, your parcel {{3}} from {{2}} is delayed. Track it: {{4}}",
        ),
    },
    Milestone.DELIVERED: {
        "fr": Copy(
            subject="Votre colis {{ order_name }} est arrivé",
            body=(
                "Votre colis {{ order_name }} a bien été livré. Nous espérons qu'il vous "
                "plaira autant qu'à nous en le préparant !\n\n"
                "S'il y a le moindre souci, répondez simplement à cet e-mail."
            ),
            cta="Voir ma commande",
            sms="{{ shop_name }} : votre colis {{ order_name }} est livré. Bonne découverte ! "
            "{{ tracking_url }}",
            whatsapp="Bonjour {{1}}, votre colis {{3}} de {{2}} est livré. Bonne découverte ! "
            "{{4}}",
        ),
        "en": Copy(
            subject="Your parcel {{ order_name }} has arrived",
            body=(
                "Your parcel {{ order_name }} has been delivered. We hope you love it as "
                "much as we enjoyed preparing it!\n\n"
                "If anything is not right, just reply to this email."
            ),
            cta="View my order",
            sms="{{ shop_name }}: your parcel {{ order_name }} has been delivered. Enjoy! "
            "{{ tracking_url }}",
            whatsapp="Hello {{1}}, your parcel {{3}} from {{2}} has been delivered. Enjoy! {{4}}",
        ),
    },
    Milestone.FAILURE: {
        "fr": Copy(
            subject="Un problème avec la livraison de {{ order_name }}",
            body=(
                "{{ carrier or 'Le transporteur' }} nous signale un problème avec la livraison "
                "de votre colis {{ order_name }}. Nous sommes vraiment désolés.\n\n"
                "Nous nous en occupons. Vous pouvez aussi répondre à cet e-mail : "
                "nous trouverons une solution ensemble."
            ),
            cta=_TRACK_FR,
            sms="{{ shop_name }} : souci de livraison pour {{ order_name }}, on s'en occupe. "
            "{{ tracking_url }}",
            whatsapp="Bonjour {{1}}, souci de livraison pour votre colis {{3}} de {{2}}, "
            "nous nous en occupons. {{4}}",
        ),
        "en": Copy(
            subject="A problem with the delivery of {{ order_name }}",
            body=(
                "{{ carrier or 'The carrier' }} reports a problem delivering your parcel "
                "{{ order_name }}. We are truly sorry.\n\n"
                "We are on it. You can also reply to this email and we will find a solution "
                "together."
            ),
            cta=_TRACK_EN,
            sms="{{ shop_name }}: delivery problem with {{ order_name }}, we're on it. "
            "{{ tracking_url }}",
            whatsapp="Hello {{1}}, there is a delivery problem with your parcel {{3}} from "
            "{{2}}, we are on it. {{4}}",
        ),
    },
    Milestone.RETURNING_TO_SENDER: {
        "fr": Copy(
            subject="Votre colis {{ order_name }} nous revient",
            body=(
                "Votre colis {{ order_name }} n'a pas pu être remis et il est en train de "
                "revenir chez nous.\n\n"
                "Répondez à cet e-mail pour nous dire ce que vous préférez : un nouvel envoi "
                "ou un remboursement. Nous nous occupons du reste."
            ),
            cta=_TRACK_FR,
            sms="{{ shop_name }} : votre colis {{ order_name }} nous revient. "
            "Infos : {{ tracking_url }}",
            whatsapp="Bonjour {{1}}, votre colis {{3}} revient chez {{2}}. Infos : {{4}}",
        ),
        "en": Copy(
            subject="Your parcel {{ order_name }} is coming back to us",
            body=(
                "Your parcel {{ order_name }} could not be delivered and is on its way back "
                "to us.\n\n"
                "Reply to this email to tell us what you would like: a new shipment or a "
                "refund. We will take care of the rest."
            ),
            cta=_TRACK_EN,
            sms="{{ shop_name }}: your parcel {{ order_name }} is coming back to us. "
            "Info: {{ tracking_url }}",
            whatsapp="Hello {{1}}, your parcel {{3}} is going back to {{2}}. Info: {{4}}",
        ),
    },
    Milestone.NOT_SHIPPED: {
        "fr": Copy(
            subject="Votre commande {{ order_name }} prend un peu plus de temps",
            body=(
                "Votre commande {{ order_name }} n'est pas encore partie et nous tenions à "
                "vous le dire nous-mêmes. Nous faisons le nécessaire pour l'expédier au plus "
                "vite.\n\n"
                "Merci pour votre patience, et n'hésitez pas à nous répondre si vous avez une "
                "question."
            ),
            cta="Voir ma commande",
            sms="{{ shop_name }} : votre commande {{ order_name }} part très vite, merci de "
            "votre patience. {{ tracking_url }}",
            whatsapp="Bonjour {{1}}, votre commande {{3}} chez {{2}} part bientôt, merci de "
            "votre patience. {{4}}",
        ),
        "en": Copy(
            subject="Your order {{ order_name }} is taking a little longer",
            body=(
                "Your order {{ order_name }} has not left yet and we wanted to tell you "
                "ourselves. We are doing what it takes to ship it as soon as possible.\n\n"
                "Thank you for your patience, and do reply if you have any question."
            ),
            cta="View my order",
            sms="{{ shop_name }}: your order {{ order_name }} ships soon, thanks for your "
            "patience. {{ tracking_url }}",
            whatsapp="Hello {{1}}, your order {{3}} at {{2}} ships soon, thank you for your "
            "patience. {{4}}",
        ),
    },
    Milestone.STALLED: {
        "fr": Copy(
            subject="Des nouvelles de votre colis {{ order_name }}",
            body=(
                "Votre colis {{ order_name }} n'a pas donné de nouvelles depuis quelques jours "
                "chez {{ carrier or 'le transporteur' }}. Cela arrive, et nous avons "
                "l'œil dessus.\n\n"
                "Si rien ne bouge rapidement, nous relancerons le transporteur pour vous."
            ),
            cta=_TRACK_FR,
            sms="{{ shop_name }} : on surveille votre colis {{ order_name }}, sans nouvelles "
            "du transporteur. {{ tracking_url }}",
            whatsapp="Bonjour {{1}}, {{2}} surveille votre colis {{3}}, sans nouvelles du "
            "transporteur. {{4}}",
        ),
        "en": Copy(
            subject="An update on your parcel {{ order_name }}",
            body=(
                "Your parcel {{ order_name }} has not had an update from "
                "{{ carrier or 'the carrier' }} for a few days. It happens, and we are "
                "keeping an eye on it.\n\n"
                "If nothing moves soon, we will chase the carrier for you."
            ),
            cta=_TRACK_EN,
            sms="{{ shop_name }}: no carrier update on {{ order_name }} lately, we're on it. "
            "{{ tracking_url }}",
            whatsapp="Hello {{1}}, no carrier update on your parcel {{3}} lately: {{2}} is on "
            "it. {{4}}",
        ),
    },
    Milestone.PICKUP_REMINDER: {
        "fr": Copy(
            subject="Votre colis {{ order_name }} vous attend toujours",
            body=(
                "Petit rappel : votre colis {{ order_name }} vous attend toujours"
                "{% if pickup_point %} chez {{ pickup_point.name }}{% endif %}.\n\n"
                "Passé le délai de garde, il nous sera renvoyé : passez le chercher dès que "
                "possible."
            ),
            cta="Voir le point de retrait",
            sms="{{ shop_name }} : rappel, votre colis {{ order_name }} vous attend en point "
            "retrait. {{ tracking_url }}",
            whatsapp="Bonjour {{1}}, rappel : votre colis {{3}} de {{2}} vous attend en point "
            "de retrait. {{4}}",
        ),
        "en": Copy(
            subject="Your parcel {{ order_name }} is still waiting for you",
            body=(
                "A friendly reminder: your parcel {{ order_name }} is still waiting for you"
                "{% if pickup_point %} at {{ pickup_point.name }}{% endif %}.\n\n"
                "After the holding period it will be sent back to us, so please collect it "
                "soon."
            ),
            cta="See the pickup point",
            sms="{{ shop_name }}: reminder, your parcel {{ order_name }} awaits pickup. "
            "{{ tracking_url }}",
            whatsapp="Hello {{1}}, a reminder: your parcel {{3}} from {{2}} is waiting for "
            "pickup. {{4}}",
        ),
    },
    Milestone.LATE: {
        "fr": Copy(
            subject="Votre colis {{ order_name }} est en retard",
            body=(
                "Votre colis {{ order_name }} aurait dû arriver"
                "{% if estimated_delivery %} le {{ estimated_delivery }}{% endif %} et ce n'est "
                "pas encore le cas. Nous en sommes désolés.\n\n"
                "Nous suivons la situation de près avec {{ carrier or 'le transporteur' }}."
            ),
            cta=_TRACK_FR,
            sms="{{ shop_name }} : votre colis {{ order_name }} est en retard, désolés ! "
            "Suivi : {{ tracking_url }}",
            whatsapp="Bonjour {{1}}, votre colis {{3}} de {{2}} est en retard, désolés ! "
            "Suivi : {{4}}",
        ),
        "en": Copy(
            subject="Your parcel {{ order_name }} is late",
            body=(
                "Your parcel {{ order_name }} should have arrived"
                "{% if estimated_delivery %} on {{ estimated_delivery }}{% endif %} and it has "
                "not yet. We are sorry about that.\n\n"
                "We are following it closely with {{ carrier or 'the carrier' }}."
            ),
            cta=_TRACK_EN,
            sms="{{ shop_name }}: sorry, your parcel {{ order_name }} is late. "
            "Track it: {{ tracking_url }}",
            whatsapp="Hello {{1}}, sorry, your parcel {{3}} from {{2}} is late. Track it: {{4}}",
        ),
    },
    Milestone.FEEDBACK_REQUEST: {
        "fr": Copy(
            subject="Alors, cette livraison {{ order_name }} ?",
            body=(
                "Votre colis {{ order_name }} est arrivé il y a quelques jours. Nous aimerions "
                "beaucoup savoir comment tout s'est passé.\n\n"
                "Cela ne prend qu'un instant, et vos mots nous aident vraiment à "
                "nous améliorer."
            ),
            cta="Donner mon avis",
            sms="{{ shop_name }} : comment s'est passée la livraison de {{ order_name }} ? "
            "{{ tracking_url }}",
            whatsapp="Bonjour {{1}}, comment s'est passée la livraison de votre commande {{3}} "
            "chez {{2}} ? {{4}}",
        ),
        "en": Copy(
            subject="How did your delivery {{ order_name }} go?",
            body=(
                "Your parcel {{ order_name }} arrived a few days ago. We would love to hear "
                "how everything went.\n\n"
                "It only takes a moment, and your words truly help us do better."
            ),
            cta="Share my feedback",
            sms="{{ shop_name }}: how did the delivery of {{ order_name }} go? {{ tracking_url }}",
            whatsapp="Hello {{1}}, how did the delivery of your order {{3}} at {{2}} go? {{4}}",
        ),
    },
}


def default_copy(milestone: Milestone, locale: str) -> Copy:
    """The default copy for a milestone in ``locale`` (French when unknown)."""
    by_locale = DEFAULT_COPY[milestone]
    return by_locale.get(locale) or by_locale[DEFAULT_LOCALE]


# Messages that are not about a milestone: a shopper's reply forwarded to the merchant, and
# the acknowledgement the shopper gets.
FORWARD_SUBJECT = {
    "fr": "Message de {{ sender }}{% if order_name %} à propos de {{ order_name }}{% endif %}",
    "en": "Message from {{ sender }}{% if order_name %} about {{ order_name }}{% endif %}",
}
FORWARD_BODY = {
    "fr": "Un client vous a écrit par {{ channel_label }} depuis le {{ sender }}"
    "{% if order_name %}, à propos de sa commande {{ order_name }}{% endif %} :\n\n"
    "« {{ shopper_message }} »\n\n"
    "Nous lui avons répondu que vous revenez vers lui au plus vite. Répondez à cet e-mail pour "
    "lui écrire, ou contactez-le à ce numéro.",
    "en": "A customer wrote to you by {{ channel_label }} from {{ sender }}"
    "{% if order_name %} about their order {{ order_name }}{% endif %}:\n\n"
    "“{{ shopper_message }}”\n\n"
    "We told them you will get back to them soon. Reply to this email to write to them, or "
    "contact them on this number.",
}
ACKNOWLEDGEMENT = {
    "fr": "{{ shop_name }} : merci pour votre message ! Nous vous répondons au plus vite.",
    "en": "{{ shop_name }}: thank you for your message! We will get back to you soon.",
}

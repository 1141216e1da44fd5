"""Admin forms: validated on the server, errors in the merchant's language, secrets encrypted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import select, text

from plugin.admin.i18n import MESSAGES
from plugin.admin.milestones import milestone_settings
from plugin.admin.models import ShopChannelCredentials
from plugin.admin.settings import get_branding, get_feedback, get_upsell
from plugin.models import Shop
from plugin.notifications.settings import get_settings
from tests.admin.conftest import SENDGRID_KEY, SENDGRID_READONLY_KEY, TWILIO_SID, TWILIO_TOKEN


def shop_row(runtime, shop_id: int) -> Shop:
    with runtime.db.session() as session:
        return session.get(Shop, shop_id)


def test_every_text_exists_in_french_and_english():
    assert set(MESSAGES["fr"]) == set(MESSAGES["en"])
    assert all(MESSAGES["fr"].values()) and all(MESSAGES["en"].values())


# --- branding ----------------------------------------------------------------------------


def test_branding_is_saved_when_valid(api, installed, runtime):
    response = api(
        "POST",
        "/api/admin/branding",
        {
            "sender_name": "Maison Lumière",
            "support_email": "Service@Maison-Lumiere.fr",
            "logo_url": "https://cdn.shopify.com/s/files/1/logo.png",
            "primary_color": "#1F3A5F",
            "accent_color": "#abc",
        },
    )
    assert response.status_code == 200, response.json
    assert response.json["message"] == "Modifications enregistrées."
    branding = get_branding(shop_row(runtime, installed.id))
    assert branding.support_email == "service@maison-lumiere.fr"
    assert branding.accent_color == "#aabbcc"
    # The storefront reads the same keys.
    assert shop_row(runtime, installed.id).settings["branding"]["primary_color"] == "#1f3a5f"


def test_branding_errors_say_what_is_wrong_in_the_merchants_language(api, installed, runtime):
    bad = {
        "support_email": "no-reply@maison.fr",
        "logo_url": "http://x.fr/logo.png",
        "primary_color": "blue",
    }
    french = api("POST", "/api/admin/branding", bad, locale="fr-FR")
    assert french.status_code == 422
    assert french.json["errors"]["support_email"].startswith("Une adresse « no-reply »")
    assert french.json["errors"]["logo_url"] == "Indiquez une adresse commençant par https://."
    assert (
        french.json["errors"]["primary_color"] == "Couleur invalide : utilisez le format #RRGGBB."
    )

    english = api("POST", "/api/admin/branding", {"support_email": "not an email"}, locale="en-US")
    assert english.json["errors"]["support_email"] == "Invalid email address."
    assert get_branding(shop_row(runtime, installed.id)).support_email is None  # nothing saved


# --- channels ----------------------------------------------------------------------------


def test_sendgrid_key_is_checked_live_and_stored_encrypted(api, installed, runtime, providers):
    refused = api(
        "POST",
        "/api/admin/channels/email",
        {
            "api_key": "SG.wrongwrongwrongwrong.wrongwrongwrongwrongwrong",
            "sender_email": "bonjour@maison-lumiere.fr",
        },
    )
    assert refused.status_code == 422
    assert refused.json["errors"]["api_key"] == "SendGrid refuse cette clé."

    no_send = api(
        "POST",
        "/api/admin/channels/email",
        {"api_key": SENDGRID_READONLY_KEY, "sender_email": "bonjour@maison-lumiere.fr"},
        locale="en",
    )
    assert (
        no_send.json["errors"]["api_key"] == 'This key cannot send email ("Mail Send" permission).'
    )

    ok = api(
        "POST",
        "/api/admin/channels/email",
        {"api_key": SENDGRID_KEY, "sender_email": "bonjour@maison-lumiere.fr"},
    )
    assert ok.status_code == 200, ok.json
    assert ok.json["details"]["sender_verified"] is True
    with runtime.db.session() as session:
        raw = session.execute(
            text("SELECT secrets_encrypted, details FROM shop_channel_credentials")
        ).one()
    assert SENDGRID_KEY not in raw.secrets_encrypted and SENDGRID_KEY not in str(raw.details)
    assert any(r.path == "/v3/scopes" for r in providers.requests)

    # Saving again without retyping the key keeps the stored one.
    again = api(
        "POST",
        "/api/admin/channels/email",
        {"api_key": "", "sender_email": "bonjour@maison-lumiere.fr"},
    )
    assert again.status_code == 200


def test_twilio_account_is_checked_and_whatsapp_needs_it(api, installed, runtime):
    whatsapp_first = api("POST", "/api/admin/channels/whatsapp", {"sender": "+33612345678"})
    assert (
        whatsapp_first.json["errors"]["sender"]
        == "Enregistrez d'abord votre compte Twilio dans la section SMS."
    )

    formats = api(
        "POST",
        "/api/admin/channels/sms",
        {"account_sid": "123", "auth_token": "x", "sender": "a very long sender name"},
    )
    assert set(formats.json["errors"]) == {"account_sid", "auth_token", "sender"}

    wrong = api(
        "POST",
        "/api/admin/channels/sms",
        {"account_sid": TWILIO_SID, "auth_token": "e" * 32, "sender": "MaisonLum"},
    )
    assert wrong.json["errors"]["auth_token"] == "Twilio refuse ce SID et ce token."

    ok = api(
        "POST",
        "/api/admin/channels/sms",
        {"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN, "sender": "MaisonLum"},
    )
    assert ok.status_code == 200, ok.json

    bad_template = api(
        "POST",
        "/api/admin/channels/whatsapp",
        {"sender": "+33612345678", "template_out_for_delivery": "HXnothex"},
    )
    assert bad_template.json["errors"]["template_out_for_delivery"].startswith(
        "Un identifiant de modèle"
    )
    good = api(
        "POST",
        "/api/admin/channels/whatsapp",
        {"sender": "+33 6 12 34 56 78", "template_out_for_delivery": "HX" + "a" * 32},
    )
    assert good.status_code == 200, good.json
    assert good.json["details"]["sender"] == "+33612345678"

    removed = api("DELETE", "/api/admin/channels/whatsapp")
    assert removed.status_code == 200
    with runtime.db.session() as session:
        assert session.get(ShopChannelCredentials, (installed.id, "whatsapp")) is None


def _pass_certificate(*, days: int = 365, uid: str = "pass.com.maison-lumiere.order"):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.USER_ID, uid),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Pass Type ID: {uid}"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "MAISON1234"),
        ]
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=400))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret"),
    ).decode()
    return cert_pem, key_pem


def test_wallet_certificates_are_checked(api, installed, runtime):
    cert_pem, key_pem = _pass_certificate()
    other_cert, _ = _pass_certificate()
    expired_cert, expired_key = _pass_certificate(days=-1)

    assert (
        api(
            "POST",
            "/api/admin/channels/wallet",
            {"certificate_pem": "hello", "key_pem": key_pem, "key_password": "s3cret"},
        )
        .json["errors"]["certificate_pem"]
        .startswith("Collez un certificat")
    )
    assert (
        api(
            "POST",
            "/api/admin/channels/wallet",
            {"certificate_pem": cert_pem, "key_pem": key_pem, "key_password": "wrong"},
        ).json["errors"]["key_password"]
        == "Mot de passe de la clé incorrect."
    )
    assert (
        api(
            "POST",
            "/api/admin/channels/wallet",
            {"certificate_pem": other_cert, "key_pem": key_pem, "key_password": "s3cret"},
        ).json["errors"]["key_pem"]
        == "Cette clé ne correspond pas au certificat."
    )
    expired = api(
        "POST",
        "/api/admin/channels/wallet",
        {"certificate_pem": expired_cert, "key_pem": expired_key, "key_password": "s3cret"},
        locale="en",
    )
    assert expired.json["errors"]["certificate_pem"].startswith("This certificate expired on")

    ok = api(
        "POST",
        "/api/admin/channels/wallet",
        {"certificate_pem": cert_pem, "key_pem": key_pem, "key_password": "s3cret"},
    )
    assert ok.status_code == 200, ok.json
    assert ok.json["details"]["pass_type_identifier"] == "pass.com.maison-lumiere.order"
    assert ok.json["details"]["team_id"] == "MAISON1234"
    with runtime.db.session() as session:
        row = session.scalar(
            select(ShopChannelCredentials).where(ShopChannelCredentials.channel == "wallet")
        )
    assert "PRIVATE KEY" not in row.secrets_encrypted


# --- messages per milestone ----------------------------------------------------------------


def test_milestone_copy_is_validated_and_previewed(api, installed, runtime):
    bad = api(
        "POST",
        "/api/admin/messages/out_for_delivery",
        {
            "enabled": "on",
            "rank_sms": "1",
            "rank_email": "1",
            "copy_channel": "sms",
            "body_fr": "Bonjour {{ prenom }}",
            "body_en": "Hello {{ first_name",
        },
    )
    assert bad.status_code == 422
    errors = bad.json["errors"]
    assert errors["channels"] == "Chaque rang ne peut servir qu'une fois."
    assert errors["body_fr"].startswith("Champ inconnu : prenom. Champs disponibles : ")
    assert "{{ first_name }}" in errors["body_fr"]
    assert errors["body_en"] == (
        "Texte illisible ligne 1 : écrivez les champs comme {{ first_name }}."
    )

    nothing = api("POST", "/api/admin/messages/delivered", {"enabled": "on"}, locale="en")
    assert nothing.json["errors"]["channels"] == (
        "Choose at least one channel, or do not notify for this step."
    )

    ok = api(
        "POST",
        "/api/admin/messages/out_for_delivery",
        {
            "enabled": "on",
            "rank_sms": "1",
            "rank_wallet": "2",
            "copy_channel": "sms",
            "body_fr": "{{ first_name }}, votre colis {{ order_name }} arrive aujourd'hui",
            "body_en": "{{ first_name }}, parcel {{ order_name }} arrives today",
        },
    )
    assert ok.status_code == 200, ok.json
    store = milestone_settings(runtime.config)
    with runtime.db.session() as session:
        plan = store.plans(session, session.get(Shop, installed.id))["out_for_delivery"]
    assert plan.channels == ("sms", "wallet")
    assert plan.copies[("sms", "fr")].body.startswith("{{ first_name }}, votre colis")

    preview = api(
        "POST",
        "/api/admin/messages/out_for_delivery/preview",
        {
            "copy_channel": "email",
            "language": "fr",
            "subject_fr": "{{ shop_name }} : c'est pour aujourd'hui",
            "body_fr": "Bonjour {{ first_name }} <b>!</b>",
        },
    )
    assert preview.status_code == 200, preview.json
    assert preview.json["subject"] == "Maison Lumière : c'est pour aujourd'hui"
    assert "Camille" in (preview.json["html"] or preview.json["text"])


def test_the_messages_page_lists_every_milestone(client, installed, sign):
    response = client.get(
        f"/settings/messages?shop={installed.domain}&locale=en&id_token={sign(installed.domain)}"
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for name in ("Out for delivery", "Ready for pickup", "Delivered", "Past the expected date"):
        assert name in html


# --- upsell and feedback --------------------------------------------------------------------


def test_upsell_collection_and_discount_are_checked_in_shopify(api, installed, runtime, standin):
    shop = standin.shop(installed.domain)
    shop.collections["best-sellers"] = {
        "id": "gid://shopify/Collection/1",
        "handle": "best-sellers",
        "title": "Best-sellers",
        "productsCount": {"count": 12},
    }
    shop.collections["vide"] = {
        "id": "gid://shopify/Collection/2",
        "handle": "vide",
        "title": "Vide",
        "productsCount": {"count": 0},
    }
    shop.discounts["MERCI10"] = {
        "id": "gid://shopify/DiscountCodeNode/1",
        "codeDiscount": {
            "__typename": "DiscountCodeBasic",
            "title": "Merci",
            "status": "ACTIVE",
            "endsAt": None,
        },
    }
    shop.discounts["ETE"] = {
        "id": "gid://shopify/DiscountCodeNode/2",
        "codeDiscount": {
            "__typename": "DiscountCodeBasic",
            "title": "Été",
            "status": "EXPIRED",
            "endsAt": "2025-09-01T00:00:00Z",
        },
    }

    unknown = api(
        "POST",
        "/api/admin/upsell",
        {"enabled": "on", "fallback_collection": "nope", "discount_code": "ete", "limit": "4"},
    )
    assert unknown.status_code == 422
    assert (
        unknown.json["errors"]["fallback_collection"]
        == "Aucune collection « nope » dans votre boutique."
    )
    assert unknown.json["errors"]["discount_code"] == "Le code « ETE » n'est pas actif."

    empty = api(
        "POST",
        "/api/admin/upsell",
        {"fallback_collection": "vide", "limit": "9", "delay_days": "0"},
        locale="en",
    )
    assert empty.json["errors"]["limit"] == "Enter a number between 1 and 8."
    assert empty.json["errors"]["delay_days"] == "Enter a number between 1 and 30."

    ok = api(
        "POST",
        "/api/admin/upsell",
        {
            "enabled": "on",
            "fallback_collection": "best-sellers",
            "discount_code": "merci10",
            "discount_text_fr": "-10 % sur votre prochaine commande",
            "limit": "3",
            "feedback_enabled": "on",
            "delay_days": "5",
        },
    )
    assert ok.status_code == 200, ok.json
    shop_now = shop_row(runtime, installed.id)
    assert get_upsell(shop_now).discount_code == "MERCI10"
    assert get_upsell(shop_now).limit == 3
    with runtime.db.session() as session:
        assert get_settings(session, installed.id).thresholds.feedback_days == 5

    standin.fail_next(503, times=10)
    down = api("POST", "/api/admin/upsell", {"fallback_collection": "best-sellers", "limit": "3"})
    assert (
        down.json["errors"]["fallback_collection"]
        == "Shopify ne répond pas pour le moment ; réessayez dans un instant."
    )


def test_feedback_settings_are_checked_and_stored_where_feedback_reads_them(
    api, client, sign, installed, runtime
):
    from plugin.insights.feedback import is_high, is_low, scale_of

    refused = api(
        "POST",
        "/api/admin/upsell",
        {
            "feedback_enabled": "on",
            "delay_days": "31",
            "scale": "out-of-ten",
            "review_url": "http://avis.example/maison",
            "referral_text_fr": "x" * 301,
        },
    )
    assert refused.status_code == 422
    assert set(refused.json["errors"]) == {"delay_days", "scale", "review_url", "referral_text_fr"}
    assert refused.json["errors"]["review_url"] == "Indiquez une adresse commençant par https://."
    stars_low = api(
        "POST", "/api/admin/upsell", {"scale": "stars", "low_at_most": "4"}, locale="en"
    )
    assert stars_low.json["errors"]["low_at_most"] == "Enter a number between 1 and 3."

    ok = api(
        "POST",
        "/api/admin/upsell",
        {
            "feedback_enabled": "on",
            "delay_days": "7",
            "scale": "nps",
            "low_at_most": "4",
            "review_url": "https://avis.example/maison-lumiere",
            "referral_text_fr": "Parrainez un ami : -15 %",
            "referral_text_en": "Refer a friend: 15% off",
        },
    )
    assert ok.status_code == 200, ok.json
    shop_now = shop_row(runtime, installed.id)
    choice = get_feedback(shop_now)
    assert (choice.scale, choice.low_at_most) == ("nps", 4)
    assert choice.review_url == "https://avis.example/maison-lumiere"
    assert choice.referral_text == {
        "fr": "Parrainez un ami : -15 %",
        "en": "Refer a friend: 15% off",
    }
    assert scale_of(shop_now) == "nps"
    assert is_low(shop_now, "nps", 4) and not is_low(shop_now, "nps", 5)
    assert is_high("nps", 9)
    with runtime.db.session() as session:
        assert get_settings(session, installed.id).thresholds.feedback_days == 7

    off = api("POST", "/api/admin/upsell", {"delay_days": "7", "scale": "stars"})
    assert off.status_code == 200, off.json
    shop_now = shop_row(runtime, installed.id)
    assert get_feedback(shop_now).low_at_most is None  # the default of the new scale
    assert is_low(shop_now, "stars", 2) and not is_low(shop_now, "stars", 3)
    with runtime.db.session() as session:
        assert get_settings(session, installed.id).thresholds.feedback_days == 0

    token = sign(installed.domain)
    page = client.get(
        f"/settings/upsell?shop={installed.domain}&host=YWRtaW4&embedded=1&locale=en"
        f"&id_token={token}"
    )
    assert page.status_code == 200
    assert "Rating scale" in page.text and '<option value="stars" selected>' in page.text


def test_without_notifications_the_choices_are_kept_on_the_shop(installed, runtime):
    from plugin.admin.milestones import Copy, ShopSettingsMilestones

    store = ShopSettingsMilestones()
    with runtime.db.transaction() as session:
        shop = session.get(Shop, installed.id)
        assert store.save_plan(session, shop, "delivered", False, ("email",)) == []
        store.save_copy(session, shop, "delivered", "sms", "fr", Copy(None, "{{ first_name }} !"))
    with runtime.db.session() as session:
        shop = session.get(Shop, installed.id)
        plan = store.plans(session, shop)["delivered"]
        preview = store.preview(
            session, shop, "delivered", "sms", "fr", Copy(None, "Salut {{ first_name }}")
        )
    assert (plan.enabled, plan.channels) == (False, ("email",))
    assert plan.copies[("sms", "fr")].body == "{{ first_name }} !"
    assert plan.copies[("email", "en")].subject  # a default for what was never written
    assert preview.text == "Salut Camille" and not preview.problems

"""A shop's own channel accounts: checked when saved, stored encrypted.

Secrets (API keys, tokens, the Wallet private key) are encrypted with the token key
(:class:`plugin.shopify.crypto.SecretBox`); what the admin shows (sender, template ids,
certificate expiry) stays readable. Notifications read them with :func:`load_credentials`.

Checks when saved: formats, the Wallet certificate (parsed, in date, a Pass Type ID, matching
its key), and a live call to SendGrid or Twilio through :class:`ProviderCheck`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import phonenumbers
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from plugin.admin.forms import EMAIL, Errors, text_value
from plugin.admin.models import ShopChannelCredentials
from plugin.config import Config
from plugin.db import utcnow
from plugin.errors import RelaisError
from plugin.shopify.crypto import SecretBox

log = logging.getLogger(__name__)

CHANNELS = ("email", "sms", "whatsapp", "wallet")
# Milestones urgent enough for WhatsApp; each needs a template Meta approved.
WHATSAPP_MILESTONES = ("out_for_delivery", "attempted_delivery", "ready_for_pickup", "delayed")
SENDGRID_API = "https://api.sendgrid.com"
TWILIO_API = "https://api.twilio.com"
PROVIDER_TIMEOUT = httpx.Timeout(10.0, connect=5.0)

_SENDGRID_KEY = re.compile(r"^SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}$")
_TWILIO_SID = re.compile(r"^AC[0-9a-f]{32}$")
_TWILIO_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_MESSAGING_SERVICE = re.compile(r"^MG[0-9a-f]{32}$")
_ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_CONTENT_SID = re.compile(r"^HX[0-9a-f]{32}$")


class ProviderUnavailable(RelaisError):
    """The provider did not answer (timeout, 5xx): nothing can be concluded."""


class ProviderCheck(Protocol):
    """Live checks of a merchant's provider accounts."""

    def sendgrid_scopes(self, api_key: str) -> list[str] | None:
        """The key's permissions, or None when SendGrid refuses the key."""
        ...

    def sendgrid_sender_verified(self, api_key: str, email: str) -> bool: ...

    def twilio_account_ok(self, account_sid: str, auth_token: str) -> bool: ...


class HttpProviderCheck:
    """The real checks, over HTTPS with timeouts (hosts configurable for local stand-ins)."""

    def __init__(
        self,
        *,
        sendgrid_host: str | None = None,
        twilio_base_url: str | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.sendgrid_host = (sendgrid_host or SENDGRID_API).rstrip("/")
        self.twilio_base_url = (twilio_base_url or TWILIO_API).rstrip("/")
        self.client = client or httpx.Client(timeout=PROVIDER_TIMEOUT)

    @classmethod
    def from_config(cls, config: Config) -> HttpProviderCheck:
        return cls(sendgrid_host=config.sendgrid_host, twilio_base_url=config.twilio_base_url)

    def _get(self, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.client.get(url, **kwargs)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(str(exc)) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise ProviderUnavailable(f"HTTP {response.status_code}")
        return response

    def sendgrid_scopes(self, api_key: str) -> list[str] | None:
        response = self._get(
            f"{self.sendgrid_host}/v3/scopes", headers={"Authorization": f"Bearer {api_key}"}
        )
        if response.status_code in (401, 403):
            return None
        scopes = response.json().get("scopes") if response.status_code == 200 else None
        return [str(s) for s in scopes] if isinstance(scopes, list) else None

    def sendgrid_sender_verified(self, api_key: str, email: str) -> bool:
        response = self._get(
            f"{self.sendgrid_host}/v3/verified_senders",
            headers={"Authorization": f"Bearer {api_key}"},
        )
        if response.status_code != 200:
            return False
        results = response.json().get("results") or []
        return any(
            isinstance(r, dict)
            and str(r.get("from_email", "")).lower() == email.lower()
            and r.get("verified") is True
            for r in results
        )

    def twilio_account_ok(self, account_sid: str, auth_token: str) -> bool:
        response = self._get(
            f"{self.twilio_base_url}/2010-04-01/Accounts/{account_sid}.json",
            auth=(account_sid, auth_token),
        )
        return response.status_code == 200


@dataclass(frozen=True)
class StoredCredentials:
    """One channel's credentials of one shop, decrypted."""

    channel: str
    details: Mapping[str, Any]
    secrets: Mapping[str, str]
    verified_at: datetime | None


@dataclass
class Checked:
    """What a channel form became: details and secrets to store, or errors to show."""

    details: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    errors: Errors = field(default_factory=Errors)


# --- storage --------------------------------------------------------------------------------


def load_credentials(
    session: Session, box: SecretBox, shop_id: int, channel: str
) -> StoredCredentials | None:
    """The shop's credentials for ``channel`` (secrets decrypted), or None."""
    row = session.get(ShopChannelCredentials, (shop_id, channel))
    if row is None:
        return None
    secrets = json.loads(box.decrypt(row.secrets_encrypted)) if row.secrets_encrypted else {}
    return StoredCredentials(channel, dict(row.details or {}), secrets, row.verified_at)


def channel_details(session: Session, shop_id: int) -> dict[str, dict[str, Any]]:
    """What the admin shows of every channel (nothing secret), by channel."""
    rows = session.scalars(
        select(ShopChannelCredentials).where(ShopChannelCredentials.shop_id == shop_id)
    )
    return {row.channel: dict(row.details or {}) for row in rows}


def save_credentials(
    session: Session, box: SecretBox, shop_id: int, channel: str, checked: Checked
) -> None:
    row = session.get(ShopChannelCredentials, (shop_id, channel))
    if row is None:
        row = ShopChannelCredentials(shop_id=shop_id, channel=channel)
        session.add(row)
    row.details = checked.details
    row.secrets_encrypted = box.encrypt(json.dumps(checked.secrets)) if checked.secrets else None
    row.verified_at = utcnow()


def remove_credentials(session: Session, shop_id: int, channel: str) -> None:
    session.execute(
        delete(ShopChannelCredentials).where(
            ShopChannelCredentials.shop_id == shop_id, ShopChannelCredentials.channel == channel
        )
    )


# --- checks per channel ---------------------------------------------------------------------


def _secret(
    form: Mapping[str, Any],
    name: str,
    current: StoredCredentials | None,
    errors: Errors,
    *,
    max_length: int = 200,
) -> str | None:
    """A secret field: a new value, or the stored one when left empty."""
    value = text_value(form, name, errors, max_length=max_length, single_line=name != "key_pem")
    if value is None and current is not None:
        return current.secrets.get(name)
    if value is None:
        errors.add(name, "error_required")
    return value


def check_email(
    form: Mapping[str, Any], current: StoredCredentials | None, providers: ProviderCheck
) -> Checked:
    checked = Checked()
    errors = checked.errors
    api_key = _secret(form, "api_key", current, errors)
    sender = text_value(form, "sender_email", errors, max_length=320, required=True)
    if sender and not EMAIL.match(sender):
        errors.add("sender_email", "error_email")
    if api_key and not _SENDGRID_KEY.match(api_key):
        errors.add("api_key", "error_sendgrid_key_format")
    if errors or not api_key or not sender:
        return checked
    try:
        scopes = providers.sendgrid_scopes(api_key)
        if scopes is None:
            errors.add("api_key", "error_sendgrid_key_refused")
            return checked
        if "mail.send" not in scopes:
            errors.add("api_key", "error_sendgrid_key_scope")
            return checked
        verified = providers.sendgrid_sender_verified(api_key, sender)
    except ProviderUnavailable:
        errors.add("api_key", "error_provider_unavailable", provider="SendGrid")
        return checked
    checked.secrets = {"api_key": api_key}
    checked.details = {
        "sender_email": sender.lower(),
        "sender_verified": verified,
        "sender_checked_at": utcnow().isoformat(),
        "key_hint": api_key[:6] + "…",
    }
    return checked


def check_sms(
    form: Mapping[str, Any], current: StoredCredentials | None, providers: ProviderCheck
) -> Checked:
    checked = Checked()
    errors = checked.errors
    sid = text_value(form, "account_sid", errors, max_length=34, required=True)
    if sid and not _TWILIO_SID.match(sid):
        errors.add("account_sid", "error_twilio_sid_format")
    token = _secret(form, "auth_token", current, errors, max_length=32)
    if token and not _TWILIO_TOKEN.match(token):
        errors.add("auth_token", "error_twilio_token_format")
    sender = text_value(form, "sender", errors, max_length=34, required=True)
    if sender and not (
        _MESSAGING_SERVICE.match(sender) or _ALPHANUMERIC_SENDER.match(sender) or _e164(sender)
    ):
        errors.add("sender", "error_sms_sender")
    if errors or not sid or not token or not sender:
        return checked
    try:
        if not providers.twilio_account_ok(sid, token):
            errors.add("auth_token", "error_twilio_refused")
            return checked
    except ProviderUnavailable:
        errors.add("auth_token", "error_provider_unavailable", provider="Twilio")
        return checked
    checked.secrets = {"account_sid": sid, "auth_token": token}
    checked.details = {"account_sid": sid, "sender": _e164(sender) or sender}
    return checked


def check_whatsapp(form: Mapping[str, Any], twilio: StoredCredentials | None) -> Checked:
    checked = Checked()
    errors = checked.errors
    if twilio is None:
        errors.add("sender", "error_twilio_needed")
        return checked
    raw_sender = text_value(form, "sender", errors, max_length=20, required=True)
    sender = _e164(raw_sender) if raw_sender else None
    if raw_sender and not sender:
        errors.add("sender", "error_phone")
    templates = {}
    for milestone in WHATSAPP_MILESTONES:
        name = f"template_{milestone}"
        value = text_value(form, name, errors, max_length=34)
        if value and not _CONTENT_SID.match(value):
            errors.add(name, "error_template_sid")
        elif value:
            templates[milestone] = value
    if not errors:
        checked.details = {"sender": sender, "templates": templates}
    return checked


def check_wallet(
    form: Mapping[str, Any], current: StoredCredentials | None, now: datetime | None = None
) -> Checked:
    checked = Checked()
    errors = checked.errors
    cert_pem = text_value(form, "certificate_pem", errors, max_length=20000, single_line=False)
    key_pem = _secret(form, "key_pem", current, errors, max_length=20000)
    password = text_value(form, "key_password", errors, max_length=200) or (
        current.secrets.get("key_password") if current else None
    )
    if cert_pem is None and current is not None:
        cert_pem = current.secrets.get("certificate_pem")
    if cert_pem is None:
        errors.add("certificate_pem", "error_required")
    if errors or not cert_pem or not key_pem:
        return checked
    try:
        certificate = x509.load_pem_x509_certificate(cert_pem.encode())
    except ValueError:
        errors.add("certificate_pem", "error_pem_certificate")
        return checked
    try:
        key = serialization.load_pem_private_key(
            key_pem.encode(), password.encode() if password else None
        )
    except TypeError:
        errors.add("key_password", "error_key_password")
        return checked
    except ValueError:
        # Also raised for a wrong password on an encrypted key.
        field_name = "key_password" if "ENCRYPTED" in key_pem else "key_pem"
        errors.add(
            field_name, "error_key_password" if field_name == "key_password" else "error_pem_key"
        )
        return checked
    if key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        errors.add("key_pem", "error_key_mismatch")
        return checked
    until = certificate.not_valid_after_utc
    if until <= (now or datetime.now(UTC)):
        errors.add("certificate_pem", "error_certificate_expired", until=until.date().isoformat())
        return checked
    pass_type = _name_attribute(certificate, NameOID.USER_ID)
    if not pass_type or not pass_type.startswith("pass."):
        errors.add("certificate_pem", "error_not_pass_certificate")
        return checked
    checked.secrets = {"certificate_pem": cert_pem, "key_pem": key_pem}
    if password:
        checked.secrets["key_password"] = password
    checked.details = {
        "pass_type_identifier": pass_type,
        "team_id": _name_attribute(certificate, NameOID.ORGANIZATIONAL_UNIT_NAME),
        "not_after": until.isoformat(),
    }
    return checked


def _name_attribute(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    values = certificate.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def _e164(value: str | None) -> str | None:
    """``value`` as an E.164 number if it is a valid international number."""
    if not value or not value.strip().startswith("+"):
        return None
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

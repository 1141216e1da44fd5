"""Configuration read from the environment, checked once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from plugin.errors import ConfigError

DEFAULT_INSTANCE_DIR = "instance"
EMAIL_BACKENDS = ("sendgrid", "smtp", "outbox")
SMS_BACKENDS = ("twilio", "outbox")


@dataclass(frozen=True)
class Config:
    """Everything Relais reads from its environment.

    Build it with :meth:`from_env`; tests use :meth:`for_tests` or ``dataclasses.replace``.
    """

    shopify_api_key: str
    shopify_api_secret: str
    app_url: str
    secret_key: str
    database_url: str
    redis_url: str | None = None
    shopify_old_api_secret: str | None = None
    instance_dir: str = DEFAULT_INSTANCE_DIR
    port: int = 8000
    email_backend: str = "outbox"
    sms_backend: str = "outbox"
    sendgrid_api_key: str | None = None
    sendgrid_host: str | None = None
    smtp_url: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_base_url: str | None = None
    # Operator defaults of notifications (a merchant's own sender settings override them).
    notifications_from_email: str | None = None  # default notifications@<APP_URL host>
    twilio_sms_from: str | None = None  # a number, an alphanumeric id or an MG... service
    twilio_whatsapp_from: str | None = None
    sendgrid_webhook_public_key: str | None = None  # Event Webhook key, base64 DER
    notifications_send_timeout: float = 10.0  # seconds allowed to each provider call
    notifications_lease_seconds: float = 30.0  # how long a send attempt owns its message
    notifications_max_attempts: int = 6  # attempts before a message is marked failed
    pass_type_identifier: str = "pass.com.relais.order"  # noqa: S105 - an identifier
    order_type_identifier: str = "order.com.relais"
    apple_team_id: str = "RELAISDEV1"
    wallet_certificate: str | None = None
    wallet_key: str | None = None
    wallet_key_password: str | None = None
    wallet_wwdr_certificate: str | None = None
    # The Order Type ID certificate and key (Wallet orders); orders are off without them
    # when WALLET_CERTIFICATE is set (development certificates cover both otherwise).
    wallet_order_certificate: str | None = None
    wallet_order_key: str | None = None
    apns_host: str = "https://api.push.apple.com"
    apns_key_path: str | None = None
    apns_key_id: str | None = None
    # A CA bundle to trust for APNS_HOST (a local stand-in); default: the public CAs.
    apns_ca_file: str | None = None
    token_encryption_key: str | None = None
    # Seconds a stored webhook may stay unprocessed before the sweeper re-enqueues it.
    stuck_delivery_seconds: int = 120
    # Deliveries a shop may queue per minute ahead of other shops; the rest of a burst waits
    # in the "webhooks_bulk" lane, served after every other queue (per-shop fairness).
    shop_burst_per_minute: int = 120
    testing: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Read the configuration; raise :class:`ConfigError` naming every missing value."""
        env = os.environ if environ is None else environ
        missing = [
            name
            for name in ("SHOPIFY_API_KEY", "SHOPIFY_API_SECRET", "APP_URL", "SECRET_KEY")
            if not env.get(name)
        ]
        if missing:
            raise ConfigError(
                "missing required environment variable(s): "
                + ", ".join(missing)
                + " (see the configuration table in README.md)"
            )
        instance_dir = env.get("RELAIS_INSTANCE_DIR", DEFAULT_INSTANCE_DIR)
        database_url = env.get("DATABASE_URL") or _default_sqlite_url(instance_dir)
        config = cls(
            shopify_api_key=env["SHOPIFY_API_KEY"],
            shopify_api_secret=env["SHOPIFY_API_SECRET"],
            shopify_old_api_secret=env.get("SHOPIFY_OLD_API_SECRET") or None,
            app_url=env["APP_URL"].rstrip("/"),
            secret_key=env["SECRET_KEY"],
            database_url=_normalise_database_url(database_url),
            redis_url=env.get("REDIS_URL") or None,
            instance_dir=instance_dir,
            port=_int(env, "PORT", 8000),
            email_backend=env.get("EMAIL_BACKEND", "outbox"),
            sms_backend=env.get("SMS_BACKEND", "outbox"),
            sendgrid_api_key=env.get("SENDGRID_API_KEY") or None,
            sendgrid_host=env.get("SENDGRID_HOST") or None,
            smtp_url=env.get("SMTP_URL") or None,
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or None,
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or None,
            twilio_base_url=env.get("TWILIO_BASE_URL") or None,
            notifications_from_email=env.get("NOTIFICATIONS_FROM_EMAIL") or None,
            twilio_sms_from=env.get("TWILIO_SMS_FROM") or None,
            twilio_whatsapp_from=env.get("TWILIO_WHATSAPP_FROM") or None,
            sendgrid_webhook_public_key=env.get("SENDGRID_WEBHOOK_PUBLIC_KEY") or None,
            notifications_send_timeout=_float(env, "NOTIFICATIONS_SEND_TIMEOUT", 10.0),
            notifications_lease_seconds=_float(env, "NOTIFICATIONS_LEASE_SECONDS", 30.0),
            notifications_max_attempts=_int(env, "NOTIFICATIONS_MAX_ATTEMPTS", 6),
            pass_type_identifier=env.get("PASS_TYPE_IDENTIFIER", cls.pass_type_identifier),
            order_type_identifier=env.get("ORDER_TYPE_IDENTIFIER", cls.order_type_identifier),
            apple_team_id=env.get("APPLE_TEAM_ID", cls.apple_team_id),
            wallet_certificate=env.get("WALLET_CERTIFICATE") or None,
            wallet_key=env.get("WALLET_KEY") or None,
            wallet_key_password=env.get("WALLET_KEY_PASSWORD") or None,
            wallet_wwdr_certificate=env.get("WALLET_WWDR_CERTIFICATE") or None,
            wallet_order_certificate=env.get("WALLET_ORDER_CERTIFICATE") or None,
            wallet_order_key=env.get("WALLET_ORDER_KEY") or None,
            apns_host=env.get("APNS_HOST", cls.apns_host),
            apns_key_path=env.get("APNS_KEY_PATH") or None,
            apns_key_id=env.get("APNS_KEY_ID") or None,
            apns_ca_file=env.get("APNS_CA_FILE") or None,
            token_encryption_key=env.get("TOKEN_ENCRYPTION_KEY") or None,
            stuck_delivery_seconds=_int(env, "RELAIS_STUCK_DELIVERY_SECONDS", 120),
            shop_burst_per_minute=_int(env, "RELAIS_SHOP_BURST_PER_MINUTE", 120),
        )
        config.validate()
        return config

    def validate(self) -> None:
        """Refuse combinations that cannot work, with a message that says how to fix them."""
        problems = []
        if self.email_backend not in EMAIL_BACKENDS:
            problems.append(f"EMAIL_BACKEND must be one of {', '.join(EMAIL_BACKENDS)}")
        if self.sms_backend not in SMS_BACKENDS:
            problems.append(f"SMS_BACKEND must be one of {', '.join(SMS_BACKENDS)}")
        if self.email_backend == "sendgrid" and not self.sendgrid_api_key:
            problems.append("EMAIL_BACKEND=sendgrid needs SENDGRID_API_KEY")
        if self.email_backend == "smtp" and not self.smtp_url:
            problems.append("EMAIL_BACKEND=smtp needs SMTP_URL")
        if self.sms_backend == "twilio" and not (
            self.twilio_account_sid and self.twilio_auth_token
        ):
            problems.append("SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        if self.notifications_lease_seconds <= self.notifications_send_timeout:
            problems.append("NOTIFICATIONS_LEASE_SECONDS must exceed NOTIFICATIONS_SEND_TIMEOUT")
        if self.notifications_max_attempts < 1:
            problems.append("NOTIFICATIONS_MAX_ATTEMPTS must be at least 1")
        if not self.app_url.startswith(("http://", "https://")):
            problems.append("APP_URL must start with http:// or https://")
        if problems:
            raise ConfigError("invalid configuration: " + "; ".join(problems))

    def with_overrides(self, **changes: object) -> Config:
        """A copy with some values changed (tests, the demo)."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ConfigError(f"unknown configuration keys: {sorted(unknown)}")
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def instance_path(self) -> Path:
        path = Path(self.instance_dir).resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path


def _default_sqlite_url(instance_dir: str) -> str:
    path = Path(instance_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path / 'relais.sqlite3'}"


def _normalise_database_url(url: str) -> str:
    # Hosting platforms hand out postgres:// URLs; SQLAlchemy wants the driver spelled out.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from exc

"""The transports and helpers one process uses, built once per app."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from plugin.notifications.options import NotificationOptions
from plugin.notifications.transports import (
    EmailTransport,
    TextTransport,
    build_email_transport,
    build_text_transport,
)
from plugin.notifications.wallet_presence import (
    EXTENSION_KEY as WALLET_PRESENCE_KEY,
)
from plugin.notifications.wallet_presence import (
    NoWalletPresence,
    WalletPresence,
)
from plugin.runtime import Runtime

EXTENSION_KEY = "relais.notifications"


@dataclass
class NotificationServices:
    options: NotificationOptions
    email: EmailTransport
    texts: TextTransport
    wallet: WalletPresence


def build_services(runtime: Runtime, wallet: WalletPresence | None = None) -> NotificationServices:
    """Services for ``runtime``'s configuration (EMAIL_BACKEND, SMS_BACKEND...)."""
    options = NotificationOptions.from_config(runtime.config)
    return NotificationServices(
        options=options,
        email=build_email_transport(runtime.config, runtime.db, timeout=options.send_timeout),
        texts=build_text_transport(runtime.config, runtime.db, timeout=options.send_timeout),
        wallet=wallet or NoWalletPresence(),
    )


def install_services(app: Flask, services: NotificationServices) -> None:
    app.extensions[EXTENSION_KEY] = services


def current_services() -> NotificationServices:
    """The services of the app in context, built on first use."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    services: NotificationServices | None = app.extensions.get(EXTENSION_KEY)
    if services is None:
        services = build_services(app.extensions["relais"])
        app.extensions[EXTENSION_KEY] = services
    wallet = app.extensions.get(WALLET_PRESENCE_KEY)
    if wallet is not None and services.wallet is not wallet:
        services.wallet = wallet  # the Wallet package registered its answer since
    return services

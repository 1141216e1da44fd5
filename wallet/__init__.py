"""Apple Wallet for Relais: order passes (.pkpass), Wallet orders (.order) and APNs pushes.

The library is pure: plain dataclasses in, signed packages and push outcomes out; no
database, no Flask. ``passes`` and ``orders`` build the documents, ``package`` zips and
``signing`` signs them, ``apns`` (over ``http2``) tells devices to fetch updates, and
``devcerts`` makes a local certificate chain for development and tests.

The integration with Relais sits in its own modules, which alone import ``plugin``:
``models`` (tables), ``credentials`` (certificates and APNs auth from the config),
``content`` (an order as pass and Wallet order), ``service`` (registrations, update tags),
``views`` (Apple's web services and the downloads), ``jobs`` (the milestone subscriber
that pushes), ``metrics`` and ``cli`` (``relais wallet dev-certs``).
"""

from __future__ import annotations

from typing import Any

# The key notifications read to ask "does a device follow this order in Wallet?"
# (plugin.notifications.wallet_presence.EXTENSION_KEY).
PRESENCE_EXTENSION_KEY = "relais.wallet_presence"


def init_app(app: Any) -> None:
    """Register the web services, and Wallet's part of privacy, uninstall and order views."""
    from wallet.service import RegisteredDevices, WalletRecords, forget_shop_devices
    from wallet.views import orders_bp, passes_bp

    app.register_blueprint(passes_bp)
    app.register_blueprint(orders_bp)
    runtime = app.extensions["relais"]
    records = WalletRecords()
    runtime.privacy_holders.append(records)
    runtime.order_sections.append(records)
    runtime.uninstall_hooks.append(forget_shop_devices)
    app.extensions[PRESENCE_EXTENSION_KEY] = RegisteredDevices()

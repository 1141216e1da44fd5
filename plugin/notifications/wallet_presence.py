"""Does this order have a Wallet pass installed on a device? (Then the pass update is the
best channel: its push shows on the lock screen.)

The Wallet package answers through :class:`WalletPresence`; until it registers its own
implementation (``app.extensions["relais.wallet_presence"]``), :class:`NoWalletPresence`
answers "no", so notifications fall back to the next channel.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

EXTENSION_KEY = "relais.wallet_presence"


class WalletPresence(Protocol):
    def has_registered_device(self, session: Session, order_id: int) -> bool:
        """True when at least one device registered for updates of this order's pass."""


class NoWalletPresence:
    """The null implementation: no order has a registered device."""

    def has_registered_device(self, session: Session, order_id: int) -> bool:
        return False

"""Encryption at rest for the secrets Relais keeps: Shopify tokens and channel credentials.

Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) with the key in
``TOKEN_ENCRYPTION_KEY``. Several comma-separated keys rotate: the first encrypts, every one
decrypts. Without the variable (development), a key is derived from ``SECRET_KEY`` with HKDF
and a warning is logged: production sets its own key so that a leaked ``SECRET_KEY`` alone
does not open the stored tokens.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from plugin.config import Config
from plugin.errors import ConfigError, RelaisError

log = logging.getLogger(__name__)

_HKDF_SALT = b"relais/token-encryption"
_HKDF_INFO = b"fernet-key-v1"


class SecretUnreadable(RelaisError):
    """A stored secret cannot be decrypted with the configured keys (wrong or rotated key)."""


class SecretBox:
    """Encrypts and decrypts short strings; the ciphertext is URL-safe text."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ConfigError("TOKEN_ENCRYPTION_KEY holds no key")
        try:
            self._fernet = MultiFernet([Fernet(key) for key in keys])
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                "TOKEN_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64 bytes each, "
                'comma-separated); make one with: python -c "from cryptography.fernet import '
                'Fernet; print(Fernet.generate_key().decode())"'
            ) from exc

    @classmethod
    def from_config(cls, config: Config) -> SecretBox:
        """The box for ``config``: its ``TOKEN_ENCRYPTION_KEY``, else a key derived from
        ``SECRET_KEY`` (development only, logged)."""
        if config.token_encryption_key:
            keys = [k.strip().encode() for k in config.token_encryption_key.split(",") if k.strip()]
            return cls(keys)
        if not config.testing:
            log.warning(
                "TOKEN_ENCRYPTION_KEY is not set: the key protecting stored tokens is derived "
                "from SECRET_KEY; set TOKEN_ENCRYPTION_KEY in production"
            )
        return cls([derive_key(config.secret_key)])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode()
        except InvalidToken as exc:
            raise SecretUnreadable(
                "stored secret cannot be decrypted with the current keys"
            ) from exc


def derive_key(secret_key: str) -> bytes:
    """A Fernet key derived from ``secret_key`` with HKDF-SHA256 (stable across restarts)."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO).derive(
        secret_key.encode()
    )
    return base64.urlsafe_b64encode(raw)

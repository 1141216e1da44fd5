"""Which certificates sign passes and orders, and how pushes authenticate, from the config.

Production: ``WALLET_CERTIFICATE``, ``WALLET_KEY`` (``WALLET_KEY_PASSWORD``) and
``WALLET_WWDR_CERTIFICATE`` sign passes; ``WALLET_ORDER_CERTIFICATE`` and
``WALLET_ORDER_KEY`` (same password and WWDR) sign Wallet orders, which are off without
them. APNs uses token authentication when ``APNS_KEY_PATH`` and ``APNS_KEY_ID`` are set,
else the Pass Type ID (or Order Type ID) certificate as TLS client certificate.

Development: with no ``WALLET_CERTIFICATE``, a local chain is generated once into
``<instance>/wallet-dev`` (what ``relais wallet dev-certs`` writes) so that the demo and the
tests run without Apple. Devices refuse those passes; everything else works.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from plugin.config import Config
from plugin.errors import ConfigError
from wallet.apns import CertificateAuth, TokenAuth
from wallet.devcerts import create_dev_certificates
from wallet.models import PASS
from wallet.signing import SigningIdentity, load_identity

log = logging.getLogger(__name__)

DEV_FOLDER = "wallet-dev"


@dataclass(frozen=True)
class CertificateFiles:
    """PEM paths of one signing certificate, its key and the WWDR intermediate."""

    certificate: str
    key: str
    intermediate: str
    password: str | None = None

    def identity(self) -> SigningIdentity:
        # Cached per process on the files' modification times (wallet.signing).
        return load_identity(self.certificate, self.key, self.intermediate, password=self.password)

    def apns_auth(self) -> CertificateAuth:
        return CertificateAuth(self.certificate, self.key, self.password)


@dataclass(frozen=True)
class WalletCredentials:
    """The certificate files of passes and orders (``order`` None: Wallet orders are off)."""

    passes: CertificateFiles
    orders: CertificateFiles | None
    development: bool

    def files(self, kind: str) -> CertificateFiles | None:
        return self.passes if kind == PASS else self.orders


def credentials(config: Config) -> WalletCredentials:
    """The credentials ``config`` names, generating the development chain if needed."""
    return _credentials(
        config.wallet_certificate,
        config.wallet_key,
        config.wallet_key_password,
        config.wallet_wwdr_certificate,
        config.wallet_order_certificate,
        config.wallet_order_key,
        config.instance_dir,
        config.pass_type_identifier,
        config.order_type_identifier,
        config.apple_team_id,
    )


@functools.lru_cache(maxsize=16)
def _credentials(
    certificate: str | None,
    key: str | None,
    password: str | None,
    wwdr: str | None,
    order_certificate: str | None,
    order_key: str | None,
    instance_dir: str,
    pass_type: str,
    order_type: str,
    team: str,
) -> WalletCredentials:
    if certificate:
        missing = [
            name
            for name, value in (("WALLET_KEY", key), ("WALLET_WWDR_CERTIFICATE", wwdr))
            if not value
        ]
        if order_certificate and not order_key:
            missing.append("WALLET_ORDER_KEY")
        if missing:
            raise ConfigError("WALLET_CERTIFICATE also needs " + ", ".join(missing))
        assert key is not None and wwdr is not None
        orders = (
            CertificateFiles(order_certificate, order_key, wwdr, password)
            if order_certificate and order_key
            else None
        )
        return WalletCredentials(CertificateFiles(certificate, key, wwdr, password), orders, False)
    folder = ensure_dev_certificates(
        Path(instance_dir).resolve() / DEV_FOLDER,
        pass_type_identifier=pass_type,
        order_type_identifier=order_type,
        team_identifier=team,
    )
    log.warning(
        "Wallet signs with development certificates from %s: devices will refuse these "
        "passes (set WALLET_CERTIFICATE for real ones)",
        folder,
    )
    wwdr_path = str(folder / "wwdr.pem")
    return WalletCredentials(
        CertificateFiles(
            str(folder / "pass-certificate.pem"), str(folder / "pass-key.pem"), wwdr_path
        ),
        CertificateFiles(
            str(folder / "order-certificate.pem"), str(folder / "order-key.pem"), wwdr_path
        ),
        True,
    )


def ensure_dev_certificates(
    folder: Path,
    *,
    pass_type_identifier: str,
    order_type_identifier: str,
    team_identifier: str,
    force: bool = False,
) -> Path:
    """Create the development chain in ``folder`` unless one for these identifiers is there.

    Several processes start at once (web workers, the worker): a file lock makes one of
    them write the chain and the others read it."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            wanted = {
                "pass": pass_type_identifier,
                "order": order_type_identifier,
            }
            if force or not all(
                _matches(folder, stem, identifier, team_identifier)
                for stem, identifier in wanted.items()
            ):
                create_dev_certificates(
                    folder,
                    pass_type_identifier=pass_type_identifier,
                    order_type_identifier=order_type_identifier,
                    team_identifier=team_identifier,
                )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return folder


def _matches(folder: Path, stem: str, identifier: str, team: str) -> bool:
    paths = [folder / f"{stem}-certificate.pem", folder / f"{stem}-key.pem", folder / "wwdr.pem"]
    if not all(path.is_file() for path in paths):
        return False
    try:
        certificate = x509.load_pem_x509_certificate(paths[0].read_bytes())
    except ValueError:
        return False
    subject = certificate.subject
    uid = subject.get_attributes_for_oid(NameOID.USER_ID)
    unit = subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    return bool(uid and uid[0].value == identifier and unit and unit[0].value == team)


def apns_auth(config: Config, kind: str) -> TokenAuth | CertificateAuth | None:
    """Token authentication when a .p8 key is configured, else the kind's certificate
    (None when that kind is off)."""
    if config.apns_key_path and config.apns_key_id:
        return _token_auth(config.apns_key_path, config.apns_key_id, config.apple_team_id)
    files = credentials(config).files(kind)
    return files.apns_auth() if files is not None else None


@functools.lru_cache(maxsize=8)
def _token_auth(path: str, key_id: str, team_id: str) -> TokenAuth:
    if not os.path.isfile(path):
        raise ConfigError(f"APNS_KEY_PATH {path} does not exist")
    return TokenAuth.from_p8(path, team_id=team_id, key_id=key_id)


def topic(config: Config, kind: str) -> str:
    """The APNs topic of a kind: the pass type or the order type identifier."""
    return config.pass_type_identifier if kind == PASS else config.order_type_identifier

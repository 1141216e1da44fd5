"""A local certificate chain shaped like Apple's, to build and verify packages offline.

root CA -> "WWDR-like" intermediate -> leaf "Pass Type ID: <id>" (and, if asked, a leaf
"Order Type ID: <id>"), with the team id in OU and the type id in UID as Apple issues
them. Wallet on a real device will not trust these; openssl, tests and the local APNs
stand-in do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ORGANIZATION = "Relais development"


@dataclass(frozen=True, slots=True)
class DevCertificates:
    """Paths of the PEM files written by :func:`create_dev_certificates`."""

    root: Path
    intermediate: Path
    pass_certificate: Path
    pass_key: Path
    order_certificate: Path | None = None
    order_key: Path | None = None


def _key() -> rsa.RSAPrivateKey:
    # RSA-2048 like Apple's Pass Type ID certificates, so signatures cost what they will
    # cost in production.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    *,
    ca: bool,
    days: int,
    path_length: int | None = None,
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(usage, critical=True)
    else:
        usage = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
        # clientAuth: the same certificate authenticates to APNs over TLS.
        builder = builder.add_extension(usage, critical=True).add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _leaf_name(kind: str, type_identifier: str, team_identifier: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.USER_ID, type_identifier),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{kind}: {type_identifier}"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, team_identifier),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        ]
    )


def _write(path: Path, data: bytes, *, secret: bool = False) -> Path:
    path.write_bytes(data)
    if secret:
        os.chmod(path, 0o600)
    return path


def create_dev_certificates(
    folder: str | os.PathLike[str],
    *,
    pass_type_identifier: str,
    team_identifier: str,
    order_type_identifier: str | None = None,
    key_password: str | None = None,
    days: int = 365,
) -> DevCertificates:
    """Write a development chain as PEM files into ``folder`` (created if needed).

    Files: ``root-ca.pem``, ``wwdr.pem`` (the intermediate), ``pass-certificate.pem``,
    ``pass-key.pem`` and, with ``order_type_identifier``, ``order-certificate.pem`` and
    ``order-key.pem``. Keys are encrypted when ``key_password`` is given. Existing files
    are overwritten: run it again to renew the chain."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(key_password.encode())
        if key_password
        else serialization.NoEncryption()
    )

    root_key, wwdr_key = _key(), _key()
    root_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Relais Development Root CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        ]
    )
    wwdr_name = x509.Name(
        [
            x509.NameAttribute(
                NameOID.COMMON_NAME, "Relais Development Worldwide Developer Relations CA"
            ),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "G4"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        ]
    )
    root = _certificate(root_name, root_key, root_name, root_key, ca=True, days=days + 1)
    wwdr = _certificate(
        wwdr_name, wwdr_key, root_name, root_key, ca=True, days=days + 1, path_length=0
    )

    def leaf(kind: str, identifier: str, stem: str) -> tuple[Path, Path]:
        key = _key()
        name = _leaf_name(kind, identifier, team_identifier)
        certificate = _certificate(name, key, wwdr_name, wwdr_key, ca=False, days=days)
        pem_key = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        return (
            _write(target / f"{stem}-certificate.pem", _pem(certificate)),
            _write(target / f"{stem}-key.pem", pem_key, secret=True),
        )

    pass_certificate, pass_key = leaf("Pass Type ID", pass_type_identifier, "pass")
    order_certificate = order_key = None
    if order_type_identifier:
        order_certificate, order_key = leaf("Order Type ID", order_type_identifier, "order")
    return DevCertificates(
        root=_write(target / "root-ca.pem", _pem(root)),
        intermediate=_write(target / "wwdr.pem", _pem(wwdr)),
        pass_certificate=pass_certificate,
        pass_key=pass_key,
        order_certificate=order_certificate,
        order_key=order_key,
    )


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)

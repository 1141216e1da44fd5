"""Sign Wallet package manifests: PKCS #7 detached signatures, DER, with the WWDR chain."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

# Detached: Wallet reads the manifest from the package, not from the signature.
# Binary: the manifest is signed byte for byte; without it line endings would be rewritten
# (S/MIME canonicalisation) and the digest would not match the file in the zip.
_OPTIONS = (pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary)


class SigningError(ValueError):
    """The certificate, key or chain cannot sign a Wallet package."""


@dataclass(frozen=True, slots=True)
class SigningIdentity:
    """A Pass Type ID (or Order Type ID) certificate, its private key and Apple's WWDR
    intermediate. Load it once and reuse it: parsing PEM and decrypting keys costs far
    more than a signature."""

    certificate: x509.Certificate
    private_key: SigningKey
    intermediate: x509.Certificate

    def __post_init__(self) -> None:
        if not isinstance(self.private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise SigningError("the signing key must be an RSA or EC private key")
        if self.certificate.public_key() != self.private_key.public_key():
            raise SigningError("the private key does not belong to the signing certificate")

    @classmethod
    def from_pem(
        cls,
        certificate: bytes,
        private_key: bytes,
        intermediate: bytes,
        *,
        password: str | bytes | None = None,
    ) -> SigningIdentity:
        """Build an identity from PEM bytes; ``password`` decrypts an encrypted key."""
        secret = password.encode() if isinstance(password, str) else password
        try:
            key = serialization.load_pem_private_key(private_key, password=secret)
        except (TypeError, ValueError) as exc:
            # Wrong or missing password, or not a key at all: say which file is at fault.
            raise SigningError(f"cannot load the signing key: {exc}") from exc
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise SigningError("the signing key must be an RSA or EC private key")
        return cls(
            certificate=x509.load_pem_x509_certificate(certificate),
            private_key=key,
            intermediate=x509.load_pem_x509_certificate(intermediate),
        )

    @classmethod
    def from_files(
        cls,
        certificate: str | os.PathLike[str],
        private_key: str | os.PathLike[str],
        intermediate: str | os.PathLike[str],
        *,
        password: str | bytes | None = None,
    ) -> SigningIdentity:
        """Read the three PEM files (the key optionally password-protected)."""
        return cls.from_pem(
            Path(certificate).read_bytes(),
            Path(private_key).read_bytes(),
            Path(intermediate).read_bytes(),
            password=password,
        )

    def sign(self, manifest: bytes) -> bytes:
        """Return the DER PKCS #7 detached signature of ``manifest``.

        The signed attributes carry the signing time, which Wallet requires; the WWDR
        intermediate is embedded so the device can build the chain to Apple's root."""
        return (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(manifest)
            .add_signer(self.certificate, self.private_key, hashes.SHA256())
            .add_certificate(self.intermediate)
            .sign(serialization.Encoding.DER, _OPTIONS)
        )


@functools.lru_cache(maxsize=16)
def _cached_identity(
    certificate: str,
    private_key: str,
    intermediate: str,
    password: str | None,
    stamp: tuple[int, ...],
) -> SigningIdentity:
    return SigningIdentity.from_files(certificate, private_key, intermediate, password=password)


def load_identity(
    certificate: str | os.PathLike[str],
    private_key: str | os.PathLike[str],
    intermediate: str | os.PathLike[str],
    *,
    password: str | None = None,
) -> SigningIdentity:
    """Like :meth:`SigningIdentity.from_files`, cached per process.

    The cache key includes the files' modification times, so a renewed certificate
    dropped in place is picked up without a restart."""
    paths = (os.fspath(certificate), os.fspath(private_key), os.fspath(intermediate))
    stamp = tuple(os.stat(path).st_mtime_ns for path in paths)
    return _cached_identity(*paths, password, stamp)

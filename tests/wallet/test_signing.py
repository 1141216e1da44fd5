"""Signing identities and PKCS #7 signatures, checked with openssl."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.wallet.checks import openssl_verify, signed_attributes
from tests.wallet.conftest import KEY_PASSWORD
from wallet.devcerts import DevCertificates
from wallet.signing import SigningError, SigningIdentity, load_identity


def test_identity_loads_an_encrypted_key(chain: DevCertificates) -> None:
    identity = SigningIdentity.from_files(
        chain.pass_certificate, chain.pass_key, chain.intermediate, password=KEY_PASSWORD
    )
    assert "UID=pass.com.relais.order" in identity.certificate.subject.rfc4514_string()
    assert isinstance(identity.private_key, rsa.RSAPrivateKey)
    assert identity.private_key.key_size == 2048


def test_wrong_or_missing_password_is_reported(chain: DevCertificates) -> None:
    with pytest.raises(SigningError, match="signing key"):
        SigningIdentity.from_files(
            chain.pass_certificate, chain.pass_key, chain.intermediate, password="wrong"
        )
    with pytest.raises(SigningError, match="signing key"):
        SigningIdentity.from_files(chain.pass_certificate, chain.pass_key, chain.intermediate)


def test_a_key_of_another_certificate_is_refused(chain: DevCertificates) -> None:
    assert chain.order_key is not None
    with pytest.raises(SigningError, match="does not belong"):
        SigningIdentity.from_files(
            chain.pass_certificate, chain.order_key, chain.intermediate, password=KEY_PASSWORD
        )


def test_load_identity_is_cached_until_the_files_change(
    chain: DevCertificates, tmp_path: Path
) -> None:
    first = load_identity(
        chain.pass_certificate, chain.pass_key, chain.intermediate, password=KEY_PASSWORD
    )
    again = load_identity(
        chain.pass_certificate, chain.pass_key, chain.intermediate, password=KEY_PASSWORD
    )
    assert again is first
    copy = tmp_path / "pass-certificate.pem"
    copy.write_bytes(chain.pass_certificate.read_bytes())
    other = load_identity(copy, chain.pass_key, chain.intermediate, password=KEY_PASSWORD)
    assert other is not first


def test_signature_verifies_and_embeds_the_intermediate(
    pass_identity: SigningIdentity, chain: DevCertificates, openssl: str, tmp_path: Path
) -> None:
    # Line feeds, a carriage return and non-ASCII bytes: with the Binary option nothing is
    # rewritten, so openssl -binary verifies the exact bytes.
    manifest = b'{"pass.json":"0123"}\n\r\n\xc3\xa9 end'
    signature = pass_identity.sign(manifest)
    signer = openssl_verify(openssl, signature, manifest, chain, tmp_path)
    assert x509.load_pem_x509_certificate(signer) == pass_identity.certificate

    printed = signed_attributes(openssl, signature, tmp_path)
    assert "signingTime" in printed
    assert "eContent: <ABSENT>" in printed  # detached
    assert "Worldwide Developer Relations" in printed  # WWDR embedded


def test_a_tampered_manifest_fails_verification(
    pass_identity: SigningIdentity, chain: DevCertificates, openssl: str, tmp_path: Path
) -> None:
    signature = pass_identity.sign(b'{"a":"1"}')
    with pytest.raises(AssertionError, match="openssl cms -verify failed"):
        openssl_verify(openssl, signature, b'{"a":"2"}', chain, tmp_path)


def test_signature_is_der(pass_identity: SigningIdentity) -> None:
    signature = pass_identity.sign(b"{}")
    assert signature[0] == 0x30  # an ASN.1 SEQUENCE, not PEM or S/MIME text
    assert b"-----BEGIN" not in signature


def test_from_pem_accepts_bytes(chain: DevCertificates) -> None:
    key = serialization.load_pem_private_key(
        chain.pass_key.read_bytes(), password=KEY_PASSWORD.encode()
    )
    plain = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    identity = SigningIdentity.from_pem(
        chain.pass_certificate.read_bytes(), plain, chain.intermediate.read_bytes()
    )
    assert identity.intermediate.subject != identity.certificate.subject

"""The development chain looks like Apple's and verifies with openssl."""

from __future__ import annotations

import subprocess

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.wallet.conftest import ORDER_TYPE, PASS_TYPE, TEAM
from wallet.devcerts import DevCertificates


def name_value(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    return str(certificate.subject.get_attributes_for_oid(oid)[0].value)


def test_leaf_subjects_follow_apple(chain: DevCertificates) -> None:
    leaf = x509.load_pem_x509_certificate(chain.pass_certificate.read_bytes())
    assert name_value(leaf, NameOID.COMMON_NAME) == f"Pass Type ID: {PASS_TYPE}"
    assert name_value(leaf, NameOID.USER_ID) == PASS_TYPE
    assert name_value(leaf, NameOID.ORGANIZATIONAL_UNIT_NAME) == TEAM
    usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usage  # also the APNs TLS client certificate
    assert chain.order_certificate is not None
    order = x509.load_pem_x509_certificate(chain.order_certificate.read_bytes())
    assert name_value(order, NameOID.COMMON_NAME) == f"Order Type ID: {ORDER_TYPE}"
    assert name_value(order, NameOID.USER_ID) == ORDER_TYPE


def test_chain_verifies_root_to_leaf(chain: DevCertificates, openssl: str) -> None:
    intermediate = x509.load_pem_x509_certificate(chain.intermediate.read_bytes())
    constraints = intermediate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0
    for leaf in (chain.pass_certificate, chain.order_certificate):
        result = subprocess.run(
            [openssl, "verify", "-CAfile", str(chain.root), "-untrusted",
             str(chain.intermediate), str(leaf)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith("OK")


def test_keys_are_private_files(chain: DevCertificates) -> None:
    assert chain.pass_key.stat().st_mode & 0o077 == 0
    assert b"ENCRYPTED PRIVATE KEY" in chain.pass_key.read_bytes()

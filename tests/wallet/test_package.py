"""Package zips: manifest completeness both ways, names, determinism."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from tests.wallet.checks import check_manifest, openssl_verify, unzip
from wallet.devcerts import DevCertificates
from wallet.package import (
    Compression,
    HashAlgorithm,
    PackageError,
    PackageFile,
    build_package,
    check_name,
    static_files,
)
from wallet.signing import SigningIdentity

FILES = {
    "pass.json": b'{"formatVersion":1}',
    "icon.png": b"\x89PNG fake icon",
    "fr.lproj/pass.strings": b'"Status" = "Statut";\n',
}


def files(
    algorithm: HashAlgorithm, compression: Compression = Compression.STORED
) -> list[PackageFile]:
    return [PackageFile.make(n, d, algorithm, compression) for n, d in FILES.items()]


@pytest.mark.parametrize("algorithm", list(HashAlgorithm))
@pytest.mark.parametrize("compression", list(Compression))
def test_every_file_is_in_the_manifest_and_nothing_else(
    algorithm: HashAlgorithm,
    compression: Compression,
    pass_identity: SigningIdentity,
    chain: DevCertificates,
    openssl: str,
    tmp_path: Path,
) -> None:
    built = build_package(
        files(algorithm, compression), pass_identity.sign, algorithm=algorithm,
        compression=compression,
    )  # fmt: skip
    content = unzip(built.content)
    assert set(content) == set(FILES) | {"manifest.json", "signature"}
    manifest = check_manifest(content, algorithm.value)
    assert "manifest.json" not in manifest and "signature" not in manifest
    assert content["manifest.json"] == built.manifest
    for name, data in FILES.items():
        assert content[name] == data
    openssl_verify(openssl, content["signature"], content["manifest.json"], chain, tmp_path)


def test_a_file_changed_after_signing_is_caught(pass_identity: SigningIdentity) -> None:
    built = build_package(
        files(HashAlgorithm.SHA1), pass_identity.sign, algorithm=HashAlgorithm.SHA1
    )
    content = unzip(built.content)
    content["icon.png"] = b"\x89PNG another icon"
    with pytest.raises(AssertionError, match=r"bad hash of icon\.png"):
        check_manifest(content, "sha1")
    content = unzip(built.content)
    content["extra.png"] = b"smuggled"
    with pytest.raises(AssertionError, match="manifest/file mismatch"):
        check_manifest(content, "sha1")


def test_entries_are_at_the_root_in_order_with_fixed_metadata(
    pass_identity: SigningIdentity,
) -> None:
    built = build_package(
        files(HashAlgorithm.SHA1), pass_identity.sign, algorithm=HashAlgorithm.SHA1
    )
    with zipfile.ZipFile(io.BytesIO(built.content)) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == [*sorted(FILES), "manifest.json", "signature"]
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert (info.external_attr >> 16) & 0o777 == 0o644
        assert info.extra == b""


def test_two_builds_differ_only_by_the_signature(pass_identity: SigningIdentity) -> None:
    first = unzip(
        build_package(
            files(HashAlgorithm.SHA1), pass_identity.sign, algorithm=HashAlgorithm.SHA1
        ).content
    )
    second = unzip(
        build_package(
            list(reversed(files(HashAlgorithm.SHA1))),
            pass_identity.sign,
            algorithm=HashAlgorithm.SHA1,
        ).content
    )
    assert first.keys() == second.keys()
    assert {k: v for k, v in first.items() if k != "signature"} == {
        k: v for k, v in second.items() if k != "signature"
    }


def test_a_fixed_signer_gives_byte_identical_packages() -> None:
    def sign(manifest: bytes) -> bytes:
        return b"signature of " + manifest

    one = build_package(files(HashAlgorithm.SHA256), sign, algorithm=HashAlgorithm.SHA256)
    two = build_package(files(HashAlgorithm.SHA256), sign, algorithm=HashAlgorithm.SHA256)
    assert one.content == two.content
    assert json.loads(one.manifest) == {
        n: HashAlgorithm.SHA256.hexdigest(d) for n, d in FILES.items()
    }


@pytest.mark.parametrize(
    "name",
    ["", "/etc/passwd", "../pass.json", "a/../b", "a//b", "dir/", "a\\b", "manifest.json",
     "signature", "ça.png", "tab\tname"],
)  # fmt: skip
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(PackageError):
        check_name(name)


def test_duplicates_and_mixed_algorithms_are_refused(pass_identity: SigningIdentity) -> None:
    twice = files(HashAlgorithm.SHA1) + files(HashAlgorithm.SHA1)[:1]
    with pytest.raises(PackageError, match="duplicate"):
        build_package(twice, pass_identity.sign, algorithm=HashAlgorithm.SHA1)
    with pytest.raises(PackageError, match="another manifest algorithm"):
        build_package(files(HashAlgorithm.SHA1), pass_identity.sign, algorithm=HashAlgorithm.SHA256)


def test_static_files_are_hashed_once() -> None:
    shared = static_files(FILES, HashAlgorithm.SHA1, Compression.DEFLATED)
    assert [f.name for f in shared] == list(FILES)
    for file in shared:
        assert file.digest == HashAlgorithm.SHA1.hexdigest(file.data)
        assert file.payload != file.data or len(file.data) < 16

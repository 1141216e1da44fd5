"""Wallet packages (.pkpass, .order): files, manifest, signature, and a deterministic zip.

A package is a flat set of files at the zip root (localisations live in ``xx.lproj/``).
``manifest.json`` maps every file to its hash (SHA-1 for passes, SHA-256 for orders) and
``signature`` signs the manifest; neither lists itself. The zip is written by hand: entries
in name order, fixed timestamps and permissions, and static files (icons, logos) encoded
once and reused, so building a package costs little more than its signature.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

MANIFEST = "manifest.json"
SIGNATURE = "signature"
RESERVED_NAMES = frozenset({MANIFEST, SIGNATURE})

# Zip constants. 1980-01-01 00:00 is the earliest DOS timestamp: a fixed value keeps two
# builds of the same content byte-identical.
_DOS_TIME = 0
_DOS_DATE = (1 << 5) | 1
_VERSION = 20
_MADE_BY = (3 << 8) | _VERSION  # Unix, so the permission bits below are honoured
_FILE_MODE = (0o100644 & 0xFFFF) << 16
_STORED = 0
_DEFLATED = 8


class HashAlgorithm(StrEnum):
    """Manifest digest: Apple uses SHA-1 for passes and SHA-256 for orders."""

    SHA1 = "sha1"
    SHA256 = "sha256"

    def hexdigest(self, data: bytes) -> str:
        return hashlib.new(self.value, data).hexdigest()


class Compression(StrEnum):
    """How entries are stored in the zip (both are accepted by Wallet)."""

    STORED = "stored"
    DEFLATED = "deflated"


class PackageError(ValueError):
    """A file name or file set that cannot form a valid Wallet package."""


def check_name(name: str) -> str:
    """Return ``name`` if it can be a package entry: relative, forward slashes, no parent
    references, not reserved. Raise :class:`PackageError` otherwise."""
    if not name or name.startswith("/") or "\\" in name or name.endswith("/"):
        raise PackageError(f"invalid package file name {name!r}")
    if any(part in ("", ".", "..") for part in name.split("/")):
        raise PackageError(f"invalid package file name {name!r}")
    if name in RESERVED_NAMES:
        raise PackageError(f"{name!r} is written by the package builder, not by callers")
    if not name.isascii() or not name.isprintable():
        # Wallet resolves names from JSON keys; keep them plain to avoid encoding flags.
        raise PackageError(f"package file names must be printable ASCII: {name!r}")
    return name


@dataclass(frozen=True, slots=True)
class PackageFile:
    """One file of a package with its manifest digest and its encoded zip entry."""

    name: str
    data: bytes
    digest: str
    compression: Compression
    crc32: int
    payload: bytes  # the bytes written in the zip (deflated or not)

    @classmethod
    def make(
        cls,
        name: str,
        data: bytes,
        algorithm: HashAlgorithm,
        compression: Compression = Compression.STORED,
    ) -> PackageFile:
        """Hash and encode ``data`` once; reuse the result for every package."""
        check_name(name)
        return _encoded(name, data, algorithm.hexdigest(data), compression)


def _encoded(name: str, data: bytes, digest: str, compression: Compression) -> PackageFile:
    if compression is Compression.DEFLATED:
        packer = zlib.compressobj(6, zlib.DEFLATED, -15)
        payload = packer.compress(data) + packer.flush()
    else:
        payload = data
    return PackageFile(name, data, digest, compression, zlib.crc32(data), payload)


def static_files(
    files: Mapping[str, bytes],
    algorithm: HashAlgorithm,
    compression: Compression = Compression.STORED,
) -> tuple[PackageFile, ...]:
    """Hash and encode files shared by many packages (icons, logos) once, for reuse."""
    return tuple(
        PackageFile.make(name, data, algorithm, compression) for name, data in files.items()
    )


def manifest_bytes(files: Iterable[PackageFile]) -> bytes:
    """The manifest: ``{"name": "hex digest"}`` with sorted keys and no spaces."""
    entries = {file.name: file.digest for file in files}
    return json.dumps(entries, sort_keys=True, separators=(",", ":")).encode()


Signer = Callable[[bytes], bytes]


@dataclass(frozen=True, slots=True)
class BuiltPackage:
    """A signed package: the zip bytes and what went into it (for logs and tests)."""

    content: bytes
    manifest: bytes
    names: tuple[str, ...]


def build_package(
    files: Sequence[PackageFile],
    sign: Signer,
    *,
    algorithm: HashAlgorithm,
    compression: Compression = Compression.STORED,
) -> BuiltPackage:
    """Zip ``files`` with their manifest and its signature.

    Every file is listed in the manifest and nothing else is; duplicates, reserved names
    and files hashed with another algorithm are refused. ``sign`` receives the manifest
    bytes and returns the DER signature (see :meth:`wallet.signing.SigningIdentity.sign`).
    """
    by_name: dict[str, PackageFile] = {}
    expected_length = len(algorithm.hexdigest(b""))
    for file in files:
        if file.name in by_name:
            raise PackageError(f"duplicate package file {file.name!r}")
        if len(file.digest) != expected_length:
            raise PackageError(f"{file.name!r} was hashed for another manifest algorithm")
        by_name[file.name] = file
    ordered = [by_name[name] for name in sorted(by_name)]
    manifest = manifest_bytes(ordered)
    extras = [
        _encoded(MANIFEST, manifest, "", compression),
        _encoded(SIGNATURE, sign(manifest), "", Compression.STORED),
    ]
    entries = ordered + extras
    return BuiltPackage(
        content=_zip(entries), manifest=manifest, names=tuple(e.name for e in entries)
    )


def _zip(entries: Sequence[PackageFile]) -> bytes:
    """A plain zip (no zip64, no data descriptors, no extra fields)."""
    chunks: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    for entry in entries:
        if offset > 0xFFFFFFFF - len(entry.payload) - 1024:
            raise PackageError("package too large for a plain zip")
        name = entry.name.encode("ascii")
        method = _DEFLATED if entry.compression is Compression.DEFLATED else _STORED
        sizes = (entry.crc32, len(entry.payload), len(entry.data), len(name))
        local = struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, _VERSION, 0, method, _DOS_TIME, _DOS_DATE, *sizes, 0
        )
        central.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                _MADE_BY,
                _VERSION,
                0,
                method,
                _DOS_TIME,
                _DOS_DATE,
                *sizes,
                0,
                0,
                0,
                0,
                _FILE_MODE,
                offset,
            )
            + name
        )
        chunks += (local, name, entry.payload)
        offset += len(local) + len(name) + len(entry.payload)
    directory = b"".join(central)
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(directory), offset, 0
    )
    return b"".join(chunks) + directory + end

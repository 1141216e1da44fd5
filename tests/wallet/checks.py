"""Independent checks of Wallet packages, written from Apple's rules rather than from the
library's own validators, so that a bug shared by builder and validator still fails here."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from wallet.devcerts import DevCertificates

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
FIELD_GROUPS = ("headerFields", "primaryFields", "secondaryFields", "auxiliaryFields", "backFields")


def unzip(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.testzip() is None, "a zip entry is corrupt"
        names = archive.namelist()
        assert len(names) == len(set(names)), "duplicate zip entries"
        for info in archive.infolist():
            assert not info.is_dir(), f"directory entry {info.filename!r}"
            assert not info.filename.startswith("/"), "absolute path in zip"
            assert ".." not in info.filename.split("/"), "parent reference in zip"
        return {name: archive.read(name) for name in names}


def check_manifest(files: dict[str, bytes], algorithm: str) -> dict[str, str]:
    """Every manifest entry matches a file, and every file is in the manifest."""
    manifest = json.loads(files["manifest.json"])
    assert "signature" in files, "no signature in the package"
    listed = set(manifest)
    present = set(files) - {"manifest.json", "signature"}
    assert listed == present, f"manifest/file mismatch: {sorted(listed ^ present)}"
    for name, digest in manifest.items():
        assert hashlib.new(algorithm, files[name]).hexdigest() == digest, f"bad hash of {name}"
    return manifest


def openssl_verify(
    openssl: str, signature: bytes, manifest: bytes, chain: DevCertificates, folder: Path
) -> bytes:
    """Verify the detached signature with openssl; return the signer certificate (PEM).

    Only the root is trusted: the WWDR intermediate must come from inside the signature.
    ``-purpose any`` because, like Apple's, the signing certificate carries no S/MIME
    (emailProtection) usage, which openssl otherwise demands."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "signature").write_bytes(signature)
    (folder / "manifest.json").write_bytes(manifest)
    result = subprocess.run(
        [
            openssl, "cms", "-verify", "-binary", "-inform", "DER",
            "-in", str(folder / "signature"),
            "-content", str(folder / "manifest.json"),
            "-CAfile", str(chain.root),
            "-purpose", "any",
            "-signer", str(folder / "signer.pem"),
            "-out", os.devnull,
        ],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"openssl cms -verify failed: {result.stderr}"
    return (folder / "signer.pem").read_bytes()


def signed_attributes(openssl: str, signature: bytes, folder: Path) -> str:
    (folder / "signature.der").write_bytes(signature)
    result = subprocess.run(
        [
            openssl,
            "cms",
            "-cmsout",
            "-print",
            "-inform",
            "DER",
            "-in",
            str(folder / "signature.der"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def is_rfc3339(value: Any) -> bool:
    if not isinstance(value, str) or not RFC3339.match(value):
        return False
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


def pass_rule_violations(document: dict[str, Any], strings: dict[str, dict[str, str]]) -> list[str]:
    """Apple's pass.json rules, checked from scratch."""
    problems = []
    required = ("formatVersion", "passTypeIdentifier", "serialNumber", "teamIdentifier",
                "organizationName", "description")  # fmt: skip
    problems += [f"missing {key}" for key in required if not document.get(key)]
    if document.get("formatVersion") != 1:
        problems.append("formatVersion != 1")
    if "webServiceURL" in document:
        if not str(document["webServiceURL"]).startswith("https://"):
            problems.append("webServiceURL not https")
        if len(str(document.get("authenticationToken", ""))) < 16:
            problems.append("authenticationToken shorter than 16")
    styles = [s for s in ("boardingPass", "coupon", "eventTicket", "generic", "storeCard")
              if s in document]  # fmt: skip
    if len(styles) != 1:
        problems.append(f"styles: {styles}")
        return problems
    keys = []
    for group in FIELD_GROUPS:
        for field in document[styles[0]].get(group, []):
            keys.append(field["key"])
            if "changeMessage" in field:
                message = field["changeMessage"]
                if not message or "%@" not in message:
                    problems.append(f"changeMessage of {field['key']} lacks %@")
                for language, table in strings.items():
                    if "%@" not in table.get(message, message):
                        problems.append(f"{language} changeMessage of {field['key']} lacks %@")
            if group in ("primaryFields", "backFields") and "textAlignment" in field:
                problems.append(f"textAlignment on {group}/{field['key']}")
            if "dateStyle" in field and not is_rfc3339(field["value"]):
                problems.append(f"date field {field['key']} not RFC 3339")
    if len(keys) != len(set(keys)):
        problems.append("duplicate field keys")
    for key in ("relevantDate", "expirationDate"):
        if key in document and not is_rfc3339(document[key]):
            problems.append(f"{key} not RFC 3339")
    for window in document.get("relevantDates", []):
        if not (is_rfc3339(window.get("startDate")) and is_rfc3339(window.get("endDate"))):
            problems.append("relevantDates entry not RFC 3339")
    for colour in ("backgroundColor", "foregroundColor", "labelColor"):
        if colour in document and not re.fullmatch(
            r"rgb\(\d{1,3}, \d{1,3}, \d{1,3}\)", document[colour]
        ):
            problems.append(f"{colour} not rgb()")
    return problems

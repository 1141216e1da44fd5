"""Our .pkpass read back by passkit-generator (npm), an implementation we share no code with.

Needs node and ``npm ci`` in tests/wallet/node (package-lock.json pins the version)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.wallet.checks import is_rfc3339, unzip
from tests.wallet.conftest import KEY_PASSWORD, PICKUP_POINT
from wallet.devcerts import DevCertificates
from wallet.formats import decode_strings
from wallet.package import Compression
from wallet.passes import OrderPassContent, build_pass
from wallet.signing import SigningIdentity

NODE_DIR = Path(__file__).resolve().parent / "node"


@pytest.fixture(scope="session")
def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.skip("node is not installed: the .pkpass cannot be read by passkit-generator")
    if not (NODE_DIR / "node_modules" / "passkit-generator").is_dir():
        pytest.skip("passkit-generator is not installed: run `npm ci` in tests/wallet/node")
    return path


def read_with_passkit(node: str, package: bytes, chain: DevCertificates, folder: Path) -> Any:
    path = folder / "order.pkpass"
    path.write_bytes(package)
    result = subprocess.run(
        [node, str(NODE_DIR / "read_pkpass.cjs"), str(path), str(chain.pass_certificate),
         str(chain.pass_key), str(chain.intermediate), KEY_PASSWORD],
        capture_output=True, text=True, check=False, cwd=NODE_DIR, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def instants(value: Any) -> Any:
    """The same document with every RFC 3339 date as a UTC instant: passkit-generator
    re-writes dates in its own (equally valid) ISO form."""
    if isinstance(value, dict):
        return {k: instants(v) for k, v in value.items()}
    if isinstance(value, list):
        return [instants(v) for v in value]
    if is_rfc3339(value):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return value


@pytest.mark.parametrize(
    "changes",
    [
        {"milestone": "in_transit"},
        {"milestone": "ready_for_pickup", "pickup_point": PICKUP_POINT},
        {"milestone": "delivered", "delivered_at": datetime(2025, 3, 4, 8, 0, tzinfo=UTC)},
        {"milestone": "attempted_delivery", "cancelled": True},
    ],
    ids=["in-transit", "pickup", "delivered", "cancelled"],
)
def test_passkit_generator_reads_our_pass(
    changes: dict[str, Any],
    node: str,
    make_pass: Callable[..., OrderPassContent],
    pass_identity: SigningIdentity,
    chain: DevCertificates,
    tmp_path: Path,
    now: datetime,
) -> None:
    package = build_pass(make_pass(**changes), pass_identity, now=now)
    ours = unzip(package.content)
    read = read_with_passkit(node, package.content, chain, tmp_path)

    # Its Joi schemas accepted pass.json as is: no warning, nothing dropped.
    assert read["warnings"] == []
    assert read["type"] == "generic"
    assert instants(read["props"]) == instants(package.pass_json)
    assert read["cloneProps"] == read["props"]  # PKPass.from(pass) keeps everything

    # It found both languages and the same translations.
    assert sorted(read["languages"]) == ["en", "fr"]
    for language in ("fr", "en"):
        assert decode_strings(read["translations"][language].encode()) == decode_strings(
            ours[f"{language}.lproj/pass.strings"]
        )

    # Its own SHA-1 (node-forge) of every image equals ours.
    manifest = json.loads(ours["manifest.json"])
    images = [name for name in manifest if name.endswith(".png")]
    assert images and all(read["manifest"][name] == manifest[name] for name in images)
    assert [e["name"] for e in read["entries"]] == list(ours)


def test_passkit_generator_reads_a_deflated_pass(
    node: str,
    make_pass: Callable[..., OrderPassContent],
    pass_identity: SigningIdentity,
    chain: DevCertificates,
    tmp_path: Path,
    now: datetime,
) -> None:
    package = build_pass(make_pass(), pass_identity, now=now, compression=Compression.DEFLATED)
    read = read_with_passkit(node, package.content, chain, tmp_path)
    assert read["warnings"] == []
    assert {e["name"]: e["method"] for e in read["entries"]}["pass.json"] == 8
    assert instants(read["props"]) == instants(package.pass_json)


def test_the_reader_can_fail(
    node: str,
    chain: DevCertificates,
    tmp_path: Path,
    make_pass: Callable[..., OrderPassContent],
    pass_identity: SigningIdentity,
    now: datetime,
) -> None:
    """A pass.json passkit-generator's schemas refuse yields warnings, so the test above
    would catch a malformed document."""

    package = build_pass(make_pass(), pass_identity, now=now)
    files = unzip(package.content)
    document = json.loads(files["pass.json"])
    document["backgroundColor"] = "blue"
    document["relevantDate"] = (now + timedelta(days=1)).strftime("%d/%m/%Y")
    files["pass.json"] = json.dumps(document).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    read = read_with_passkit(node, buffer.getvalue(), chain, tmp_path)
    assert read["warnings"]
    assert read["type"] is None and "type is missing" in read["exportError"]

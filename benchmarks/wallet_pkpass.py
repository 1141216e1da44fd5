"""Signed .pkpass packages per second on one core: Relais next to passkit-generator (npm).

Both sides sign with the same development certificate (RSA-2048, password-protected key)
and package the same pass.json, strings files and images; each run builds ``--count``
distinct passes (a new serial number each) and the table reports the median of the runs.

    .venv/bin/python -m benchmarks.wallet_pkpass [--runs 5] [--count 1000] [--core N]
        [--baseline-count 100]

The baseline needs node and ``npm ci`` in tests/wallet/node; without them only our
figure is printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from wallet.devcerts import create_dev_certificates
from wallet.formats import LocalizedText, encode_strings
from wallet.images import default_images
from wallet.passes import (
    OrderPassContent,
    PickupPoint,
    build_pass,
    build_pass_json,
    pass_strings,
)
from wallet.signing import SigningIdentity

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "tests" / "wallet" / "node"
BASELINE = Path(__file__).resolve().parent / "wallet_pkpass_baseline.cjs"
PASSWORD = "benchmark"
TARGET = 1500


def content(now: datetime) -> OrderPassContent:
    return OrderPassContent(
        serial_number="bench-0",
        authentication_token="tK4z9Qm2LxP7wR1vN8bY3cF6hJ0dS5aE",
        web_service_url="https://relais.example/wallet",
        pass_type_identifier="pass.com.relais.order",
        team_identifier="RELAISDEV1",
        order_number="#1001",
        milestone="ready_for_pickup",
        milestone_at=now,
        shop_name="Maison Dupont",
        tracking_page_url="https://maison-dupont.fr/apps/track/o/Xy12",
        carrier="Mondial Relay",
        tracking_number="12345678",
        tracking_url="https://www.mondialrelay.fr/suivi-de-colis/?numeroExpedition=12345678",
        estimated_delivery=now + timedelta(days=1),
        parcels=1,
        pickup_point=PickupPoint("Tabac de la Mairie", "12 place de la Mairie, 69003 Lyon"),
        support_email="bonjour@maison-dupont.fr",
        offer=LocalizedText("-10 % avec MERCI10", "10% off with MERCI10"),
    )


def pin(core: int | None) -> None:
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})


def ours(identity: SigningIdentity, runs: int, count: int, now: datetime) -> list[float]:
    base = content(now)
    rates = []
    for run in range(runs):
        items = [dataclasses.replace(base, serial_number=f"bench-{run}-{i}") for i in range(count)]
        started = time.perf_counter()
        for item in items:
            build_pass(item, identity, now=now)
        rates.append(count / (time.perf_counter() - started))
    return rates


def write_model(folder: Path, now: datetime) -> Path:
    """The files our builder packages, handed to passkit-generator as its model."""
    model = folder / "model"
    model.mkdir()
    sample = content(now)
    document = build_pass_json(sample, now=now)
    (model / "pass.json").write_text(json.dumps(document, ensure_ascii=False))
    for language, table in pass_strings(sample).items():
        (model / f"{language}.lproj").mkdir()
        (model / f"{language}.lproj" / "pass.strings").write_bytes(encode_strings(table))
    for name, data in default_images().items():
        (model / name).write_bytes(data)
    return model


def baseline(model: Path, certs: dict[str, Path], password: str, runs: int, count: int,
             core: int | None) -> list[float] | str:  # fmt: skip
    node = shutil.which("node")
    if node is None:
        return "node is not installed"
    if not (NODE_DIR / "node_modules" / "passkit-generator").is_dir():
        return "passkit-generator missing: run `npm ci` in tests/wallet/node"
    result = subprocess.run(
        [node, str(BASELINE), str(model), str(certs["certificate"]), str(certs["key"]),
         str(certs["wwdr"]), password, str(runs), str(count)],
        capture_output=True, text=True, check=False, cwd=NODE_DIR,
        preexec_fn=(lambda: pin(core)) if core is not None else None,
    )  # fmt: skip
    if result.returncode != 0:
        return f"baseline failed: {result.stderr.strip()[:300]}"
    return [float(rate) for rate in json.loads(result.stdout)["rates"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", type=int, default=1000)
    # passkit-generator signs a few dozen passes a second: fewer passes keep runs short.
    parser.add_argument("--baseline-count", type=int, default=100)
    parser.add_argument("--core", type=int, default=-1, help="CPU to pin both sides to (-1: none)")
    args = parser.parse_args()
    core = None if args.core < 0 else args.core
    pin(core)
    now = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="relais-bench-") as scratch:
        folder = Path(scratch)
        chain = create_dev_certificates(
            folder / "certs",
            pass_type_identifier="pass.com.relais.order",
            team_identifier="RELAISDEV1",
            key_password=PASSWORD,
        )
        identity = SigningIdentity.from_files(
            chain.pass_certificate, chain.pass_key, chain.intermediate, password=PASSWORD
        )
        ours(identity, 1, min(100, args.count), now)  # warm caches, as a running worker is
        our_rates = ours(identity, args.runs, args.count, now)
        certs = {"certificate": chain.pass_certificate, "key": chain.pass_key,
                 "wwdr": chain.intermediate}  # fmt: skip
        model = write_model(folder, now)
        their_rates = baseline(model, certs, PASSWORD, args.runs, args.baseline_count, core)
        # passkit-generator decrypts the key for every pass; a plain key shows its speed
        # without that cost (production keys should stay encrypted at rest).
        plain = folder / "plain-key.pem"
        plain.write_bytes(
            serialization.load_pem_private_key(
                chain.pass_key.read_bytes(), PASSWORD.encode()
            ).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        plain_rates = baseline(
            model, {**certs, "key": plain}, "", args.runs, args.baseline_count, core
        )

    print(
        f"Signed .pkpass per second, one core, median of {args.runs} runs "
        f"({args.count} passes per run, {args.baseline_count} for the baseline)"
    )
    print(f"{'implementation':<28}{'median/s':>10}   runs")
    mine = statistics.median(our_rates)
    print(f"{'relais (Python)':<28}{mine:>10.0f}   {' '.join(f'{r:.0f}' for r in our_rates)}")
    for label, rates in (
        ("passkit-generator (Node)", their_rates),
        ("  same, key not encrypted", plain_rates),
    ):
        if isinstance(rates, str):
            print(f"{label:<28}{'-':>10}   {rates}")
            continue
        theirs = statistics.median(rates)
        runs = " ".join(f"{r:.0f}" for r in rates)
        print(f"{label:<28}{theirs:>10.0f}   {runs}   (ratio {mine / theirs:.1f}x)")
    print(f"target: {TARGET}/s -> {'met' if mine >= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()

"""Look for personal data and secrets in log files.

The values searched for are the ones the load actually sent (shoppers' emails, phone
numbers, last names, street addresses) and the cluster's secrets, so a hit is a real leak,
not a pattern's false positive.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ops.load import Webhook


@dataclass(frozen=True)
class Leak:
    file: str
    line_number: int
    kind: str
    value: str


def personal_values(webhooks: Iterable[Webhook]) -> dict[str, str]:
    """value -> kind, for every personal value in the given webhooks' payloads."""
    found: dict[str, str] = {}
    for webhook in webhooks:
        payload = json.loads(webhook.body)
        customer = payload.get("customer") or {}
        address = payload.get("shipping_address") or {}
        for kind, value in (
            ("email", payload.get("email")),
            ("phone", payload.get("phone")),
            ("last name", customer.get("last_name")),
            ("street address", address.get("address1")),
        ):
            if isinstance(value, str) and len(value) >= 6:
                found[value] = kind
    return found


def scan(log_dir: Path, needles: dict[str, str]) -> list[Leak]:
    """Every line of every ``*.log`` under ``log_dir`` that contains one of ``needles``."""
    leaks = []
    for path in sorted(log_dir.rglob("*.log")):
        with path.open(encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                for value, kind in needles.items():
                    if value in line:
                        leaks.append(Leak(path.name, number, kind, value))
    return leaks

"""Headless Chromium for the browser tests: Debian's binary driven by Playwright (never a
downloaded browser), and one rule for missing tools: skip on a developer's machine, fail in
CI, which sets ``RELAIS_REQUIRE_BROWSER_TOOLS`` once it has installed them."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling hosts this sandbox refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_tools(missing: Sequence[str], *, what: str = "browser tests") -> None:
    """Skip (locally) or fail (in CI) when any tool is missing."""
    if not missing:
        return
    message = f"{what} need: " + "; ".join(missing)
    if os.environ.get("RELAIS_REQUIRE_BROWSER_TOOLS"):
        pytest.fail(message)
    pytest.skip(message)


def require_browser(extra_missing: Sequence[str] = ()) -> None:
    """Chromium and Playwright must be there (plus whatever the caller found missing)."""
    missing = list(extra_missing)
    if not Path(CHROMIUM).exists():
        missing.insert(0, f"Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install playwright)")
    require_tools(missing)


@contextmanager
def launched_chromium() -> Iterator[Any]:
    """A headless Chromium for the duration of the block."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()

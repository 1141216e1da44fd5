"""The dashboard in headless Chromium, in French and in English (screenshots kept)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from plugin.insights.dataset import generate
from tests.admin.test_browser import (  # noqa: F401
    SCREENSHOTS,
    _open,
    browser,
    live_admin,
    page,
)

pytestmark = pytest.mark.browser


def test_dashboard_in_french_and_english(page, live_admin, runtime, shop):  # noqa: F811
    with runtime.db.write_connection() as conn:
        generate(conn, shop.id, now=datetime.now(UTC), days=25, orders=80, messages=1500)
    base_url, _ = live_admin
    for locale, title in (("fr", "Résultats"), ("en-US", "Results")):
        _open(page, base_url, "/insights", locale=locale)
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").inner_text() == title
        assert page.locator("svg.chart").count() >= 2
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"insights-{locale[:2]}.png"), full_page=True)

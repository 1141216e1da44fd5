"""The theme app extension: structure, Shopify's theme-check, asset budgets, translations."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.browser_tools import require_tools

ROOT = Path(__file__).resolve().parents[2]
EXTENSION = ROOT / "frontend" / "extensions" / "relais-theme"
NODE_DIR = Path(__file__).parent / "node"


def _node_tools_or_skip(package: str) -> None:
    if not (NODE_DIR / "node_modules" / package).is_dir() or shutil.which("node") is None:
        require_tools([f"{package} (npm ci in {NODE_DIR})"], what="theme checks")


def test_the_extension_has_the_layout_shopify_expects():
    assert (EXTENSION / "shopify.extension.toml").is_file()
    for folder in ("blocks", "snippets", "assets", "locales"):
        assert (EXTENSION / folder).is_dir(), folder
    assert {p.name for p in (EXTENSION / "blocks").glob("*.liquid")} == {
        "order-tracking.liquid",
        "upsell.liquid",
    }
    assert (EXTENSION / "locales" / "en.default.json").is_file()
    assert (EXTENSION / "locales" / "fr.json").is_file()


def _keys(tree: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in tree.items():
        if isinstance(value, dict):
            keys |= _keys(value, f"{prefix}{key}.")
        else:
            keys.add(prefix + key)
    return keys


@pytest.mark.parametrize("kind", ["", ".schema"])
def test_french_and_english_have_the_same_texts(kind):
    en = json.loads((EXTENSION / "locales" / f"en.default{kind}.json").read_text())
    fr = json.loads((EXTENSION / "locales" / f"fr{kind}.json").read_text())
    assert _keys(en) == _keys(fr)


def test_asset_budgets():
    scripts = list((EXTENSION / "assets").glob("*.js"))
    styles = list((EXTENSION / "assets").glob("*.css"))
    assert sum(len(gzip.compress(p.read_bytes())) for p in scripts) < 10_000
    assert sum(p.stat().st_size for p in styles) < 100_000


def test_the_form_posts_to_the_app_proxy():
    form = (EXTENSION / "snippets" / "relais-lookup-form.liquid").read_text()
    assert 'action="/apps/track/lookup"' in form
    assert 'name="order"' in form and 'name="contact"' in form


def test_theme_check_reports_no_error():
    _node_tools_or_skip("@shopify/theme-check-node")
    result = subprocess.run(
        ["node", str(NODE_DIR / "theme-check.mjs"), str(EXTENSION)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 error(s)" in result.stdout


def test_theme_check_would_catch_a_broken_block(tmp_path):
    _node_tools_or_skip("@shopify/theme-check-node")
    broken = tmp_path / "ext"
    shutil.copytree(EXTENSION, broken)
    with (broken / "blocks" / "upsell.liquid").open("a") as block:
        block.write("{{ product.title | no_such_filter }}")
    result = subprocess.run(
        ["node", str(NODE_DIR / "theme-check.mjs"), str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1 and "UnknownFilter" in result.stdout

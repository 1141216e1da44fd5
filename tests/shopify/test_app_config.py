"""``shopify.app.toml`` and ``shopify.web.toml`` say what the code does."""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from click.testing import CliRunner

from plugin.shopify.admin_api import API_VERSION
from webhooks.handlers import COMPLIANCE_TOPICS, HANDLERS

ROOT = Path(__file__).resolve().parents[2]
APP = tomllib.loads((ROOT / "shopify.app.toml").read_text())
WEB = tomllib.loads((ROOT / "shopify.web.toml").read_text())


def test_app_identity_and_embedding():
    assert APP["client_id"] and APP["name"] == "Relais" and APP["handle"] == "relais"
    assert APP["embedded"] is True
    assert urlsplit(APP["application_url"]).scheme == "https"
    assert APP["auth"]["redirect_urls"]
    assert APP["access_scopes"]["use_legacy_install_flow"] is False


def test_scopes_are_only_what_relais_uses():
    scopes = set(APP["access_scopes"]["scopes"].split(","))
    assert scopes == {
        "read_orders",
        "read_fulfillments",
        "read_customers",
        "read_products",
        "write_discounts",
        "read_locales",
        "write_app_proxy",
    }


def test_every_handled_topic_is_subscribed_to_webhooks():
    webhooks = APP["webhooks"]
    assert webhooks["api_version"] == API_VERSION == "2026-07"
    topics: set[str] = set()
    compliance: set[str] = set()
    for subscription in webhooks["subscriptions"]:
        assert subscription["uri"] == "/webhooks"
        topics |= set(subscription.get("topics", []))
        compliance |= set(subscription.get("compliance_topics", []))
    assert (
        compliance
        == set(COMPLIANCE_TOPICS)
        == {
            "customers/data_request",
            "customers/redact",
            "shop/redact",
        }
    )
    assert topics == set(HANDLERS) - set(COMPLIANCE_TOPICS)
    for topic in (
        "orders/create",
        "orders/updated",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/partially_fulfilled",
        "fulfillments/create",
        "fulfillments/update",
        "fulfillment_events/create",
        "fulfillment_events/delete",
        "app/uninstalled",
        "shop/update",
    ):
        assert topic in topics


def test_app_proxy_and_theme_extension():
    proxy = APP["app_proxy"]
    assert (proxy["prefix"], proxy["subpath"]) == ("apps", "track")
    assert proxy["url"] == APP["application_url"] + "/proxy"
    assert APP["extension_directories"] == ["frontend/extensions/*"]


def test_shopify_app_dev_runs_relais_without_a_shell():
    assert set(WEB["roles"]) == {"frontend", "backend"}
    assert WEB["webhooks_path"] == "/webhooks"
    argv = shlex.split(WEB["commands"]["dev"])
    assert argv[:3] == [".venv/bin/python", "-m", "plugin"]
    # No shell: no variables, pipes or "&&" for the CLI to misread.
    assert not any(c in WEB["commands"]["dev"] for c in "$|&;<>")
    from plugin.cli import cli

    result = CliRunner().invoke(cli, [*argv[3:], "--help"])
    assert result.exit_code == 0 and "$PORT" in result.output

"""``relais outbox [--json]``: what the outbox transports captured, read by another process."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from plugin.cli import cli
from tests.notifications.conftest import CAMILLE


def _env(config, monkeypatch):  # type: ignore[no-untyped-def]
    for name, value in {
        "SHOPIFY_API_KEY": config.shopify_api_key,
        "SHOPIFY_API_SECRET": config.shopify_api_secret,
        "APP_URL": config.app_url,
        "SECRET_KEY": config.secret_key,
        "DATABASE_URL": config.database_url,
        "REDIS_URL": config.redis_url,
        "RELAIS_INSTANCE_DIR": config.instance_dir,
        "EMAIL_BACKEND": "outbox",
        "SMS_BACKEND": "outbox",
    }.items():
        monkeypatch.setenv(name, value)


def test_outbox_lists_what_was_captured(config, monkeypatch, story, run_jobs, frozen_now):
    _env(config, monkeypatch)
    camille = story(CAMILLE, 1001)
    camille.ordered()
    fulfillment = camille.shipped()
    run_jobs()
    camille.event(fulfillment, "out_for_delivery", 40)
    run_jobs()

    result = CliRunner().invoke(cli, ["outbox"])
    assert result.exit_code == 0, result.output
    assert "#1 EMAIL" in result.output and "#2 SMS" in result.output
    assert "Subject: Votre commande #1001 est en route" in result.output
    assert "Reply-To: bonjour@maison-lumiere.fr" in result.output
    assert "Bonjour Camille," in result.output  # the email, rendered
    assert "Désinscription : STOP" in result.output

    saved = Path(config.instance_dir) / "outbox"
    result = CliRunner().invoke(cli, ["outbox", "--save", str(saved)])
    assert result.exit_code == 0, result.output
    (page,) = saved.glob("*.html")
    assert "Bonjour Camille," in page.read_text()

    result = CliRunner().invoke(cli, ["outbox", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["channel"] for r in rows] == ["email", "sms"]
    assert rows[0]["to"] == "camille.martin@example.fr"
    assert rows[0]["html"].startswith("<!DOCTYPE html>")
    assert rows[1]["to"] == "+33612345678"


def test_empty_outbox(config, monkeypatch, app):
    _env(config, monkeypatch)
    result = CliRunner().invoke(cli, ["outbox"])
    assert result.exit_code == 0
    assert "The outbox is empty." in result.output

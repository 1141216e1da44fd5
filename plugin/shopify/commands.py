"""Commands of the Shopify connection: ``relais order sync`` and ``relais dev``."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import click


def _shop_domain(shop: str) -> str:
    shop = shop.strip().lower().removeprefix("https://").rstrip("/")
    return shop if shop.endswith(".myshopify.com") else f"{shop}.myshopify.com"


@click.command("sync")
@click.argument("shop")
@click.argument("order_ref")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def sync_command(shop: str, order_ref: str, as_json: bool) -> None:
    """Read ORDER_REF (a name like #1001, or a Shopify id) of SHOP again from Shopify and
    apply it as a webhook would; milestones that moved are announced."""
    from plugin import create_app
    from plugin.config import Config
    from plugin.errors import ConfigError
    from plugin.runtime import current_runtime
    from plugin.shopify.admin_api import AdminApiError
    from plugin.shopify.connection import shopify_connection
    from plugin.shopify.sync import OrderNotFound, sync_order
    from plugin.shopify.tokens import NoAccessToken

    try:
        app = create_app(Config.from_env())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    domain = _shop_domain(shop)
    with app.app_context():
        try:
            result = sync_order(current_runtime(), shopify_connection().admin, domain, order_ref)
        except OrderNotFound as exc:
            raise click.ClickException(str(exc)) from exc
        except NoAccessToken as exc:
            raise click.ClickException(
                f"{exc}: the merchant must open Relais in the Shopify admin once"
            ) from exc
        except AdminApiError as exc:
            raise click.ClickException(f"Shopify: {exc}") from exc
    if as_json:
        click.echo(
            json.dumps(
                {
                    "shop": domain,
                    "order_id": result.order_shopify_id,
                    "name": result.name,
                    "found": result.found,
                    "milestones": list(result.milestones),
                }
            )
        )
        return
    if not result.found:
        raise click.ClickException(f"order {order_ref} no longer exists in Shopify")
    moved = ", ".join(result.milestones) or "no change"
    click.echo(f"{domain} {result.name} ({result.order_shopify_id}): {moved}")


@click.command("dev")
def dev_command() -> None:
    """What `shopify app dev` runs: the web app on $PORT and a worker, stopped with the CLI.

    Shopify CLI passes SHOPIFY_API_KEY, SHOPIFY_API_SECRET, SHOPIFY_APP_URL (its tunnel) and
    PORT; APP_URL defaults to the tunnel and, in development only, SECRET_KEY to a random
    key kept in the instance folder.
    """
    from plugin import redis_conn

    env = dict(os.environ)
    env.setdefault("APP_URL", env.get("SHOPIFY_APP_URL") or env.get("HOST") or "")
    if not env["APP_URL"]:
        env["APP_URL"] = f"http://localhost:{env.get('PORT', '8000')}"
    instance = Path(env.get("RELAIS_INSTANCE_DIR", "instance")).resolve()
    instance.mkdir(parents=True, exist_ok=True)
    if not env.get("SECRET_KEY"):
        key_file = instance / "dev-secret-key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        env["SECRET_KEY"] = key_file.read_text().strip()
    if not env.get("REDIS_URL"):
        env["REDIS_URL"] = redis_conn.start_embedded_redis(instance)
    relais = [sys.executable, "-m", "plugin"]
    subprocess.run([*relais, "db", "upgrade"], env=env, check=True)  # noqa: S603
    children = [
        subprocess.Popen([*relais, "serve", "--workers", "1"], env=env),  # noqa: S603
        subprocess.Popen([*relais, "worker"], env=env),  # noqa: S603
    ]

    def stop(*_: object) -> None:
        for child in children:
            child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    codes = [child.wait() for child in children]
    sys.exit(max(codes))

"""The ``relais`` command line: the roof that starts the web app, the worker and the demo."""

from __future__ import annotations

import json
import logging
import os
import sys

import click
from flask import Flask

from plugin.config import Config
from plugin.errors import ConfigError
from plugin.notifications.cli import outbox
from plugin.shopify.commands import dev_command, sync_command
from wallet.cli import wallet as wallet_commands

log = logging.getLogger(__name__)


def _app() -> Flask:
    from plugin import create_app

    try:
        return create_app(Config.from_env())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def cli() -> None:
    """Relais: everything after the Buy button."""


@cli.command()
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes")
@click.option("--threads", type=int, help="request threads per process  [default: 8]")
@click.option("--host", default="0.0.0.0", show_default=True)  # noqa: S104 - a server listens
def serve(workers: int, threads: int | None, host: str) -> None:
    """Serve the web app with gunicorn on $PORT (default 8000)."""
    from plugin.server import serve_forever

    try:
        config = Config.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    serve_forever(config, host=host, workers=workers, threads=threads)


@cli.command()
@click.option("--burst", is_flag=True, help="stop when the queues are empty")
def worker(burst: bool) -> None:
    """Run an RQ worker on every queue, with the scheduler and the periodic sweeps."""
    from plugin.worker import run_worker

    app = _app()
    with app.app_context():
        run_worker(app, burst=burst)


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the Alembic migrations to DATABASE_URL."""
    from plugin.migrate import upgrade

    try:
        config = Config.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    upgrade(config.database_url, revision)
    click.echo(f"database at {revision}")


@cli.group()
def order() -> None:
    """Look at orders as Relais sees them."""


@order.command("show")
@click.argument("shop")
@click.argument("order_ref")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def order_show(shop: str, order_ref: str, as_json: bool) -> None:
    """Show ORDER_REF (a name like #1001, or a Shopify id) of SHOP."""
    from plugin.order_view import OrderNotFound, describe_order, render_text
    from plugin.runtime import current_runtime

    app = _app()
    with app.app_context():
        runtime = current_runtime()
        try:
            view = describe_order(runtime, shop, order_ref)
        except OrderNotFound as exc:
            raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(view, indent=2, ensure_ascii=False))
    else:
        click.echo(render_text(view))


order.add_command(sync_command)
cli.add_command(dev_command)
cli.add_command(outbox)
cli.add_command(wallet_commands)


@cli.group()
def privacy() -> None:
    """Customer data exports built for Shopify's customers/data_request."""


@privacy.command("exports")
@click.argument("shop")
@click.argument("data_request_id", required=False, type=int)
def privacy_exports(shop: str, data_request_id: int | None) -> None:
    """List SHOP's exports, or print one as JSON (to hand to the merchant)."""
    from sqlalchemy import select

    from plugin.models import DataExport, Shop
    from plugin.runtime import current_runtime

    domain = shop if "." in shop else f"{shop}.myshopify.com"
    app = _app()
    with app.app_context(), current_runtime().db.session() as session:
        query = (
            select(DataExport)
            .join(Shop, Shop.id == DataExport.shop_id)
            .where(Shop.domain == domain)
            .order_by(DataExport.id)
        )
        if data_request_id is not None:
            export = session.scalar(query.where(DataExport.data_request_id == data_request_id))
            if export is None:
                raise click.ClickException(f"no export for data request {data_request_id}")
            click.echo(json.dumps(export.content, indent=2, ensure_ascii=False))
            return
        for export in session.scalars(query):
            orders = len(export.content.get("orders", []))
            click.echo(
                f"{export.data_request_id}\t{export.created_at:%Y-%m-%d %H:%M}\t{orders} order(s)"
            )


@cli.command()
@click.option("--port", type=int, default=None, help="default $PORT or 8000")
@click.option("--no-wait", is_flag=True, help="replay the story, print it, and stop")
def demo(port: int | None, no_wait: bool) -> None:
    """Run the whole product on embedded defaults and replay a day of orders."""
    from plugin.demo import run_demo

    sys.exit(run_demo(port=port or int(os.environ.get("PORT", "8000")), wait=not no_wait))


def main() -> None:
    """Console-script entry point."""
    cli()

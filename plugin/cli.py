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
@click.option("--host", default="0.0.0.0", show_default=True)  # noqa: S104 - a server listens
def serve(workers: int, host: str) -> None:
    """Serve the web app with gunicorn on $PORT (default 8000)."""
    from plugin.server import serve_forever

    try:
        config = Config.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    serve_forever(config, host=host, workers=workers)


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

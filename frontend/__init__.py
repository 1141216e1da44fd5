"""The storefront: the shopper's tracking page (through Shopify's app proxy, or standalone),
the upsell blocks, and the theme app extension in ``extensions/``."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask


def init_app(app: Flask) -> None:
    """Register the storefront's blueprints and its static files."""
    from frontend import proxy, standalone
    from frontend.storefront import STATIC_URL_PATH

    app.register_blueprint(proxy.bp)
    app.register_blueprint(standalone.bp)
    app.register_blueprint(
        Blueprint(
            "storefront_static",
            __name__,
            static_folder=str(Path(__file__).parent / "static"),
            static_url_path=STATIC_URL_PATH,
        )
    )

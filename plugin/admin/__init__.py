"""The merchant's admin, embedded in Shopify: set-up checklist, brand, channels, messages,
upsell and feedback. Pages are server-rendered with App Bridge and Polaris web components."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Connect to Shopify (tokens, Admin API) and register the admin's pages and endpoints."""
    from plugin.admin.views import bp
    from plugin.insights import views as _insights  # noqa: F401  (the dashboard's routes)
    from plugin.shopify.connection import init_app as connect_shopify

    connect_shopify(app)
    app.register_blueprint(bp)

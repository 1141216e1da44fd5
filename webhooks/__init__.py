"""Shopify webhook intake and the handlers of each topic."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register ``POST /webhooks``."""
    from webhooks.intake import bp

    app.register_blueprint(bp)

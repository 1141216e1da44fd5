"""Shopify webhook intake and the handlers of each topic."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register ``POST /webhooks``."""
    from plugin.runtime import current_runtime
    from webhooks.intake import bp, init_intake

    app.register_blueprint(bp)
    with app.app_context():
        init_intake(app, current_runtime())

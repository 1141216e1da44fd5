"""Insights: what Relais earned the merchant. Click-counting redirect with UTM, one-tap
delivery ratings, attribution of orders, and the dashboard of the embedded admin."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the click redirect (the dashboard lives in the admin's blueprint)."""
    from plugin.insights.redirect import bp

    app.register_blueprint(bp)

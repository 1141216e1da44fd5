"""Relais: the Flask app factory lives in :mod:`plugin.factory`; this import is lazy so that
the ground floor (config, models, domain) can be imported without the web layer."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from plugin.config import Config


def create_app(config: Config | None = None) -> Flask:
    """Build the Relais WSGI app; ``config`` defaults to :meth:`Config.from_env`."""
    from plugin.factory import create_app as _create_app

    return _create_app(config)
